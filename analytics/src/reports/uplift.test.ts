// The uplift report on the embedded engine, against an independent computation here from the
// events as generated: a few hundred synthetic patients whose rule decisions follow the real
// holdout assignment, with a known true effect (treated reach the outcome goal with p = 0.5, held
// out with p = 0.3), browsers identified only after the window, goals under linked anonymous ids,
// bots, decisions and goals outside the window, people in both groups, a rule too small to report
// (suppressed), the program holdout, the adherence variant (goal on at least N days) and EXPLAIN.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir } from '../../../test/temp-dir.ts'
import { createDb, type Db } from '../storage/client.ts'
import { blankEventRow, chTime, encodeEventRow } from '../storage/event-row.ts'
import { insertEventLines } from '../storage/events.ts'
import { migrate } from '../storage/migrate.ts'
import { programSchema, type Program } from '../program/programs.ts'
import { hash32, Random, seedOf } from '../util/random.ts'
import { sql } from '../storage/sql.ts'
import { inRuleHoldout } from '../decide/holdout.ts'
import type { UpliftComparison } from './uplift-stats.ts'
import { upliftReport } from './uplift.ts'
import { DAY_MS } from '../util/days.ts'

const NOW = Date.parse('2026-11-23T12:00:00.000Z')
const FROM = NOW - 60 * DAY_MS
const TO = NOW - 30 * DAY_MS
const W = 14
const P = 'uplift-test'
const GOAL = 'on_treatment'
const RULE_SHARE = { 'rule-a': 0.3, 'rule-b': 0.1 } as const
const PROGRAM_SHARE = 0.2

const program: Program = programSchema.parse({
  id: P,
  name: 'Uplift',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  demo: true,
  keys: { write: [{ id: 'w', key: 'pk_test_12345678', origins: ['https://example.org'] }], secret: [{ id: 's', key: 'sk_test_12345678', channel: 'server' }] },
  goals: [{ id: GOAL, name: 'Still on treatment', events: [{ event: 'treatment_checkin' }], points: 1 }],
  rules: [
    { id: 'rule-a', description: 'A nurse call', when: { level: { gte: 0 } }, action: { type: 'call', reason: 'Check in' }, holdout: RULE_SHARE['rule-a'] },
    { id: 'rule-b', description: 'Another call', when: { level: { gte: 0 } }, action: { type: 'call', reason: 'Again' }, holdout: RULE_SHARE['rule-b'] },
  ],
  contactPolicy: { programHoldout: PROGRAM_SHARE },
})

/** A generated event, as the reference reads it. */
interface Ev {
  type: 'page' | 'track' | 'identify'
  event: string
  user: string
  anon: string
  ts: number
  props?: Record<string, string>
  goal?: boolean
  bot?: boolean
}

