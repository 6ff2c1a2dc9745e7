import { nextTurn } from '../util/next-turn.ts'
import type { Db } from '../storage/client.ts'
import { isContentUsable } from '../program/content-availability.ts'
import { chTime } from '../storage/event-row.ts'
import type { Program } from '../program/programs.ts'
import { sql } from '../storage/sql.ts'
import { localDay, localDayNumber } from '../util/zone-time.ts'
import { DAY_MS } from '../util/days.ts'

/** One need in a profile: the score used (explicit when the person answered about it), and both sources. */
export interface NeedScore {
  need: string
  name: string
  source: 'explicit' | 'inferred'
  score: number
  /** From questionnaire answers (−1..1 per answer, summed), or null when no answer touches this need. */
  explicit: number | null
  /** From content shown, decayed by age with the program's half-life. */
  inferred: number
  /** Touches that carried this need. */
  touches: number
}

/** What Attune knows of one patient in one program (the needs part of the profile). */
export interface Profile {
  program: string
  patientId: string
  /** The time the decayed scores, levels and adherence are computed for (ISO 8601). */
  asOf: string
  /** Every id resolved to this person: the patient id first, then linked anonymous ids. */
  ids: string[]
  /** Explicit needs first (highest first), then inferred ones (highest first). */
  needs: NeedScore[]
  answers: Array<{ questionnaire: string; question: string; answer: string; answeredAt: string }>
  channels: Array<{ channel: string; touches: number; lastTouch: string }>
  goals: Array<{ goal: string; name: string; times: number; points: number; firstAt: string; lastAt: string }>
  engagement: {
    /** Goal points: each goal's points once if it counts once, else per time reached. */
    value: number
    level: { level: number; name: string } | null
    next: { level: number; name: string; minValue: number; toGo: number } | null
    /** Content and questionnaires of the levels reached; content only while approved for the program's market. */
    unlocked: { content: string[]; questionnaires: string[] }
  }
  /** The nearest pattern card, once the person has `patternMinTouches` profiled touches. */
  pattern: { id: string; name: string; distance: number } | null
  profiledTouches: number
  /**
   * Check-ins (the program's adherence goal) against the reminder schedule, from the first
   * check-in in the window: `rate` = periods with a check-in ÷ periods due; `streak` = periods in
   * a row with one, counted back from the current period (or the one before, while the current
   * is still open). Null without an adherence goal or a check-in in the window.
   */
  adherence: { rate: number; streak: number; periodsDue: number; periodsWithCheckin: number; lastCheckin: string } | null
  /**
   * The latest consent record per scope (a channel, or `analytics` / `web` personalisation), from
   * `consent_updated` events. A scope without a record has no consent: nothing is sent on it.
   */
  consent: Record<string, { granted: boolean; at: string }>
  /** The enrolment day (YYYY-MM-DD): the record's `enrolment` date, else the first day with activity; null for nobody. */
  enrolledAt: string | null
  /** Clinical dates the patient's record carries (identify `traits.dates`), by name. */
  dates: Record<string, string>
  /** The dialogue-plan stage and when it was entered (it changes only through the plan). */
  stage: { id: string; enteredAt: string } | null
  /** The patient's touches per day, channel and event over the last 400 days (Attune's own events excluded). */
  activity: Array<{ day: string; channel: string; event: string; times: number }>
  /** Decisions per day, rule, channel and outcome over the last 400 days. */
  decisions: Array<{ day: string; rule: string; channel: string; outcome: string; times: number; lastAt: string }>
}

/** Every id of one person: the patient id first, then the anonymous ids linked to it. */
async function personIds(db: Db, program: string, patientId: string): Promise<string[]> {
  const linked = await db.query<{ id: string }>(sql('profile-ids'), { program, patient: patientId })
  return [
    patientId,
    ...linked
      .map((r) => r.id)
      .filter((id) => id !== patientId)
      .sort(),
  ]
}

/** The patient an id is linked to (the one linked last when several), or null; from ClickHouse, for when profiles are not kept in memory. */
export async function linkedPatient(db: Db, program: string, id: string): Promise<string | null> {
  const rows = await db.query<{ user_id: string }>(sql('linked-patient'), { program, id })
  return rows[0]?.user_id || null
}

/**
 * What the aggregate tables hold for one id (actor) of a person. Inferred need sums are relative
 * to an anchor time (see actor-aggregates.sql): rescaled by 2^((anchor - now) / half-life) they
 * give the decayed score at `now`.
 */
