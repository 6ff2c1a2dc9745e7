import { patternCards, sortedLevels } from '../profiles/profiles.ts'
import type { Program } from '../program/programs.ts'
import { sql } from '../storage/sql.ts'
import { TABLES } from '../storage/tables.ts'
import type { Comparison, Condition } from '../program/rule-schema.ts'
import { DAY_MS, dayText } from '../util/days.ts'

// The batch engine of the rule language: a condition compiled to one ClickHouse query that
// selects every patient for whom it holds now. It follows the definitions at the top of
// evaluate.ts (the real-time engine) and reads the same aggregate tables a profile is assembled
// from, over all of a person's ids; property tests hold both engines to the same answer.
//
// Phases: plan (which per-person parts the condition reads, and one bound parameter per value),
// build (the fixed parts from `sql/audience-*.sql`, the per-leaf aggregate columns and the WHERE
// clause generated here). Nothing from the condition or the program is spliced into the text:
// values are `{pN:Type}` parameters, identifiers come from the allowlists below (guarantee K6).
//
// Missing values (no enrolment, never the event, no stage …) are NULL after the LEFT JOINs
// (join_use_nulls), and every leaf is coalesced to 0/1, so a leaf on something missing is false
// and `not` of it true, as in evaluate.ts.

/** A compiled audience: run `sql` with `params`; it returns one column, `person` (patient ids). */
export interface CompiledAudience {
  sql: string
  params: Record<string, unknown>
}

/** What an audience is computed for. */
export interface AudienceOptions {
  /** The time the condition is evaluated at (ms since the epoch): "today", decay and windows follow from it. */
  now: number
}

/** The profile keeps activity and decisions of the last 400 days (actor-aggregates.sql). */
const ACTIVITY_DAYS = 400

/** Per-person parts read from a fixed `sql/audience-*.sql` file, with the alias the WHERE clause uses. */
const FIXED = {
  needScores: { cte: 'need_scores', file: 'audience-need-scores', alias: 'ns' },
  patterns: { cte: 'patterns', file: 'audience-patterns', alias: 'pt' },
  levels: { cte: 'levels', file: 'audience-levels', alias: 'lv' },
  stages: { cte: 'stages', file: 'audience-stages', alias: 'st' },
  clusters: { cte: 'clusters', file: 'audience-clusters', alias: 'cl' },
} as const

/** Per-person parts whose columns are generated per leaf: one aggregate over one table, by person. */
const GENERATED = {
  activity: { cte: 'activity', table: TABLES.activityDays, alias: 'ac' },
  goals: { cte: 'goals', table: TABLES.goalConversions, alias: 'gl' },
  dates: { cte: 'dates', table: TABLES.patientDates, alias: 'dt' },
  consents: { cte: 'consents', table: TABLES.consentStates, alias: 'cs' },
  answers: { cte: 'answers', table: TABLES.questionnaireAnswers, alias: 'an' },
} as const

type FixedPart = keyof typeof FIXED
type GeneratedPart = keyof typeof GENERATED

const COMPARISONS = [
  ['gt', '>'],
  ['gte', '>='],
  ['lt', '<'],
  ['lte', '<='],
  ['eq', '='],
] as const

/** What the query needs: parts, generated columns and bound values. */
class Plan {
  readonly params: Record<string, unknown> = {}
  readonly fixed = new Set<FixedPart>()
  readonly columns = new Map<GeneratedPart, Map<string, string>>()
  #next = 0
  #nextColumn = 0

  /** A bound parameter holding `value`, as its `{pN:Type}` placeholder. */
  bind(type: string, value: unknown): string {
    const name = `p${this.#next++}`
    this.params[name] = value
    return `{${name}:${type}}`
  }

  /** A column of a fixed part, e.g. `lv.level`. */
  use(part: FixedPart, column: string): string {
    this.fixed.add(part)
    if (part === 'patterns') this.fixed.add('needScores')
    return `${FIXED[part].alias}.${column}`
  }

  /** A generated aggregate column (`t` is the part's table) of a part, deduplicated by its text. */
  column(part: GeneratedPart, aggregate: string): string {
    let cols = this.columns.get(part)
    if (!cols) this.columns.set(part, (cols = new Map()))
    let name = cols.get(aggregate)
    if (!name) cols.set(aggregate, (name = `c${this.#nextColumn++}`))
    return `${GENERATED[part].alias}.${name}`
  }
}

/**
 * Compiles a condition into a query for the patients it selects at `opts.now`.
 * @example
 * const { sql, params } = compileAudience(program, rule.when, { now: Date.now() })
 * const people = (await db.query<{ person: string }>(sql, params)).map((r) => r.person)
 */
