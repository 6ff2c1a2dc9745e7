// The profile and attribution models against an independent reference on seeded synthetic
// populations: every request goes through the collector, the reference is computed here from the
// raw `events` rows only (never the aggregate tables), and every patient's profile — served by the
// profile store and read directly from ClickHouse — must match it, as must goal attribution.
// A few hand-made events ride along with each population for what the generator never sends:
// an alias of an old CRM id and of an old browser (both with history before the link), consent
// records across ids, and a bot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { goalAttribution, readProfile, type AttributionRow, type Profile, type Program, DAY_MS } from '../analytics/index.ts'
import { browserId } from '../collector/index.ts'
import { generatePopulation, type Population } from '../population/index.ts'
import { basic, startService } from './helpers.ts'

const SEEDS = [5, 23, 71]
const PROGRAMS = ['psoriasis-demo', 'smoking-cessation-demo']
const PATIENTS = 45
const DAYS = 30
/** The end of every simulated period, and the time profiles are computed for. */
const NOW = Math.floor(Date.now() / 1000) * 1000

/** One raw row of `events`, as the reference reads it. */
interface RawEvent {
  ms: number
  received: number
  type: string
  event: string
  channel: string
  user_id: string
  anonymous_id: string
  previous_id: string
  is_bot: number
  utm_campaign: string
  need_ids: string[]
  need_weights: number[]
  goal_ids: string[]
  properties: string
}

const RAW_EVENTS = `
SELECT toUnixTimestamp64Milli(ts) AS ms, toUnixTimestamp64Milli(received_at) AS received, toString(type) AS type, toString(event) AS event,
       toString(channel) AS channel, user_id, anonymous_id, previous_id, is_bot, toString(utm_campaign) AS utm_campaign,
       need_ids, need_weights, goal_ids, properties
FROM events
WHERE program = {program:String}`

/** ClickHouse's text of a DateTime64(3, 'UTC'). */
const chText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23)
const actorOf = (e: RawEvent) => e.user_id || e.anonymous_id