export interface ActorAggregates {
  needs: Map<string, { sum: number; touches: number }>
  /** Latest answer per `questionnaire\tquestion`. */
  answers: Map<string, { answer: string; ts: string }>
  channels: Map<string, { touches: number; last: string }>
  goals: Map<string, { times: number; first: string; last: string }>
  profiled: number
  /** Latest consent record per scope. */
  consent: Map<string, { granted: boolean; at: string }>
  /** Touches per day, channel and event (the last 400 days), in `compareActivity` order. */
  activity: ActivityRow[]
  /** The first day with activity ('' for none). */
  firstDay: string
  /** Decisions per day, rule, channel and outcome (the last 400 days) with the last one's time, in `compareDecisions` order. */
  decisions: DecisionRow[]
  /** The latest dialogue-plan stage, or null. */
  stage: { id: string; at: string } | null
  /** Clinical dates by name, the latest record of each. */
  dates: Map<string, { value: string; at: string }>
  /** Hours (Unix seconds) with a check-in of the program's adherence goal, ascending. */
  checkinHours: number[]
}

/** A profile's touches of one day, channel and event. */
export type ActivityRow = Profile['activity'][number]
/** A profile's decisions of one day, rule, channel and outcome. */
export type DecisionRow = Profile['decisions'][number]

// Code-point order, not localeCompare: rows are sorted and merged on every profile read, and ICU
// collation cost more than the rest of the merge.
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
/** The order of `activity`: day, channel, event. */
export const compareActivity = (x: ActivityRow, y: ActivityRow) => cmp(x.day, y.day) || cmp(x.channel, y.channel) || cmp(x.event, y.event)
/** The order of `decisions`: day, rule, channel, outcome. */
export const compareDecisions = (x: DecisionRow, y: DecisionRow) =>
  cmp(x.day, y.day) || cmp(x.rule, y.rule) || cmp(x.channel, y.channel) || cmp(x.outcome, y.outcome)

/** Two lists sorted by `compare` as one, rows of the same key added up by `add`; the inputs are not changed. */
function mergeSorted<T>(a: T[], b: T[], compare: (x: T, y: T) => number, add: (x: T, y: T) => T): T[] {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const out: T[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const c = compare(a[i]!, b[j]!)
    if (c < 0) out.push(a[i++]!)
    else if (c > 0) out.push(b[j++]!)
    else out.push(add(a[i++]!, b[j++]!))
  }
  while (i < a.length) out.push(a[i++]!)
  while (j < b.length) out.push(b[j++]!)
  return out
}

/** The rows from `day` on of a list sorted by day first. */
function fromDay<T extends { day: string }>(rows: T[], day: string): T[] {
  let i = 0
  while (i < rows.length && rows[i]!.day < day) i++
  return i === 0 ? rows : rows.slice(i)
}

/** The settings that change what the aggregates of a program mean: a change needs them read again. */
export function aggregateSignature(program: Program): string {
  return `${program.needHalfLifeDays}|${program.adherence?.goal ?? ''}|${program.adherence?.windowDays ?? 0}`
}

/** Which ids to read: these ids, or one page of all the program's ids (hashed into `pages`). */
export type ActorSelection = { ids: string[] } | { page: number; pages: number }

const ROWS_PER_TURN = 10_000

/**
 * Reads the aggregates of the selected ids (actor-aggregates.sql), need sums relative to `anchor`.
 * Check-ins come from `now` minus the adherence window on.
 */
