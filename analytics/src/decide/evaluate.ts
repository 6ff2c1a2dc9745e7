import type { Profile } from '../profiles/profiles.ts'
import type { Program } from '../program/programs.ts'
import type { Comparison, Condition, Since } from '../program/rule-schema.ts'
import { DAY_MS, dayNumber, dayText, utcDayNumber } from '../util/days.ts'

// The real-time engine of the rule language: a condition over one profile, with the value each
// leaf was tested on (the explanation). compile-sql.ts is the batch engine; both follow the
// definitions below, and property tests hold them to it.
//
// Definitions (the same in SQL):
// - days are UTC days; "today" is the UTC day of `now`; "within N days" is the last N days, today included;
// - a need's score is the one the profile uses (explicit when answered, else inferred); its rank
//   counts only needs scoring above 0, explicit first, then by score, ties in the program's order;
// - the level is the one reached by points, or higher when a shown unlock_level rule raised it;
// - a condition on something the person does not have (no enrolment, never the event, no such
//   date, no stage) is false, and `not` of it true.

/** What a condition is evaluated on. */
export interface EvaluationInput {
  program: Program
  profile: Profile
  /** The person's cluster in the latest clustering, if any. */
  cluster: string | null
  now: number
}

/** A condition's outcome, the value it saw, and its parts' for all/any/not. */
export interface ConditionTrace {
  /** The condition as written in the rule. */
  condition: Condition
  result: boolean
  /** The profile value the leaf was tested on (null: the person has none). */
  value?: unknown
  parts?: ConditionTrace[]
}

/** Whether a number meets every bound of a comparison. */
export function compare(value: number, c: Comparison): boolean {
  return (
    (c.gt === undefined || value > c.gt) &&
    (c.gte === undefined || value >= c.gte) &&
    (c.lt === undefined || value < c.lt) &&
    (c.lte === undefined || value <= c.lte) &&
    (c.eq === undefined || value === c.eq)
  )
}

const unlockCache = new WeakMap<Program, Map<string, number>>()
/** The program's unlock_level rules and the level each raises to (per program document, kept). */
function unlockLevels(program: Program): Map<string, number> {
  let m = unlockCache.get(program)
  if (!m) unlockCache.set(program, (m = new Map(program.rules.flatMap((r) => (r.action.type === 'unlock_level' ? [[r.id, r.action.level] as const] : [])))))
  return m
}

/** The person's level: by points, raised by unlock_level rules shown to them. */
export function effectiveLevel(program: Program, profile: Profile): number {
  let level = profile.engagement.level?.level ?? 0
  const unlocking = unlockLevels(program)
  for (const d of profile.decisions) if (d.outcome === 'shown' && unlocking.has(d.rule)) level = Math.max(level, unlocking.get(d.rule)!)
  return level
}

/** The rank of a need (1 = first), or null when it scores 0 or less. */
export function needRank(profile: Profile, need: string): number | null {
  const scored = profile.needs.filter((n) => n.score > 0)
  const i = scored.findIndex((n) => n.need === need)
  return i < 0 ? null : i + 1
}

/** The UTC day number of a "days since" anchor, or null when the person has none. */
export function anchorDay(profile: Profile, since: Since): number | null {
  if ('enrolment' in since) return profile.enrolledAt ? dayNumber(profile.enrolledAt) : null
  if ('event' in since) {
    let last: string | null = null
    for (const a of profile.activity) if (a.event === since.event && (last === null || a.day > last)) last = a.day
    return last === null ? null : dayNumber(last)
  }
  if ('goal' in since) {
    const g = profile.goals.find((x) => x.goal === since.goal)
    return g ? dayNumber(g.lastAt) : null
  }
  if ('date' in since) return profile.dates[since.date] ? dayNumber(profile.dates[since.date]!) : null
  return profile.stage ? dayNumber(profile.stage.enteredAt) : null
}

/** A leaf's trace. (Not a closure inside `evaluate`: the TypeScript loader names every named closure as it is made, which cost 5% of a decision.) */
function traced(condition: Condition, result: boolean, value: unknown): ConditionTrace {
  return { condition, result, value }
}

/** Evaluates a condition on a profile, with the value each leaf saw. */
export function evaluate(condition: Condition, input: EvaluationInput): ConditionTrace {
  const { profile, now } = input
  const today = utcDayNumber(now)
  const c = condition
  if ('all' in c) {
    const parts = c.all.map((x) => evaluate(x, input))
    return { condition, result: parts.every((p) => p.result), parts }
  }
  if ('any' in c) {
    const parts = c.any.map((x) => evaluate(x, input))
    return { condition, result: parts.some((p) => p.result), parts }
  }
  if ('not' in c) {
    const part = evaluate(c.not, input)
    return { condition, result: !part.result, parts: [part] }
  }
  if ('score' in c) {
    const score = profile.needs.find((n) => n.need === c.need)?.score ?? 0
    return traced(condition, compare(score, c.score), score)
  }
  if ('rankAtMost' in c) {
    const rank = needRank(profile, c.need)
    return traced(condition, rank !== null && rank <= c.rankAtMost, rank)
  }
  if ('answer' in c) {
    const a = profile.answers.find((x) => x.questionnaire === c.answer.questionnaire && x.question === c.answer.question)?.answer ?? null
    return traced(condition, a !== null && c.answer.in.includes(a), a)
  }
  if ('level' in c) {
    const level = effectiveLevel(input.program, profile)
    return traced(condition, compare(level, c.level), level)
  }
  if ('reached' in c) {
    const g = profile.goals.find((x) => x.goal === c.goal)
    const last = g ? Date.parse(`${g.lastAt.replace(' ', 'T')}Z`) : null
    const reached = last !== null && (c.withinDays === undefined || Math.floor(last / DAY_MS) >= today - c.withinDays + 1)
    return traced(condition, reached === c.reached, g ? g.lastAt : null)
  }
  if ('daysSince' in c) {
    const day = anchorDay(profile, c.daysSince)
    const n = day === null ? null : today - day
    return traced(condition, n !== null && compare(n, c.is), n)
  }
  if ('stage' in c) {
    const stage = profile.stage?.id ?? null
    return traced(condition, stage !== null && c.stage.includes(stage), stage)
  }
  if ('touches' in c) {
    const from = dayText(today - c.touches.withinDays + 1)
    let n = 0
    for (const a of profile.activity)
      if (a.day >= from && a.channel === c.touches.channel && (c.touches.event === undefined || a.event === c.touches.event)) n += a.times
    return traced(condition, compare(n, c.count), n)
  }
  if ('consent' in c) {
    const granted = profile.consent[c.consent]?.granted ?? null
    return traced(condition, granted === true, granted)
  }
  if ('pattern' in c) {
    const id = profile.pattern?.id ?? null
    return traced(condition, id !== null && c.pattern.includes(id), id)
  }
  const cluster = input.cluster
  return traced(condition, cluster !== null && c.cluster.includes(cluster), cluster)
}