export function compileAudience(program: Program, condition: Condition, opts: AudienceOptions): CompiledAudience {
  const plan = new Plan()
  const today = Math.floor(opts.now / DAY_MS)
  const where = compileCondition(condition, { program, plan, today })
  return { sql: buildQuery(plan, where), params: { ...fixedParams(program, plan, opts.now, today), ...plan.params } }
}

interface Scope {
  program: Program
  plan: Plan
  today: number
}

function compileCondition(c: Condition, s: Scope): string {
  if ('all' in c) return c.all.length === 0 ? '1' : `(${c.all.map((x) => compileCondition(x, s)).join(' AND ')})`
  if ('any' in c) return c.any.length === 0 ? '0' : `(${c.any.map((x) => compileCondition(x, s)).join(' OR ')})`
  if ('not' in c) return `(NOT ${compileCondition(c.not, s)})`
  return `coalesce(${compileLeaf(c, s)}, 0)`
}

/** A leaf as an expression that is 1, 0 or NULL (NULL when the value it tests is missing). */
function compileLeaf(c: Condition, s: Scope): string {
  const { plan, program, today } = s
  const str = (v: string) => plan.bind('String', v)
  const strs = (v: string[]) => plan.bind('Array(String)', v)
  const day = (d: number) => plan.bind('Date', dayText(d))
  const needIndex = (need: string) => program.needs.findIndex((n) => n.id === need)
  if ('score' in c) {
    const i = needIndex(c.need)
    // A need the program does not have scores 0 in the profile.
    const value =
      i < 0
        ? plan.bind('Float64', 0)
        : `if(length(${plan.use('needScores', 'scores')}) = 0, 0, ${plan.use('needScores', 'scores')}[${plan.bind('UInt32', i + 1)}])`
    return compare(plan, value, c.score)
  }
  if ('rankAtMost' in c) {
    const i = needIndex(c.need)
    if (i < 0) return '0'
    return `indexOf(${plan.use('needScores', 'ranked')}, ${plan.bind('UInt32', i + 1)}) BETWEEN 1 AND ${plan.bind('UInt32', c.rankAtMost)}`
  }
  if ('answer' in c) {
    const answer = plan.column(
      'answers',
      `argMaxIfOrNull(t.answer, t.ts, t.questionnaire = ${str(c.answer.questionnaire)} AND t.question = ${str(c.answer.question)})`,
    )
    return `has(${strs(c.answer.in)}, ${answer})`
  }
  if ('level' in c) return compare(plan, plan.use('levels', 'level'), c.level)
  if ('reached' in c) {
    const last = lastGoal(plan, c.goal)
    const reached = c.withinDays === undefined ? `${last} IS NOT NULL` : `${last} IS NOT NULL AND toDate(${last}, 'UTC') >= ${day(today - c.withinDays + 1)}`
    // Not reached (or not within the days) is a fact, not a missing value: compared after coalescing.
    return `coalesce(${reached}, 0) = ${plan.bind('UInt8', c.reached ? 1 : 0)}`
  }
  if ('daysSince' in c) {
    const since = c.daysSince
    let anchor: string
    if ('enrolment' in since) anchor = `coalesce(${clinicalDate(plan, 'enrolment')}, ${plan.column('activity', 'minOrNull(t.day)')})`
    else if ('event' in since) anchor = plan.column('activity', `maxIfOrNull(t.day, t.event = ${str(since.event)} AND t.day >= ${day(today - ACTIVITY_DAYS)})`)
    else if ('goal' in since) anchor = `toDate(${lastGoal(plan, since.goal)}, 'UTC')`
    else if ('date' in since) anchor = clinicalDate(plan, since.date)
    else anchor = plan.use('stages', 'entered')
    return compare(plan, `dateDiff('day', ${anchor}, ${day(today)})`, c.is)
  }
  if ('stage' in c) return `has(${strs(c.stage)}, ${plan.use('stages', 'stage')})`
  if ('touches' in c) {
    const t = c.touches
    const event = t.event === undefined ? '' : ` AND t.event = ${str(t.event)}`
    const n = plan.column('activity', `sumIf(t.times, t.channel = ${str(t.channel)} AND t.day >= ${day(today - t.withinDays + 1)}${event})`)
    return compare(plan, `coalesce(${n}, 0)`, c.count)
  }
  if ('consent' in c) return `${plan.column('consents', `argMaxIfOrNull(t.granted, t.ts, t.scope = ${str(c.consent)})`)} = 1`
  if ('pattern' in c) {
    if (program.needs.length === 0 || program.patterns.length === 0) return '0'
    return `has(${strs(c.pattern)}, ${plan.use('patterns', 'pattern')})`
  }
  if ('cluster' in c) return `has(${strs(c.cluster)}, ${plan.use('clusters', 'cluster')})`
  throw new Error(`not a condition: ${JSON.stringify(c).slice(0, 200)}`)
}