export async function readActorAggregates(
  db: Db,
  program: Program,
  selection: ActorSelection,
  anchor: number,
  now: number,
): Promise<Map<string, ActorAggregates>> {
  const all = 'ids' in selection ? 0 : 1
  const rows = await db.query<{ actor: string; part: string; a: string; b: string; num: number; num2: number; ts: string }>(sql('actor-aggregates'), {
    program: program.id,
    ids: 'ids' in selection ? selection.ids : [],
    all,
    pages: 'ids' in selection ? 1 : selection.pages,
    page: 'ids' in selection ? 0 : selection.page,
    anchor: chTime(anchor),
    clamp: chTime(now),
    half_life_days: program.needHalfLifeDays,
    // Without an adherence goal no event is a check-in, and the window is empty.
    checkin_goal: program.adherence?.goal ?? '',
    checkin_since: chTime(now - (program.adherence?.windowDays ?? 0) * DAY_MS),
  })
  const out = new Map<string, ActorAggregates>()
  let n = 0
  for (const r of rows) {
    // A page of a program's load holds millions of rows: the event loop turns between slices of them.
    if (++n % ROWS_PER_TURN === 0) await nextTurn()
    let agg = out.get(r.actor)
    if (!agg) out.set(r.actor, (agg = emptyAggregates()))
    switch (r.part) {
      case 'need':
        agg.needs.set(r.a, { sum: Number(r.num), touches: Number(r.num2) })
        break
      case 'answer':
        agg.answers.set(r.a, { answer: r.b, ts: r.ts })
        break
      case 'channel':
        agg.channels.set(r.a, { touches: Number(r.num), last: r.ts })
        break
      case 'goal':
        agg.goals.set(r.a, { times: Number(r.num), first: r.b, last: r.ts })
        break
      case 'profiled':
        agg.profiled = Number(r.num)
        break
      case 'activity': {
        const [day, channel, event] = r.a.split('\t') as [string, string, string]
        agg.activity.push({ day, channel, event, times: Number(r.num) })
        break
      }
      case 'first':
        agg.firstDay = r.a
        break
      case 'decision': {
        const [day, rule, channel, outcome] = r.a.split('\t') as [string, string, string, string]
        agg.decisions.push({ day, rule, channel, outcome, times: Number(r.num), lastAt: r.ts })
        break
      }
      case 'stage':
        agg.stage = { id: r.a, at: r.ts }
        break
      case 'date':
        agg.dates.set(r.a, { value: r.b, at: r.ts })
        break
      case 'consent':
        agg.consent.set(r.a, { granted: r.b === '1', at: r.ts })
        break
      case 'checkin':
        agg.checkinHours = r.b === '' ? [] : r.b.split(',').map(Number)
        break
    }
  }
  for (const agg of out.values()) {
    agg.activity.sort(compareActivity)
    agg.decisions.sort(compareDecisions)
  }
  return out
}

/** Aggregates of nobody. */
export function emptyAggregates(): ActorAggregates {
  return {
    needs: new Map(),
    answers: new Map(),
    channels: new Map(),
    goals: new Map(),
    profiled: 0,
    consent: new Map(),
    activity: [],
    firstDay: '',
    decisions: [],
    stage: null,
    dates: new Map(),
    checkinHours: [],
  }
}

/** One person's aggregates from those of their ids: sums add up, the latest answer per question wins. */
export function mergeAggregates(parts: ActorAggregates[]): ActorAggregates {
  if (parts.length === 1) return parts[0]!
  const m = emptyAggregates()
  const hours = new Set<number>()
  for (const p of parts) {
    for (const [k, v] of p.needs) {
      const x = m.needs.get(k)
      m.needs.set(k, x ? { sum: x.sum + v.sum, touches: x.touches + v.touches } : v)
    }
    for (const [k, v] of p.answers) {
      const x = m.answers.get(k)
      if (!x || v.ts > x.ts) m.answers.set(k, v)
    }
    for (const [k, v] of p.channels) {
      const x = m.channels.get(k)
      m.channels.set(k, x ? { touches: x.touches + v.touches, last: v.last > x.last ? v.last : x.last } : v)
    }
    for (const [k, v] of p.goals) {
      const x = m.goals.get(k)
      m.goals.set(k, x ? { times: x.times + v.times, first: v.first < x.first ? v.first : x.first, last: v.last > x.last ? v.last : x.last } : v)
    }
    m.profiled += p.profiled
    for (const [k, v] of p.consent) {
      const x = m.consent.get(k)
      if (!x || v.at > x.at) m.consent.set(k, v)
    }
    for (const h of p.checkinHours) hours.add(h)
    m.activity = mergeSorted(m.activity, p.activity, compareActivity, (x, y) => ({ ...x, times: x.times + y.times }))
    if (p.firstDay !== '' && (m.firstDay === '' || p.firstDay < m.firstDay)) m.firstDay = p.firstDay
    m.decisions = mergeSorted(m.decisions, p.decisions, compareDecisions, (x, y) => ({
      ...x,
      times: x.times + y.times,
      lastAt: y.lastAt > x.lastAt ? y.lastAt : x.lastAt,
    }))
    if (p.stage && (!m.stage || p.stage.at > m.stage.at)) m.stage = p.stage
    for (const [k, v] of p.dates) {
      const x = m.dates.get(k)
      if (!x || v.at > x.at) m.dates.set(k, v)
    }
  }
  m.checkinHours = [...hours].sort((a, b) => a - b)
  return m
}