/** The synthetic world: what each person's decisions were and whether they reached the goal, by the rules' real holdouts. */
function generate(): Ev[] {
  const r = new Random(seedOf('uplift-test', 1))
  const ev: Ev[] = []
  const decision = (user: string, anon: string, ts: number, rule: string, outcome: string, extra: Record<string, string> = {}) =>
    ev.push({ type: 'track', event: 'decision', user, anon, ts, props: { rule, outcome, class: 'service', requestId: `q${ev.length}`, ...extra } })
  const goal = (user: string, anon: string, ts: number, bot = false) => ev.push({ type: 'track', event: 'treatment_checkin', user, anon, ts, goal: true, bot })
  for (let i = 0; i < 600; i++) {
    const patient = `pt-${i}`
    const anon = `an-${i}`
    // Every 10th browses anonymously and is identified only after the window; others are identified at their first touch.
    const late = i % 10 === 3
    const [user, anonId] = late ? ['', anon] : [patient, anon]
    const actor = late ? anon : patient
    const a0 = FROM + Math.floor(r.next() * (TO - FROM - 2 * 3_600_000))
    ev.push({ type: 'page', event: '', user, anon: anonId, ts: a0 })
    ev.push({ type: 'identify', event: '', user: patient, anon, ts: late ? TO + 5 * DAY_MS : a0 + 1 })
    const t0 = a0 + r.int(1, 3_600) * 1000
    let p: number
    const programHeld = hash32(`${patient}|program|${P}`) / 2 ** 32 < PROGRAM_SHARE
    if (programHeld) {
      decision(user, anonId, t0, 'rule-a', 'held_out', { reason: 'program_holdout', holdout: 'program' })
      p = 0.3
    } else if (inRuleHoldout(actor, 'rule-a', RULE_SHARE['rule-a'])) {
      decision(user, anonId, t0, 'rule-a', 'held_out', { reason: 'holdout', holdout: 'rule' })
      p = 0.3
    } else if (r.chance(0.15)) {
      // Matched but not shown (no consent): neither treated (as shown) nor held out.
      decision(user, anonId, t0, 'rule-a', 'suppressed', { reason: 'consent' })
      p = 0.4
    } else {
      decision(user, anonId, t0, 'rule-a', 'shown', { contentId: 'x' })
      if (r.chance(0.3)) decision(user, anonId, t0 + 2 * DAY_MS, 'rule-a', 'shown')
      if (r.chance(0.1)) decision(user, anonId, t0 + DAY_MS, 'rule-a', 'capped', { reason: 'cap' })
      p = 0.5
    }
    // A small rule: few held out.
    if (i < 60 && !programHeld)
      decision(
        user,
        anonId,
        t0 + 60_000,
        'rule-b',
        inRuleHoldout(actor, 'rule-b', RULE_SHARE['rule-b']) ? 'held_out' : 'shown',
        inRuleHoldout(actor, 'rule-b', RULE_SHARE['rule-b']) ? { reason: 'holdout', holdout: 'rule' } : {},
      )
    if (r.chance(p)) {
      // Reached within the window; every 10th (i % 10 === 7) checks in from the browser linked to them.
      const [gu, ga] = i % 10 === 7 ? ['', anon] : [patient, '']
      goal(gu, ga, t0 + Math.floor(r.next() * (W * DAY_MS - 4 * 3_600_000)) + 3_600_000)
      if (r.chance(0.5)) goal(gu, ga, t0 + Math.floor(r.next() * (W * DAY_MS - 3_600_000)))
    }
    // Noise that must not count: goals before the window and after the person's window, a bot's check-in.
    if (r.chance(0.2)) goal(patient, '', FROM - 2 * DAY_MS)
    if (r.chance(0.2)) goal(patient, '', t0 + W * DAY_MS + 3_600_000)
    // … and on the edges: hours before the decision, and exactly when the window closes (it is half-open).
    if (r.chance(0.1)) goal(patient, '', t0 - 6 * 3_600_000)
    if (r.chance(0.1)) goal(patient, '', t0 + W * DAY_MS)
    if (r.chance(0.05)) goal(patient, '', t0 + DAY_MS, true)
    // Decisions outside the window.
    if (r.chance(0.1)) decision(user, anonId, FROM - DAY_MS, 'rule-a', 'shown')
    if (r.chance(0.1)) decision(user, anonId, TO + DAY_MS, 'rule-a', 'held_out', { reason: 'holdout', holdout: 'rule' })
  }
  // People in both groups of rule-a: a held-out decision under a second browser linked to a treated patient.
  const shownInWindow = (i: number) =>
    ev.some((e) => e.event === 'decision' && e.user === `pt-${i}` && e.props!.outcome === 'shown' && e.props!.rule === 'rule-a' && e.ts >= FROM && e.ts < TO)
  for (const i of Array.from({ length: 100 }, (_, k) => k)
    .filter(shownInWindow)
    .slice(0, 6)) {
    ev.push({ type: 'identify', event: '', user: `pt-${i}`, anon: `second-${i}`, ts: TO + DAY_MS })
    decision('', `second-${i}`, TO - DAY_MS, 'rule-a', 'held_out', { reason: 'holdout', holdout: 'rule' })
  }
  // Patients active only before the window; browsers never identified (at the rule level they are people, at the program level not patients).
  for (let i = 0; i < 30; i++) ev.push({ type: 'page', event: '', user: `old-${i}`, anon: '', ts: FROM - 10 * DAY_MS })
  for (let i = 0; i < 40; i++) {
    const stray = `stray-${i}`
    const ts = FROM + Math.floor(r.next() * (TO - FROM - DAY_MS))
    ev.push({ type: 'page', event: '', user: '', anon: stray, ts })
    const held = inRuleHoldout(stray, 'rule-a', RULE_SHARE['rule-a'])
    decision('', stray, ts + 1000, 'rule-a', held ? 'held_out' : 'shown', held ? { reason: 'holdout', holdout: 'rule' } : {})
    if (r.chance(held ? 0.3 : 0.5)) goal('', stray, ts + DAY_MS)
  }
  // A shared browser: patient sh-b logged in after sh-a, so what the browser does counts for sh-b
  // (counted for sh-a, the browser's shown decision would put sh-a, held out, in both groups).
  ev.push({ type: 'identify', event: '', user: 'sh-b', anon: 'shared', ts: FROM + 2 * DAY_MS })
  ev.push({ type: 'identify', event: '', user: 'sh-a', anon: 'shared', ts: FROM + DAY_MS })
  decision('sh-a', '', FROM + DAY_MS + 60_000, 'rule-a', 'held_out', { reason: 'holdout', holdout: 'rule' })
  decision('', 'shared', FROM + 3 * DAY_MS, 'rule-a', 'shown')
  goal('', 'shared', FROM + 4 * DAY_MS)
  // A bot's page view in the window is no patient's touch.
  ev.push({ type: 'page', event: '', user: 'pt-bot', anon: '', ts: FROM + DAY_MS, bot: true })
  return ev
}