function groupBy<T>(list: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const x of list) {
    const k = key(x)
    const group = out.get(k)
    if (group) group.push(x)
    else out.set(k, [x])
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Sending

type Message = Record<string, unknown>

/**
 * What the generator never sends, for one patient of the population: an old CRM id with history
 * (a goal, an answer, content, consent) and an old browser with page views, both linked by alias
 * days later; consent changed across ids; a crawler on the patient's own browser.
 */
function extras(program: Program, population: Population, seed: number): Array<{ key: string; origin?: string; userAgent: string; batch: Message[] }> {
  const { world } = population
  const patient = population.patients.find((p) => p.enrolled)!
  const crm = `crm-${seed}-${patient.patientId}`
  const oldBrowser = `a-old-${seed}`
  const at = (days: number) => new Date(NOW - days * DAY_MS).toISOString()
  const id = (n: number) => `extra-${seed}-${n}`
  const page = world.pages.find((p) => p.items.length > 0)!
  const questionnaire = program.questionnaires[0]!
  const webGoal = program.goals.flatMap((g) => g.events).find((e) => e.event === 'goal_reached')!
  const server = world.senders.server.key
  const agent = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
  const url = `${world.browser.origin}${page.path}`
  return [
    {
      key: server,
      userAgent: 'crm-export/1',
      batch: [
        { type: 'track', messageId: id(1), userId: crm, event: 'medication_checkin', timestamp: at(9) },
        { type: 'track', messageId: id(2), userId: crm, event: 'medication_checkin', timestamp: at(8) },
        {
          type: 'track',
          messageId: id(3),
          userId: crm,
          event: 'questionnaire_answered',
          timestamp: at(10),
          properties: {
            questionnaire: questionnaire.id,
            answers: [{ question: questionnaire.questions[0]!.id, answer: questionnaire.questions[0]!.answers[0]!.id }],
          },
        },
        {
          type: 'track',
          messageId: id(4),
          userId: crm,
          event: 'print_delivered',
          timestamp: at(12),
          context: { channel: 'print' },
          properties: { content: [program.content[0]!.id, program.content[1]!.id] },
        },
        { type: 'track', messageId: id(5), userId: crm, event: 'consent_updated', timestamp: at(8.5), properties: { consent: { email: false, call: true } } },
      ],
    },
    {
      key: world.browser.key,
      origin: world.browser.origin,
      userAgent: agent,
      batch: [
        {
          type: 'page',
          messageId: id(6),
          anonymousId: oldBrowser,
          timestamp: at(13),
          context: { page: { path: page.path, url: `${url}?utm_campaign=old-browser&utm_source=search` } },
        },
        { type: 'page', messageId: id(7), anonymousId: oldBrowser, timestamp: at(11), context: { page: { path: page.path, url } } },
        { type: 'track', messageId: id(8), anonymousId: oldBrowser, event: 'goal_reached', timestamp: at(10.99), properties: { ...webGoal.where } },
        {
          type: 'track',
          messageId: id(9),
          anonymousId: oldBrowser,
          event: 'consent_updated',
          timestamp: at(10.98),
          properties: { consent: { analytics: true, web: false } },
        },
      ],
    },
    {
      key: server,
      userAgent: 'crm-export/1',
      batch: [
        {
          type: 'track',
          messageId: id(10),
          userId: patient.patientId,
          event: 'consent_updated',
          timestamp: at(6),
          properties: { consent: { email: true, sms: true } },
        },
        {
          type: 'track',
          messageId: id(11),
          userId: patient.patientId,
          event: 'consent_updated',
          timestamp: at(1),
          properties: { consent: { sms: false, web: true } },
        },
        { type: 'alias', messageId: id(12), userId: patient.patientId, previousId: crm, timestamp: at(2) },
        // A backend names a browser by its stored id.
        { type: 'alias', messageId: id(13), userId: patient.patientId, previousId: browserId(oldBrowser), timestamp: at(1.9) },
      ],
    },
    {
      // A crawler replaying the patient's browser: flagged as a bot, so it counts nowhere.
      key: world.browser.key,
      origin: world.browser.origin,
      userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      batch: [
        { type: 'page', messageId: id(14), anonymousId: patient.anonymousIds[0]!, timestamp: at(3), context: { page: { path: page.path, url } } },
        { type: 'track', messageId: id(15), anonymousId: patient.anonymousIds[0]!, event: 'goal_reached', timestamp: at(3), properties: { ...webGoal.where } },
      ],
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// The reference

/** Who is who: every id linked to each patient id (the anonymous id of an event with a user id; an alias's previous id). */
function identities(rows: RawEvent[]): Map<string, Set<string>> {
  const links = new Map<string, Set<string>>()
  for (const e of rows) {
    const linked = e.type === 'alias' ? e.previous_id : e.anonymous_id
    if (e.user_id === '' || linked === '' || linked === e.user_id) continue
    let set = links.get(e.user_id)
    if (!set) links.set(e.user_id, (set = new Set()))
    set.add(linked)
  }
  return links
}

/** What a profile must say, computed from the person's raw events. */
interface ExpectedProfile {
  ids: string[]
  needs: Array<{ need: string; source: 'explicit' | 'inferred'; score: number; explicit: number | null; inferred: number; touches: number }>
  answers: Profile['answers']
  channels: Profile['channels']
  goals: Profile['goals']
  engagement: { value: number; level: { level: number; name: string } | null; next: { level: number; name: string; minValue: number; toGo: number } | null }
  profiledTouches: number
  pattern: { id: string; name: string; distance: number } | null
  consent: Profile['consent']
}

function referenceProfile(
  program: Program,
  links: Map<string, Set<string>>,
  byActor: Map<string, RawEvent[]>,
  patientId: string,
  asOf: number,
): ExpectedProfile {
  const ids = [patientId, ...[...(links.get(patientId) ?? [])].sort()]
  const events = ids.flatMap((id) => byActor.get(id) ?? [])
  const human = events.filter((e) => e.is_bot === 0)
  const halfLife = program.needHalfLifeDays * DAY_MS

  // Inferred: each touch's need weights (Float32 as stored), decayed from the start of its UTC day.
  const inferred = new Map<string, { score: number; touches: number }>()
  for (const e of human) {
    const decay = 2 ** ((Math.min(Math.floor(e.ms / DAY_MS) * DAY_MS, asOf) - asOf) / halfLife)
    e.need_ids.forEach((need, i) => {
      const x = inferred.get(need) ?? { score: 0, touches: 0 }
      inferred.set(need, { score: x.score + Math.fround(e.need_weights[i]!) * decay, touches: x.touches + 1 })
    })
  }

  // Explicit: the latest answer per question (any id of the person), through the answer's need weights.
  const latest = new Map<string, { questionnaire: string; question: string; answer: string; ms: number }>()
  for (const e of events) {
    if (e.event !== 'questionnaire_answered') continue
    const p = JSON.parse(e.properties) as { questionnaire?: unknown; answers?: Array<{ question?: unknown; answer?: unknown }> }
    if (typeof p.questionnaire !== 'string' || p.questionnaire === '') continue
    for (const a of p.answers ?? []) {
      if (typeof a.question !== 'string' || typeof a.answer !== 'string' || a.question === '' || a.answer === '') continue
      const k = `${p.questionnaire}\t${a.question}`
      if ((latest.get(k)?.ms ?? -Infinity) < e.ms) latest.set(k, { questionnaire: p.questionnaire, question: a.question, answer: a.answer, ms: e.ms })
    }
  }
  const explicit = new Map<string, number>()
  for (const a of latest.values()) {
    const answer = program.questionnaires
      .find((q) => q.id === a.questionnaire)
      ?.questions.find((q) => q.id === a.question)
      ?.answers.find((x) => x.id === a.answer)
    for (const [need, w] of Object.entries(answer?.needs ?? {})) explicit.set(need, (explicit.get(need) ?? 0) + w)
  }
  const needs = program.needs.map((n) => {
    const inf = inferred.get(n.id)?.score ?? 0
    const exp = explicit.get(n.id) ?? null
    return {
      need: n.id,
      source: exp === null ? ('inferred' as const) : ('explicit' as const),
      score: exp ?? inf,
      explicit: exp,
      inferred: inf,
      touches: inferred.get(n.id)?.touches ?? 0,
    }
  })

  const channels = new Map<string, { touches: number; last: number }>()
  for (const e of human) {
    const c = channels.get(e.channel) ?? { touches: 0, last: -Infinity }
    channels.set(e.channel, { touches: c.touches + 1, last: Math.max(c.last, e.ms) })
  }

  const reached = new Map<string, { times: number; first: number; last: number }>()
  for (const e of human) {
    for (const goal of e.goal_ids) {
      const g = reached.get(goal) ?? { times: 0, first: Infinity, last: -Infinity }
      reached.set(goal, { times: g.times + 1, first: Math.min(g.first, e.ms), last: Math.max(g.last, e.ms) })
    }
  }
  const goals = [...reached].map(([goal, g]) => {
    const def = program.goals.find((x) => x.id === goal)
    return {
      goal,
      name: def?.name ?? goal,
      times: g.times,
      points: def ? (def.countOnce ? def.points : def.points * g.times) : 0,
      firstAt: chText(g.first),
      lastAt: chText(g.last),
    }
  })
  const value = goals.reduce((s, g) => s + g.points, 0)
  const levels = [...program.levels].sort((a, b) => a.minValue - b.minValue)
  const level = levels.filter((l) => value >= l.minValue).at(-1) ?? null
  const next = levels.find((l) => l.level === (level ? level.level + 1 : 0)) ?? null

  const consent: Profile['consent'] = {}
  for (const e of [...events].sort((a, b) => a.ms - b.ms)) {
    if (e.event !== 'consent_updated') continue
    const given = (JSON.parse(e.properties) as { consent?: Record<string, unknown> }).consent ?? {}
    for (const [scope, granted] of Object.entries(given)) if (typeof granted === 'boolean') consent[scope] = { granted, at: chText(e.ms) }
  }

  const profiledTouches = human.filter((e) => e.need_ids.length > 0).length
  let pattern: ExpectedProfile['pattern'] = null
  if (profiledTouches >= program.patternMinTouches) {
    const toUnitMax = (v: number[]) => {
      const max = Math.max(0, ...v)
      return v.map((x) => (max > 0 ? Math.max(0, x) / max : 0))
    }
    const mine = toUnitMax(needs.map((n) => n.score))
    if (mine.some((x) => x > 0)) {
      for (const card of program.patterns) {
        const theirs = toUnitMax(program.needs.map((n) => card.needs[n.id] ?? 0))
        const distance = Math.hypot(...theirs.map((c, i) => c - mine[i]!))
        if (!pattern || distance < pattern.distance) pattern = { id: card.id, name: card.name, distance }
      }
    }
  }

  return {
    ids,
    needs,
    answers: [...latest.values()].map((a) => ({ questionnaire: a.questionnaire, question: a.question, answer: a.answer, answeredAt: chText(a.ms) })),
    channels: [...channels].map(([channel, c]) => ({ channel, touches: c.touches, lastTouch: chText(c.last) })),
    goals,
    engagement: {
      value,
      level: level && { level: level.level, name: level.name },
      next: next && { level: next.level, name: next.name, minValue: next.minValue, toGo: Math.max(0, next.minValue - value) },
    },
    profiledTouches,
    pattern,
    consent,
  }
}

/**
 * Attribution from the raw events: each conversion in [since, until] is credited to the person's
 * page, screen and track events before it within the lookback (first, last, 1/n each), or to itself
 * when there are none. A person is the patient an id is linked to (the least patient id if several).
 */
function referenceAttribution(
  rows: RawEvent[],
  links: Map<string, Set<string>>,
  since: number,
  until: number,
  lookbackDays: number,
): { credit: Map<string, number>; ambiguous: number } {
  const patientOf = new Map<string, string>()
  for (const [patient, ids] of links) for (const id of ids) if (!patientOf.has(id) || patient < patientOf.get(id)!) patientOf.set(id, patient)
  const personOf = (e: RawEvent) => patientOf.get(actorOf(e)) ?? actorOf(e)
  const human = rows.filter((e) => e.is_bot === 0)
  const touchesOf = groupBy(
    human.filter((e) => ['page', 'screen', 'track'].includes(e.type)),
    personOf,
  )
  for (const list of touchesOf.values()) list.sort((a, b) => a.ms - b.ms || a.received - b.received)
  const credit = new Map<string, number>()
  const add = (goal: string, model: string, e: RawEvent, c: number) => {
    const k = `${goal}|${model}|${e.channel}|${e.utm_campaign}`
    credit.set(k, (credit.get(k) ?? 0) + c)
  }
  let ambiguous = 0
  const same = (a: RawEvent, b: RawEvent) => a.ms === b.ms && a.received === b.received
  for (const conv of human) {
    if (conv.goal_ids.length === 0 || conv.ms < since || conv.ms > until) continue
    const prior = (touchesOf.get(personOf(conv)) ?? []).filter((e) => e.ms < conv.ms && e.ms >= conv.ms - lookbackDays * DAY_MS)
    // Touches at the very same moment have no order: first or last touch would be a coin toss.
    if (prior.length > 1 && (same(prior[0]!, prior[1]!) || same(prior.at(-1)!, prior.at(-2)!))) ambiguous++
    for (const goal of conv.goal_ids) {
      if (prior.length === 0) for (const m of ['first_touch', 'last_touch', 'linear']) add(goal, m, conv, 1)
      else {
        add(goal, 'first_touch', prior[0]!, 1)
        add(goal, 'last_touch', prior.at(-1)!, 1)
        for (const p of prior) add(goal, 'linear', p, 1 / prior.length)
      }
    }
  }
  return { credit, ambiguous }
}

// ---------------------------------------------------------------------------------------------
// Comparison

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) + 1e-12

/** A profile against the reference: needs within float rounding (1e-9 relative), the rest exactly. */
function expectProfile(got: Profile, want: ExpectedProfile, label: string): void {
  const byName = <T>(list: readonly T[], key: (x: T) => string) => [...list].sort((a, b) => key(a).localeCompare(key(b)))
  const answerKey = (a: Profile['answers'][number]) => `${a.questionnaire}\t${a.question}`
  expect(
    {
      ids: got.ids,
      answers: byName(got.answers, answerKey),
      channels: byName(got.channels, (c) => c.channel),
      goals: byName(got.goals, (g) => g.goal),
      engagement: { value: got.engagement.value, level: got.engagement.level, next: got.engagement.next },
      profiledTouches: got.profiledTouches,
      pattern: got.pattern && { id: got.pattern.id, name: got.pattern.name },
      consent: got.consent,
      needs: byName(got.needs, (n) => n.need).map((n) => ({
        need: n.need,
        source: n.source,
        touches: n.touches,
        explicit: n.explicit === null ? null : 'set',
      })),
    },
    label,
  ).toEqual({
    ids: want.ids,
    answers: byName(want.answers, answerKey),
    channels: byName(want.channels, (c) => c.channel),
    goals: byName(want.goals, (g) => g.goal),
    engagement: want.engagement,
    profiledTouches: want.profiledTouches,
    pattern: want.pattern && { id: want.pattern.id, name: want.pattern.name },
    consent: want.consent,
    needs: byName(want.needs, (n) => n.need).map((n) => ({ need: n.need, source: n.source, touches: n.touches, explicit: n.explicit === null ? null : 'set' })),
  })
  for (const w of want.needs) {
    const g = got.needs.find((n) => n.need === w.need)!
    for (const k of ['score', 'inferred', 'explicit'] as const) {
      if (w[k] === null) continue
      expect(close(g[k]!, w[k]), `${label} ${w.need}.${k}: ${g[k]} vs ${w[k]}`).toBe(true)
    }
  }
  if (want.pattern) expect(got.pattern!.distance, `${label} pattern distance`).toBeCloseTo(want.pattern.distance, 6)
  // The orders the profile promises: explicit needs first, each source highest first; channels by last touch; goals by first time.
  const sources = got.needs.map((n) => n.source)
  expect(sources.lastIndexOf('explicit'), label).toBeLessThan(sources.includes('inferred') ? sources.indexOf('inferred') : Infinity)
  for (let i = 1; i < got.needs.length; i++)
    if (got.needs[i]!.source === got.needs[i - 1]!.source) expect(got.needs[i]!.score, label).toBeLessThanOrEqual(got.needs[i - 1]!.score + 1e-12)
  expect(
    got.channels.map((c) => c.lastTouch),
    label,
  ).toEqual(
    got.channels
      .map((c) => c.lastTouch)
      .sort()
      .reverse(),
  )
  expect(
    got.goals.map((g) => g.firstAt),
    label,
  ).toEqual(got.goals.map((g) => g.firstAt).sort())
}

// ---------------------------------------------------------------------------------------------

describe.each(SEEDS)('models against the reference, seed %i', (seed) => {
  let svc: Awaited<ReturnType<typeof startService>>
  const sent = new Map<string, { population: Population; messages: number; extraPatient: string }>()

  beforeAll(async () => {
    // A synthetic history of 30 days sent as it happened: the live window is widened to take it.
    svc = await startService({ env: { ATTUNE_LIVE_WINDOW_DAYS: '60' } })
    for (const id of PROGRAMS) {
      const loaded = svc.service.programs.find((p) => p.program.id === id)!
      const population = generatePopulation({ program: loaded.program, keys: loaded.keys, patients: PATIENTS, days: DAYS, seed, now: NOW })
      let messages = 0
      const post = async (key: string, userAgent: string, origin: string | undefined, batch: unknown[]) => {
        const res = await svc.service.app.request('/v1/batch', {
          method: 'POST',
          headers: { authorization: basic(key), 'content-type': 'application/json', 'user-agent': userAgent, ...(origin ? { origin } : {}) },
          body: JSON.stringify({ batch }),
        })
        const body = await res.text()
        expect(res.status, body).toBe(200)
        expect((JSON.parse(body) as { rejected: unknown[] }).rejected, body).toEqual([])
        messages += batch.length
      }
      for await (const r of population.requests()) await post(r.key, r.userAgent, r.origin, r.body.batch)
      for (const r of extras(loaded.program, population, seed)) await post(r.key, r.userAgent, r.origin, r.batch)
      sent.set(id, { population, messages, extraPatient: population.patients.find((p) => p.enrolled)!.patientId })
    }
    const end = Date.now() + 30_000
    while (!(svc.service.spool.depthBytes() === 0 && PROGRAMS.every((p) => svc.service.profiles!.current(p)))) {
      if (Date.now() > end) throw new Error('the writer and the profile store did not catch up within 30 s')
      await new Promise((r) => setTimeout(r, 50))
    }
  }, 60_000)
  afterAll(() => svc?.stop())

  it.each(PROGRAMS)('%s: every profile, from memory and from ClickHouse, and goal attribution', async (id) => {
    const program = svc.service.programs.find((p) => p.program.id === id)!.program
    const { population, messages, extraPatient } = sent.get(id)!
    const rows = (await svc.service.db.query<RawEvent>(RAW_EVENTS, { program: id })).map((r) => ({
      ...r,
      ms: Number(r.ms),
      received: Number(r.received),
      is_bot: Number(r.is_bot),
    }))
    // Every message sent landed once: the reference sees what the models saw.
    expect(rows.length).toBe(messages)
    const links = identities(rows)
    const byActor = groupBy(rows, actorOf)

    const patients = population.patients.map((p) => p.patientId)
    const wanted = patients.map((p) => referenceProfile(program, links, byActor, p, NOW))
    for (const [i, patient] of patients.entries()) {
      const fromMemory = svc.service.profiles!.read(program, patient, NOW)
      expect(fromMemory, patient).not.toBeNull()
      expectProfile(fromMemory!, wanted[i]!, `${id} ${patient} (store)`)
      expectProfile(await readProfile(svc.service.db, program, patient, NOW), wanted[i]!, `${id} ${patient} (ClickHouse)`)
    }

    // Not vacuous: browsers with history before their identify, answers, goals, several levels, patterns.
    const generatedBrowsers = new Set(population.patients.flatMap((p) => p.anonymousIds.map(browserId)))
    const linkedAt = new Map<string, number>()
    for (const e of rows) if (e.user_id !== '' && e.anonymous_id !== '') linkedAt.set(e.anonymous_id, Math.min(linkedAt.get(e.anonymous_id) ?? Infinity, e.ms))
    const lateLinked = [...generatedBrowsers].filter((a) => (byActor.get(a) ?? []).some((e) => e.ms < (linkedAt.get(a) ?? -Infinity)))
    expect(lateLinked.length, 'browsers with events before their identify').toBeGreaterThanOrEqual(5)
    expect(wanted.filter((w) => w.answers.length > 0).length, 'patients with answers').toBeGreaterThanOrEqual(5)
    expect(wanted.filter((w) => w.needs.some((n) => n.source === 'explicit')).length).toBeGreaterThanOrEqual(5)
    expect(wanted.filter((w) => w.goals.length > 0).length, 'patients with goals').toBeGreaterThanOrEqual(10)
    expect(new Set(wanted.map((w) => w.engagement.level?.level ?? -1)).size, 'distinct levels').toBeGreaterThanOrEqual(3)
    expect(wanted.filter((w) => w.pattern !== null).length, 'patients with a pattern').toBeGreaterThanOrEqual(5)
    // The hand-made extras: both aliased ids, consent merged across ids, the bot left out.
    const extra = wanted[patients.indexOf(extraPatient)]!
    expect(extra.ids).toEqual(expect.arrayContaining([`crm-${seed}-${extraPatient}`, `browser:a-old-${seed}`]))
    expect(Object.fromEntries(Object.entries(extra.consent).map(([k, v]) => [k, v.granted]))).toEqual({
      analytics: true,
      call: true,
      email: true,
      sms: false,
      web: true,
    })
    expect(rows.filter((e) => e.is_bot === 1).length).toBe(2)

    // Goal attribution in two windows: the whole period (30-day lookback), and a middle stretch with a 7-day one.
    for (const opts of [
      { since: NOW - DAYS * DAY_MS, until: NOW, lookbackDays: 30 },
      { since: NOW - 20 * DAY_MS, until: NOW - 5 * DAY_MS, lookbackDays: 7 },
    ]) {
      const got = new Map(
        (await goalAttribution(svc.service.db, id, opts)).map((r: AttributionRow) => [`${r.goal}|${r.model}|${r.channel}|${r.campaign}`, r.conversions]),
      )
      const { credit: want, ambiguous } = referenceAttribution(rows, links, opts.since, opts.until, opts.lookbackDays)
      expect(ambiguous, 'conversions whose first or last touch is tied').toBe(0)
      expect([...got.keys()].sort(), JSON.stringify(opts)).toEqual([...want.keys()].sort())
      for (const [k, v] of want) expect(got.get(k), k).toBeCloseTo(v, 9)
      expect(new Set([...want.keys()].map((k) => k.split('|')[2])).size, 'channels credited').toBeGreaterThanOrEqual(3)
    }
    // The old browser's campaign, linked by alias days after its visit, shares in later conversions.
    expect([...referenceAttribution(rows, links, NOW - DAYS * DAY_MS, NOW, 30).credit.keys()].some((k) => k.endsWith('|linear|web|old-browser'))).toBe(true)
  })
})