/**
 * Reads a patient's profile from the aggregate tables (never from raw events): the person's ids,
 * inferred needs decayed at `now`, the latest questionnaire answers mapped to needs through the
 * program's questionnaires, and touches per channel. The profile store answers the same from memory.
 */
export async function readProfile(db: Db, program: Program, patientId: string, now = Date.now()): Promise<Profile> {
  const ids = await personIds(db, program.id, patientId)
  const byActor = await readActorAggregates(db, program, { ids }, now, now)
  return assembleProfile(program, patientId, ids, mergeAggregates(ids.map((id) => byActor.get(id) ?? emptyAggregates())), now, now)
}

/** A profile from a person's ids and their merged aggregates (need sums relative to `anchor`), as of `now`. */
export function assembleProfile(program: Program, patientId: string, ids: string[], agg: ActorAggregates, anchor: number, now: number): Profile {
  const halfLifeMs = program.needHalfLifeDays * DAY_MS
  const oldestDay = new Date(Math.floor(now / DAY_MS) * DAY_MS - 400 * DAY_MS).toISOString().slice(0, 10)
  const rescale = 2 ** ((anchor - now) / halfLifeMs)
  const answers = [...agg.answers]
    .map(([k, v]) => ({ questionnaire: k.split('\t')[0]!, question: k.split('\t')[1]!, answer: v.answer, answeredAt: v.ts }))
    .sort((x, y) => x.questionnaire.localeCompare(y.questionnaire) || x.question.localeCompare(y.question))
  const explicit = new Map<string, number>()
  for (const a of answers) {
    const question = program.questionnaires?.find((q) => q.id === a.questionnaire)?.questions.find((q) => q.id === a.question)
    const weights = question?.answers.find((x) => x.id === a.answer)?.needs ?? {}
    for (const [need, w] of Object.entries(weights)) explicit.set(need, (explicit.get(need) ?? 0) + w)
  }
  const needs: NeedScore[] = (program.needs ?? []).map((n) => {
    const inf = agg.needs.get(n.id)
    const exp = explicit.has(n.id) ? explicit.get(n.id)! : null
    const inferredScore = inf ? inf.sum * rescale : 0
    return {
      need: n.id,
      name: n.name,
      source: exp === null ? 'inferred' : 'explicit',
      score: exp ?? inferredScore,
      explicit: exp,
      inferred: inferredScore,
      touches: inf?.touches ?? 0,
    }
  })
  needs.sort((a, b) => (a.source === b.source ? b.score - a.score : a.source === 'explicit' ? -1 : 1))
  const reached = [...agg.goals]
    .map(([goal, g]) => {
      const def = program.goals?.find((x) => x.id === goal)
      return { goal, name: def?.name ?? goal, times: g.times, points: def ? def.points * (def.countOnce ? 1 : g.times) : 0, firstAt: g.first, lastAt: g.last }
    })
    .sort((x, y) => cmp(x.firstAt, y.firstAt))
  const checkin = program.adherence
  const since = (now - (checkin?.windowDays ?? 0) * DAY_MS) / 1000
  // Local day numbers of the check-ins (one per hour with a check-in, ~200 a profile), deduplicated in order.
  const checkinDays: number[] = []
  for (const h of agg.checkinHours) {
    if (h < since) continue
    const d = localDayNumber(h * 1000, program.timeZone)
    if (checkinDays.length === 0 || checkinDays.at(-1)! < d) checkinDays.push(d)
    else if (!checkinDays.includes(d))
      checkinDays.splice(
        checkinDays.findIndex((x) => x > d),
        0,
        d,
      )
  }
  return {
    program: program.id,
    patientId,
    asOf: new Date(now).toISOString(),
    ids,
    needs,
    answers,
    channels: [...agg.channels].map(([channel, c]) => ({ channel, touches: c.touches, lastTouch: c.last })).sort((x, y) => cmp(y.lastTouch, x.lastTouch)),
    goals: reached,
    engagement: engagement(
      program,
      reached.reduce((s, g) => s + g.points, 0),
      now,
    ),
    pattern: agg.profiled >= program.patternMinTouches ? nearestPattern(program, needs) : null,
    profiledTouches: agg.profiled,
    adherence: checkin ? adherenceOfDays(checkinDays, localDayNumber(now, program.timeZone), checkin.everyDays) : null,
    consent: Object.fromEntries([...agg.consent].sort(([a], [b]) => a.localeCompare(b))),
    enrolledAt: agg.dates.get('enrolment')?.value ?? (agg.firstDay || null),
    dates: Object.fromEntries([...agg.dates].map(([k, v]) => [k, v.value]).sort(([a], [b]) => a!.localeCompare(b!))),
    stage: agg.stage && { id: agg.stage.id, enteredAt: agg.stage.at },
    // The last 400 days as of `now` (the store may hold rows read days ago).
    activity: fromDay(agg.activity, oldestDay),
    decisions: fromDay(agg.decisions, oldestDay),
  }
}