// ---- The reference: an independent computation from the generated events. ----

const dayIn = (ts: number) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: program.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ts))

function people(ev: Ev[]) {
  // Any event with both ids links them (identify is what does it in practice); an id linked to
  // several patients counts for the one linked last, the first by id on a tie.
  const last = new Map<string, { user: string; ts: number }>()
  const pairs = new Map<string, number>()
  for (const e of ev) if (e.user && e.anon) pairs.set(`${e.anon}|${e.user}`, Math.max(pairs.get(`${e.anon}|${e.user}`) ?? 0, e.ts))
  for (const [pair, ts] of pairs) {
    const [anon, user] = pair.split('|') as [string, string]
    const was = last.get(anon)
    if (!was || ts > was.ts || (ts === was.ts && user < was.user)) last.set(anon, { user, ts })
  }
  const linked = new Map([...last].map(([anon, l]) => [anon, l.user]))
  const actor = (e: Ev) => e.user || e.anon
  const person = (e: Ev) => linked.get(actor(e)) ?? actor(e)
  const isPatient = (e: Ev) => e.user !== '' || linked.has(actor(e))
  const goalTimes = new Map<string, number[]>()
  for (const e of ev) {
    if (!e.goal || e.bot || e.ts < FROM || e.ts >= TO + W * DAY_MS) continue
    goalTimes.set(person(e), [...(goalTimes.get(person(e)) ?? []), e.ts])
  }
  const reached = (who: string, start: number, minDays: number) =>
    new Set((goalTimes.get(who) ?? []).filter((t) => t >= start && t < start + W * DAY_MS).map(dayIn)).size >= minDays
  return { person, isPatient, reached }
}

type Counts = { treated: number; treatedReached: number; held: number; heldReached: number; mixed: number }

function referenceRules(ev: Ev[], minDays: number, treatedBy: 'shown' | 'assigned'): Map<string, Counts> {
  const { person, reached } = people(ev)
  const byKey = new Map<string, { rule: string; who: string; first: number; arms: Set<string> }>()
  for (const e of ev) {
    if (e.event !== 'decision' || e.ts < FROM || e.ts >= TO) continue
    const { outcome, holdout, reason, rule } = e.props as Record<string, string>
    const arm =
      outcome === 'shown' || (treatedBy === 'assigned' && (outcome === 'capped' || outcome === 'suppressed') && reason !== 'already_applied')
        ? 'treated'
        : outcome === 'held_out' && holdout === 'rule'
          ? 'held'
          : null
    if (!arm) continue
    const k = `${rule}|${person(e)}`
    const cur = byKey.get(k) ?? { rule: rule!, who: person(e), first: Infinity, arms: new Set<string>() }
    cur.first = Math.min(cur.first, e.ts)
    cur.arms.add(arm)
    byKey.set(k, cur)
  }
  const out = new Map<string, Counts>()
  for (const x of byKey.values()) {
    const c = out.get(x.rule) ?? { treated: 0, treatedReached: 0, held: 0, heldReached: 0, mixed: 0 }
    const hit = reached(x.who, x.first, minDays) ? 1 : 0
    if (x.arms.size > 1) c.mixed++
    else if (x.arms.has('treated')) c.treated++, (c.treatedReached += hit)
    else c.held++, (c.heldReached += hit)
    out.set(x.rule, c)
  }
  return out
}