/** `value` against every bound of a comparison. */
function compare(plan: Plan, value: string, c: Comparison): string {
  const parts = COMPARISONS.filter(([k]) => c[k] !== undefined).map(([k, op]) => `${value} ${op} ${plan.bind('Float64', c[k])}`)
  return parts.length === 0 ? '1' : `(${parts.join(' AND ')})`
}

/** The last time a goal was reached (NULL: never). */
const lastGoal = (plan: Plan, goal: string) => plan.column('goals', `maxIfOrNull(t.last_ts, t.goal = ${plan.bind('String', goal)})`)

/** The latest value of a clinical date (NULL: none). */
const clinicalDate = (plan: Plan, name: string) => plan.column('dates', `argMaxIfOrNull(t.value, t.ts, t.name = ${plan.bind('String', name)})`)

/** A fixed part's SQL without its comment lines (they document the file, not the query). */
const fragment = (file: string) =>
  sql(file)
    .replace(/^\s*--.*$/gm, '')
    .replace(/\n{2,}/g, '\n')
    .trim()

/** The query: fixed parts in order, generated parts, every part LEFT JOINed to the patients. */
function buildQuery(plan: Plan, where: string): string {
  const ctes = [`persons AS (\n${fragment('audience-persons')}\n)`, `person_ids AS (\n${fragment('audience-person-ids')}\n)`]
  const joins: string[] = []
  for (const part of Object.keys(FIXED) as FixedPart[]) {
    if (!plan.fixed.has(part)) continue
    const f = FIXED[part]
    ctes.push(`${f.cte} AS (\n${fragment(f.file)}\n)`)
    joins.push(`LEFT JOIN ${f.cte} AS ${f.alias} ON ${f.alias}.person = p.person`)
  }
  for (const part of Object.keys(GENERATED) as GeneratedPart[]) {
    const cols = plan.columns.get(part)
    if (!cols) continue
    const g = GENERATED[part]
    const select = [...cols].map(([aggregate, name]) => `${aggregate} AS ${name}`).join(',\n       ')
    ctes.push(
      `${g.cte} AS (\nSELECT ids.person AS person,\n       ${select}\nFROM ${g.table} AS t\nINNER JOIN person_ids AS ids ON t.actor_id = ids.actor\nWHERE t.program = {program:String}\nGROUP BY ids.person\n)`,
    )
    joins.push(`LEFT JOIN ${g.cte} AS ${g.alias} ON ${g.alias}.person = p.person`)
  }
  return `WITH\n${ctes.join(',\n')}\nSELECT p.person AS person\nFROM persons AS p\n${joins.join('\n')}${joins.length ? '\n' : ''}WHERE ${where}\nORDER BY person\nSETTINGS join_use_nulls = 1`
}

/** The program's settings the fixed parts read, for the parts the plan uses. */
function fixedParams(program: Program, plan: Plan, now: number, today: number): Record<string, unknown> {
  const p: Record<string, unknown> = { program: program.id }
  if (plan.fixed.has('needScores')) {
    const weights = program.questionnaires.flatMap((q) =>
      q.questions.flatMap((question) =>
        question.answers.flatMap((a) => Object.entries(a.needs).map(([need, w]) => [q.id, question.id, a.id, need, w] as const)),
      ),
    )
    Object.assign(p, {
      now_ms: now,
      half_life_days: program.needHalfLifeDays,
      needs: program.needs.map((n) => n.id),
      answer_questionnaires: weights.map((w) => w[0]),
      answer_questions: weights.map((w) => w[1]),
      answer_ids: weights.map((w) => w[2]),
      answer_needs: weights.map((w) => w[3]),
      answer_weights: weights.map((w) => w[4]),
    })
  }
  if (plan.fixed.has('patterns')) {
    const { cards } = patternCards(program)
    Object.assign(p, {
      pattern_min_touches: program.patternMinTouches,
      pattern_ids: cards.map((x) => x.id),
      pattern_cards: cards.map((x) => x.scaled),
    })
  }
  if (plan.fixed.has('levels')) {
    const levels = sortedLevels(program)
    const unlocking = program.rules.flatMap((r) => (r.action.type === 'unlock_level' ? [[r.id, r.action.level] as const] : []))
    Object.assign(p, {
      goal_ids: program.goals.map((g) => g.id),
      goal_points: program.goals.map((g) => g.points),
      goal_once: program.goals.map((g) => (g.countOnce ? 1 : 0)),
      level_ids: levels.map((l) => l.level),
      level_mins: levels.map((l) => l.minValue),
      unlock_rules: unlocking.map((u) => u[0]),
      unlock_levels: unlocking.map((u) => u[1]),
      activity_since: dayText(today - ACTIVITY_DAYS),
    })
  }
  return p
}