/**
 * Rate and streak from the days with a check-in (YYYY-MM-DD, ascending), today and the schedule:
 * periods of `everyDays` days run from the first check-in.
 */
export function adherenceOf(days: string[], today: string, everyDays: number): Profile['adherence'] {
  const dayNo = (d: string) => Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS)
  return adherenceOfDays(days.map(dayNo), dayNo(today), everyDays)
}

/** `adherenceOf` over day numbers (days since 1970-01-01), ascending. */
function adherenceOfDays(days: number[], today: number, everyDays: number): Profile['adherence'] {
  if (days.length === 0) return null
  const first = days[0]!
  const current = Math.floor((today - first) / everyDays)
  const withCheckin = new Set(days.map((d) => Math.floor((d - first) / everyDays)))
  let p = withCheckin.has(current) ? current : current - 1
  let streak = 0
  while (p >= 0 && withCheckin.has(p)) {
    streak++
    p--
  }
  // The current period counts as due only once it has a check-in (it is still open).
  const periodsDue = withCheckin.has(current) ? current + 1 : Math.max(1, current)
  const periodsWithCheckin = [...withCheckin].filter((x) => x <= current).length
  return {
    rate: Math.round((periodsWithCheckin / periodsDue) * 1000) / 1000,
    streak,
    periodsDue,
    periodsWithCheckin,
    lastCheckin: new Date(days.at(-1)! * DAY_MS).toISOString().slice(0, 10),
  }
}

/**
 * Engagement value to level: the highest level whose `minValue` the value reaches. Goal points are
 * never negative and do not decay, so the value only grows and a level is never left; `dropBelow`
 * (hysteresis) matters once values can fall, and is honoured by {@link levelWithHysteresis}.
 */
function engagement(program: Program, value: number, now: number): Profile['engagement'] {
  const levels = sortedLevels(program)
  const reachedLevel = levelWithHysteresis(program, null, value)
  const current = levels.find((l) => l.level === reachedLevel) ?? null
  const next = levels.find((l) => l.level === (current ? current.level + 1 : 0)) ?? null
  return {
    value,
    level: current && { level: current.level, name: current.name },
    next: next && { level: next.level, name: next.name, minValue: next.minValue, toGo: Math.max(0, next.minValue - value) },
    unlocked: unlockedAt(program, current?.level ?? null, now),
  }
}

type Level = NonNullable<Program['levels']>[number]
const levelsOf = new WeakMap<Program, Level[]>()
/** The program's levels, lowest first (sorted once per program document). */
export function sortedLevels(program: Program): Level[] {
  let levels = levelsOf.get(program)
  if (!levels) levelsOf.set(program, (levels = [...(program.levels ?? [])].sort((a, b) => a.level - b.level)))
  return levels
}

const unlockedOf = new WeakMap<Program, Map<string, Profile['engagement']['unlocked']>>()
/**
 * Content and questionnaires unlocked at a level on the program's local day, worked out once per
 * program, level and day and shared by every profile (frozen): computing them per profile was a
 * tenth of what a decision allocated.
 */
function unlockedAt(program: Program, level: number | null, now: number): Profile['engagement']['unlocked'] {
  const day = localDay(now, program.timeZone ?? 'UTC')
  let byKey = unlockedOf.get(program)
  if (!byKey) unlockedOf.set(program, (byKey = new Map()))
  const key = `${level}|${day}`
  let unlocked = byKey.get(key)
  if (unlocked) return unlocked
  // One day's entries at a time: yesterday's are never asked for again.
  for (const k of byKey.keys()) if (!k.endsWith(`|${day}`)) byKey.delete(k)
  const at = { market: program.market, now: new Date(now), timeZone: program.timeZone }
  const reachedLevels = level === null ? [] : sortedLevels(program).filter((l) => l.level <= level)
  unlocked = Object.freeze({
    content: Object.freeze((program.content ?? []).filter((c) => level !== null && c.level <= level && isContentUsable(c, at)).map((c) => c.id)) as string[],
    questionnaires: Object.freeze([
      ...new Set(
        reachedLevels
          .flatMap((l) => l.unlocks?.questionnaires ?? [])
          .concat((program.questionnaires ?? []).filter((q) => level !== null && q.availableAtLevel <= level).map((q) => q.id)),
      ),
    ]) as string[],
  })
  byKey.set(key, unlocked)
  return unlocked
}