function referenceProgram(ev: Ev[], minDays: number) {
  const { person, isPatient, reached } = people(ev)
  const first = new Map<string, number>()
  for (const e of ev) {
    if (e.bot || e.event === 'decision' || e.ts < FROM || e.ts >= TO || !isPatient(e)) continue
    first.set(person(e), Math.min(first.get(person(e)) ?? Infinity, e.ts))
  }
  const c = { treated: 0, treatedReached: 0, held: 0, heldReached: 0 }
  for (const [who, t] of first) {
    const hit = reached(who, t, minDays) ? 1 : 0
    if (hash32(`${who}|program|${P}`) / 2 ** 32 < PROGRAM_SHARE) c.held++, (c.heldReached += hit)
    else c.treated++, (c.treatedReached += hit)
  }
  return c
}

/** The Wilson bounds found another way: the roots of the score test |p̂ − π| = z·√(π(1 − π)/n), by bisection. */
function scoreBounds(x: number, n: number): [number, number] {
  const z = 1.959963984540054
  const p = x / n
  const outside = (pi: number) => (p - pi) ** 2 - (z * z * pi * (1 - pi)) / n
  const root = (lo: number, hi: number) => {
    // outside(lo) and outside(hi) differ in sign.
    const sLo = Math.sign(outside(lo))
    for (let k = 0; k < 200; k++) {
      const mid = (lo + hi) / 2
      if (Math.sign(outside(mid)) === sLo) lo = mid
      else hi = mid
    }
    return (lo + hi) / 2
  }
  return [x === 0 ? 0 : root(0, p), x === n ? 1 : root(p, 1)]
}

/** Newcombe (1998) method 10 from the bisection bounds: the squared distances from each rate to its bounds combined. */
function referenceInterval(x1: number, n1: number, x2: number, n2: number): [number, number] {
  const [l1, u1] = scoreBounds(x1, n1)
  const [l2, u2] = scoreBounds(x2, n2)
  const p1 = x1 / n1
  const p2 = x2 / n2
  return [p1 - p2 - Math.hypot(p1 - l1, u2 - p2), p1 - p2 + Math.hypot(u1 - p1, p2 - l2)]
}

function expectComparison(got: UpliftComparison, want: { treated: number; treatedReached: number; held: number; heldReached: number }) {
  expect({ t: got.treated.people, tr: got.treated.reached, h: got.heldOut.people, hr: got.heldOut.reached }).toEqual({
    t: want.treated,
    tr: want.treatedReached,
    h: want.held,
    hr: want.heldReached,
  })
  expect(got.treated.rate).toBeCloseTo(want.treatedReached / want.treated, 12)
  expect(got.heldOut.rate).toBeCloseTo(want.heldReached / want.held, 12)
  expect(got.uplift).toBeCloseTo(want.treatedReached / want.treated - want.heldReached / want.held, 12)
  const [low, high] = referenceInterval(want.treatedReached, want.treated, want.heldReached, want.held)
  expect(got.ci!.low).toBeCloseTo(low, 9)
  expect(got.ci!.high).toBeCloseTo(high, 9)
  expect(got.significant).toBe(low > 0 || high < 0)
  const [tl, th] = scoreBounds(want.treatedReached, want.treated)
  expect(got.treated.rateCi!.low).toBeCloseTo(tl, 9)
  expect(got.treated.rateCi!.high).toBeCloseTo(th, 9)
}