/**
 * The level after a value change, with hysteresis: a person at `previous` stays there until the
 * value falls below its `dropBelow`, and rises to the highest level whose `minValue` is reached.
 */
export function levelWithHysteresis(program: Program, previous: number | null, value: number): number | null {
  const levels = sortedLevels(program)
  let level: number | null = null
  for (const l of levels) if (value >= l.minValue) level = l.level
  if (previous !== null && (level === null || level < previous)) {
    // Hold each level from the previous one down while the value stays at or above its dropBelow.
    for (let l = previous; l >= 0; l--) {
      const def = levels.find((x) => x.level === l)
      if (def && value >= def.dropBelow) {
        level = Math.max(level ?? -1, l)
        break
      }
    }
  }
  return level
}

/**
 * Sitecore-style pattern matching with Attune's decay: the person's need vector (scores used in
 * the profile, explicit or inferred) and each pattern card's are scaled to a maximum of 1, and
 * the nearest card by Euclidean distance wins.
 */
function nearestPattern(program: Program, needs: NeedScore[]): Profile['pattern'] {
  const { ids, cards } = patternCards(program)
  const mine = scaledVector(ids.map((id) => needs.find((n) => n.need === id)?.score ?? 0))
  if (mine.every((x) => x === 0)) return null
  // The nearest by the exact distance (the first card on a tie); only the distance shown is rounded.
  let best: { id: string; name: string } | null = null
  let bestDistance = Infinity
  for (const card of cards) {
    let sum = 0
    for (let i = 0; i < mine.length; i++) sum += (card.scaled[i]! - mine[i]!) ** 2
    const distance = Math.sqrt(sum)
    if (distance < bestDistance) {
      best = card
      bestDistance = distance
    }
  }
  return best && { id: best.id, name: best.name, distance: Math.round(bestDistance * 1e6) / 1e6 }
}

/** A vector scaled to a maximum of 1 (negative parts as 0). */
function scaledVector(v: number[]): number[] {
  let max = 0
  for (const x of v) if (x > max) max = x
  return v.map((x) => (max > 0 ? Math.max(0, x) / max : 0))
}

const cardsOf = new WeakMap<Program, { ids: string[]; cards: Array<{ id: string; name: string; scaled: number[] }> }>()
/** The program's need ids and its pattern cards' scaled vectors, worked out once per program document (the SQL engine binds the same vectors). */
export function patternCards(program: Program): { ids: string[]; cards: Array<{ id: string; name: string; scaled: number[] }> } {
  let c = cardsOf.get(program)
  if (!c) {
    const ids = (program.needs ?? []).map((n) => n.id)
    c = { ids, cards: (program.patterns ?? []).map((p) => ({ id: p.id, name: p.name, scaled: scaledVector(ids.map((id) => p.needs[id] ?? 0)) })) }
    cardsOf.set(program, c)
  }
  return c
}

/** One touch point on a person's timeline. */
export interface TimelineEntry {
  ts: string
  type: string
  event: string
  channel: string
  page_path: string
  utm_campaign: string
  content_ids: string[]
  goal_ids: string[]
  properties: string
  user_id: string
  anonymous_id: string
}

/** Every touch point of a patient (all their linked ids) across channels, oldest first, within `days`. */
export async function readTimeline(
  db: Db,
  program: Program,
  patientId: string,
  opts: { days?: number; limit?: number; now?: number } = {},
): Promise<{ ids: string[]; entries: TimelineEntry[] }> {
  const ids = await personIds(db, program.id, patientId)
  const since = chTime((opts.now ?? Date.now()) - (opts.days ?? 90) * DAY_MS)
  const entries = await db.query<TimelineEntry>(sql('profile-timeline'), { program: program.id, ids, since, limit: opts.limit ?? 1000 })
  return { ids, entries }
}