let dir: string
let db: Db
let events: Ev[]
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'attune-uplift-'))
  db = createDb({ mode: 'embedded', path: join(dir, 'clickhouse') })
  await migrate(db)
  events = generate()
  // One insert per month partition, as the writer does.
  const byMonth = new Map<string, string[]>()
  events.forEach((e, i) => {
    const row = {
      ...blankEventRow(),
      message_id: `m-${i}`,
      program: P,
      type: e.type,
      event: e.type === 'track' ? e.event : '',
      channel: e.event === 'decision' ? 'call' : 'web',
      user_id: e.user,
      anonymous_id: e.anon,
      ts: chTime(e.ts),
      original_ts: chTime(e.ts),
      received_at: chTime(e.ts),
      is_bot: (e.bot ? 1 : 0) as 0 | 1,
      properties: JSON.stringify(e.props ?? {}),
      goal_ids: e.goal ? [GOAL] : [],
    }
    const month = row.ts.slice(0, 7)
    byMonth.set(month, [...(byMonth.get(month) ?? []), encodeEventRow(row)])
  })
  for (const [month, lines] of byMonth) await insertEventLines(db, Buffer.from(`${lines.join('\n')}\n`), `uplift-${month}`)
  // Another program's events are not read.
  await insertEventLines(
    db,
    Buffer.from(
      `${encodeEventRow({ ...blankEventRow(), message_id: 'other', program: 'other', type: 'track', event: 'decision', user_id: 'pt-1', ts: chTime(FROM + DAY_MS), original_ts: chTime(FROM + DAY_MS), received_at: chTime(FROM + DAY_MS), properties: JSON.stringify({ rule: 'rule-a', outcome: 'shown' }) })}\n`,
    ),
    'uplift-other',
  )
})
afterAll(async () => {
  await db?.close()
  removeDir(dir)
})

const base = { outcomeGoal: GOAL, from: FROM, to: TO, windowDays: W, now: NOW }

describe('uplift report', () => {
  it('counts treated and held-out people per rule and their outcomes exactly as an independent computation, with the interval', async () => {
    const report = await upliftReport(db, program, { ...base, minCell: 1 })
    const want = referenceRules(events, 1, 'shown')
    expect(report.rules.map((r) => r.rule)).toEqual(['rule-a', 'rule-b'])
    for (const r of report.rules) {
      const w = want.get(r.rule)!
      expectComparison(r, { treated: w.treated, treatedReached: w.treatedReached, held: w.held, heldReached: w.heldReached })
      expect(r.mixed).toBe(w.mixed)
      expect(r.holdoutShare).toBe(RULE_SHARE[r.rule as keyof typeof RULE_SHARE])
    }
    const a = report.rules[0]!
    // The fixture means what it says: hundreds of people, some in both groups, and the true effect found.
    expect(a.treated.people).toBeGreaterThan(250)
    expect(a.heldOut.people).toBeGreaterThan(100)
    expect(a.mixed).toBe(6)
    expect(a.significant).toBe(true)
    expect(a.ci!.low).toBeLessThan(0.2)
    expect(a.ci!.high).toBeGreaterThan(0.2)
    expect(report).toMatchObject({ program: P, windowsClosed: true, treatedBy: 'shown', method: 'wilson-newcombe-hybrid-score', confidence: 0.95, minCell: 1 })
  })

  it('counts the program level: active patients split by the program holdout', async () => {
    const report = await upliftReport(db, program, { ...base, minCell: 1 })
    const want = referenceProgram(events, 1)
    expectComparison(report.overall, want)
    expect(report.overall.holdoutShare).toBe(PROGRAM_SHARE)
    // 600 patients and the shared browser's two, none of the old ones, no unidentified browser, no bot.
    expect(want.treated + want.held).toBe(602)
    expect(report.overall.ci!.low).toBeLessThan(0.14)
    expect(report.overall.ci!.high).toBeGreaterThan(0.14)
  })

  it('counts browsers identified after the window for their patient', async () => {
    const report = await upliftReport(db, program, { ...base, minCell: 1 })
    // Without the links, a late patient's decisions (anonymous) and check-ins (patient id) would be two people.
    const unlinked = events.map((e) => (e.type === 'identify' && e.ts >= TO ? { ...e, type: 'page' as const, user: '', anon: `gone-${e.anon}` } : e))
    const naive = referenceRules(unlinked, 1, 'shown').get('rule-a')!
    const a = report.rules[0]!
    expect(a.treated.reached! + a.heldOut.reached!).toBeGreaterThan(naive.treatedReached + naive.heldReached)
    // A late patient's decision, made for their browser, is theirs.
    const late = events.find((e) => e.event === 'decision' && e.anon === 'an-3' && e.props!.rule === 'rule-a')!
    expect(late.user).toBe('')
  })

  it('suppresses groups with fewer than the minimum cell of people (default 5)', async () => {
    const report = await upliftReport(db, program, base)
    const want = referenceRules(events, 1, 'shown')
    expect(report.minCell).toBe(5)
    const b = report.rules.find((r) => r.rule === 'rule-b')!
    const wb = want.get('rule-b')!
    expect(wb.held).toBeGreaterThan(0)
    expect(wb.held).toBeLessThan(5)
    expect(b.heldOut).toEqual({ people: null, reached: null, rate: null, rateCi: null, suppressed: true })
    expect(b.treated.people).toBe(wb.treated)
    expect(b).toMatchObject({ uplift: null, ci: null, significant: null, suppressed: true, mixed: 0 })
    const a = report.rules.find((r) => r.rule === 'rule-a')!
    expect(a.mixed).toBe(want.get('rule-a')!.mixed < 5 ? null : want.get('rule-a')!.mixed)
    expect(report.rules.find((r) => r.rule === 'rule-a')!.suppressed).toBe(false)
    // At k = 11, as some regulators ask, a rule with few people disappears entirely.
    const strict = await upliftReport(db, program, { ...base, minCell: 11, rules: ['rule-b', 'rule-gone'] })
    expect(strict.rules.map((r) => r.rule)).toEqual(['rule-b', 'rule-gone'])
    expect(strict.rules[1]).toMatchObject({ holdoutShare: null, suppressed: true, treated: { people: null, suppressed: true } })
  })

  it('counts every decision past the holdout as treated when asked (intent to treat)', async () => {
    const report = await upliftReport(db, program, { ...base, minCell: 1, treatedBy: 'assigned', rules: ['rule-a'] })
    const w = referenceRules(events, 1, 'assigned').get('rule-a')!
    expectComparison(report.rules[0]!, { treated: w.treated, treatedReached: w.treatedReached, held: w.held, heldReached: w.heldReached })
    expect(w.treated).toBeGreaterThan(referenceRules(events, 1, 'shown').get('rule-a')!.treated)
  })

  it('measures adherence: the goal reached on at least N days of the window', async () => {
    const report = await upliftReport(db, program, { ...base, minCell: 1, minDays: 2 })
    const w = referenceRules(events, 2, 'shown').get('rule-a')!
    expectComparison(report.rules[0]!, { treated: w.treated, treatedReached: w.treatedReached, held: w.held, heldReached: w.heldReached })
    expectComparison(report.overall, referenceProgram(events, 2))
    expect(w.treatedReached).toBeLessThan(referenceRules(events, 1, 'shown').get('rule-a')!.treatedReached)
    expect(w.treatedReached).toBeGreaterThan(0)
  })

  it('says when outcome windows are still open, and refuses options it cannot answer, naming the field', async () => {
    expect((await upliftReport(db, program, { ...base, now: TO + DAY_MS })).windowsClosed).toBe(false)
    await expect(upliftReport(db, program, { ...base, outcomeGoal: 'nope' })).rejects.toThrow(/outcomeGoal[\s\S]*not a goal/)
    await expect(upliftReport(db, program, { ...base, to: FROM })).rejects.toThrow(/"to"/)
    await expect(upliftReport(db, program, { ...base, minCell: 0 })).rejects.toThrow(/minCell/)
  })

  it('passes EXPLAIN, and reads decisions and goals by primary-key ranges', async () => {
    const params = { program: P, from: chTime(FROM), to: chTime(TO), window_days: W, goal: GOAL, min_days: 1, tz: program.timeZone }
    for (const [name, extra] of [
      ['uplift-rules', { rules: [], assigned: 0 }],
      ['uplift-program', {}],
    ] as const) {
      await expect(db.query(`EXPLAIN ${sql(name)}`, { ...params, ...extra })).resolves.toBeDefined()
      const plan = (await db.query<{ explain: string }>(`EXPLAIN indexes = 1 ${sql(name)}`, { ...params, ...extra })).map((r) => r.explain).join('\n')
      expect(plan, name).toMatch(/PrimaryKey[\s\S]*Keys:[\s\S]*program/)
    }
  })
})
