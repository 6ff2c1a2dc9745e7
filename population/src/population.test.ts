// The synthetic population without ClickHouse: reproducible from its seed, and every event one
// the collector's own ingestion accepts, with the enrichment the profiles read.
import { describe, expect, it } from 'vitest'
import { join, resolve } from 'node:path'
import { programKey, adherenceOf, EVENT_COLUMNS, loadPrograms, programSchema, type LoadedProgram, DAY_MS } from '../../analytics/index.ts'
import { decodeFrames, ingestBody, KeyIndex } from '../../collector/index.ts'
import { generatePopulation, type PopulationRequest } from '../index.ts'
import { HISTORY_LIMITS } from './population.ts'
import { ingestMessages } from './ingest-messages.ts'
import { formatProgress } from './progress-bar.ts'

const programs = loadPrograms(join(resolve(import.meta.dirname, '../..'), 'programs'), {})
const keys = new KeyIndex(programs.flatMap((p) => p.keys))
const byId = (id: string) => programs.find((p) => p.program.id === id)!
const NOW = Date.parse('2026-11-23T15:00:00Z')

async function collect(lp: LoadedProgram, opts: { patients: number; days: number; seed: number }): Promise<PopulationRequest[]> {
  const out: PopulationRequest[] = []
  for await (const r of generatePopulation({ program: lp.program, keys: lp.keys, now: NOW, ...opts }).requests()) out.push(r)
  return out
}

/** Each request through the collector's ingestion, as the HTTP route would run it. */
function ingest(req: PopulationRequest, receivedAt = NOW) {
  const out = ingestBody(
    {
      body: Buffer.from(JSON.stringify(req.body)),
      contentEncoding: '',
      authorization: `Basic ${Buffer.from(`${req.key}:`).toString('base64')}`,
      origin: req.origin,
      userAgent: req.userAgent,
      ip: req.ip,
      receivedAt,
      limits: HISTORY_LIMITS,
    },
    keys,
  )
  const rows = out.frames
    ? decodeFrames(Buffer.from(out.frames), true).records.map((r) => JSON.parse(r.subarray(r.indexOf(0x0a) + 1).toString()) as unknown[])
    : []
  return { out, rows }
}

describe('generatePopulation', () => {
  it('gives the same patients and requests for the same seed, others for another seed', async () => {
    const lp = byId('psoriasis-demo')
    const a = await collect(lp, { patients: 40, days: 30, seed: 7 })
    const b = await collect(lp, { patients: 40, days: 30, seed: 7 })
    const c = await collect(lp, { patients: 40, days: 30, seed: 8 })
    expect(JSON.stringify(b)).toBe(JSON.stringify(a))
    expect(generatePopulation({ program: lp.program, patients: 40, days: 30, seed: 7, now: NOW }).patients).toEqual(
      generatePopulation({ program: lp.program, patients: 40, days: 30, seed: 7, now: NOW }).patients,
    )
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a))
    const ids = (reqs: PopulationRequest[]) => new Set(reqs.flatMap((r) => r.body.batch.map((m) => m.messageId)))
    const idsA = ids(a)
    expect(idsA.size).toBe(a.reduce((n, r) => n + r.body.batch.length, 0))
    expect([...ids(c)].filter((id) => idsA.has(id))).toEqual([])
  })

  it('gives a patient the same behaviour whatever the population size', async () => {
    const lp = byId('psoriasis-demo')
    const small = generatePopulation({ program: lp.program, patients: 5, days: 30, seed: 3, now: NOW })
    const large = generatePopulation({ program: lp.program, patients: 50, days: 30, seed: 3, now: NOW })
    expect(large.patients.slice(0, 5)).toEqual(small.patients)
    const firstBrowser = async (pop: typeof small) => {
      for await (const r of pop.requests()) if (r.kind === 'write' && r.body.batch.some((m) => m.messageId.includes('-p-000002-'))) return r
      return null
    }
    expect(await firstBrowser(large)).toEqual(await firstBrowser(small))
  })

  it.each(['psoriasis-demo', 'smoking-cessation-demo'])('makes only events the collector accepts, enriched as profiles need them (%s)', async (id) => {
    const lp = byId(id)
    const reqs = await collect(lp, { patients: 150, days: 60, seed: 11 })
    const types = new Map<string, number>()
    const channels = new Set<string>()
    let pagesWithNeeds = 0
    let pages = 0
    for (const req of reqs) {
      expect(req.body.batch.length).toBeLessThanOrEqual(500)
      expect(Buffer.byteLength(JSON.stringify(req.body))).toBeLessThan(500 * 1024)
      const { out, rows } = ingest(req)
      expect(out.error).toBeUndefined()
      expect(out.rejected).toEqual([])
      expect(rows).toHaveLength(req.body.batch.length)
      for (const row of rows) {
        const col = (name: (typeof EVENT_COLUMNS)[number]) => row[EVENT_COLUMNS.indexOf(name)]
        const [type, event, channel, isBot, contentIds, needIds] = [
          col('type'),
          col('event'),
          col('channel'),
          col('is_bot'),
          col('content_ids'),
          col('need_ids'),
        ] as [string, string, string, number, string[], string[]]
        types.set(type === 'track' ? event : type, (types.get(type === 'track' ? event : type) ?? 0) + 1)
        channels.add(channel)
        expect(isBot).toBe(0)
        if (type === 'page') {
          pages++
          if (contentIds.length > 0 && needIds.length > 0) pagesWithNeeds++
        }
      }
    }
    for (const t of ['page', 'identify', 'questionnaire_answered', 'email_opened', 'email_click', 'call_completed', 'goal_reached'])
      expect(types.get(t), t).toBeGreaterThan(0)
    expect([...channels].sort()).toEqual(expect.arrayContaining(['call', 'email', 'sms', 'web']))
    expect(pagesWithNeeds / pages).toBeGreaterThan(0.95)
  })

  it('keeps to the period, waking hours in the program’s time zone, drop-outs and identities', async () => {
    const lp = byId('psoriasis-demo')
    const days = 45
    const pop = generatePopulation({ program: lp.program, keys: lp.keys, patients: 120, days, seed: 5, now: NOW })
    const hour = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' })
    const byPatient = new Map(pop.patients.map((p) => [p.patientId, p]))
    const byAnon = new Map(pop.patients.flatMap((p) => p.anonymousIds.map((a) => [a, p] as const)))
    const hours = new Array<number>(24).fill(0)
    let total = 0
    for await (const req of pop.requests()) {
      for (const m of req.body.batch) {
        total++
        const t = Date.parse(m.timestamp)
        expect(t).toBeLessThan(NOW)
        expect(t).toBeGreaterThan(NOW - (days + 1) * DAY_MS)
        hours[Number(hour.format(t))]!++
        const p = req.kind === 'write' ? byAnon.get(m.anonymousId as string)! : byPatient.get(m.userId as string)!
        expect(p).toBeDefined()
        if (p.dropoutDay !== null) expect(t).toBeLessThan(pop.world.midnights[p.dropoutDay]!)
        if (m.userId !== undefined) expect(m.userId).toBe(p.patientId)
        if (!p.enrolled) expect(req.kind === 'write' && m.userId === undefined && m.type !== 'identify').toBe(true)
      }
    }
    const waking = hours.slice(7, 24).reduce((a, b) => a + b, 0)
    expect(waking / total).toBeGreaterThan(0.99)
    expect(hours.slice(2, 7).reduce((a, b) => a + b, 0)).toBe(0)
    expect(pop.patients.some((p) => p.dropoutDay !== null)).toBe(true)
  })

  it('answers questionnaires as the hidden needs say', async () => {
    const lp = byId('psoriasis-demo')
    const pop = generatePopulation({ program: lp.program, keys: lp.keys, patients: 400, days: 60, seed: 9, now: NOW })
    const byAnon = new Map(pop.patients.flatMap((p) => p.anonymousIds.map((a) => [a, p] as const)))
    const expected: Record<string, string> = {
      'itch-and-flares': 'itch',
      'treatment-understanding': 'treatment',
      stigma: 'appearance',
      'skin-care-routine': 'routine',
    }
    let fitting = 0
    let asked = 0
    for await (const req of pop.requests()) {
      for (const m of req.body.batch) {
        const props = m.properties as { questionnaire?: string; answers?: Array<{ question: string; answer: string }> } | undefined
        if (m.event !== 'questionnaire_answered' || props?.questionnaire !== 'first-needs') continue
        const p = byAnon.get(m.anonymousId as string)!
        const concern = props.answers!.find((a) => a.question === 'main-concern')
        if (!concern || !expected[p.topNeed] || p.topMargin < 0.15) continue
        asked++
        if (concern.answer === expected[p.topNeed]) fitting++
      }
    }
    expect(asked).toBeGreaterThan(20)
    expect(fitting / asked).toBeGreaterThan(0.7)
  })

  it.each([1, 3])(
    'checks in on the adherence schedule (every %i days): every due day for the always adherent, about their propensity for others, none after stopping',
    async (everyDays) => {
      const lp = byId('psoriasis-demo')
      const program = { ...lp.program, adherence: { ...lp.program.adherence!, everyDays } }
      const { adherence, timeZone } = program
      const days = 60
      const pop = generatePopulation({ program, keys: lp.keys, patients: 400, days, seed: 13, now: NOW })
      const checkin = pop.world.checkin!
      expect(checkin.goal.goal.id).toBe(adherence!.goal)
      const dayOf = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
      const dayIndex = new Map(pop.world.midnights.map((m, i) => [dayOf.format(m + 12 * 3_600_000), i]))
      const checkins = new Map<string, number[]>()
      for await (const req of pop.requests()) {
        const { rows, rejected } = ingestMessages(req, keys, NOW)
        expect(rejected).toEqual([])
        for (const row of rows) {
          const cells = JSON.parse(row.json) as unknown[]
          const col = (name: (typeof EVENT_COLUMNS)[number]) => cells[EVENT_COLUMNS.indexOf(name)]
          if (col('event') !== checkin.goal.event) continue
          // The collector's needs step stamps the goal the profile's adherence counts.
          expect(col('goal_ids')).toContain(adherence!.goal)
          const day = dayIndex.get(dayOf.format(Date.parse(`${String(col('ts')).replace(' ', 'T')}Z`)))!
          checkins.set(String(col('user_id')), [...(checkins.get(String(col('user_id'))) ?? []), day])
        }
      }
      const today = days - 1
      const byClass = { always: [0, 0], mostly: [0, 0, 0], irregular: [0, 0, 0] }
      let stopped = 0
      for (const p of pop.patients) {
        const got = checkins.get(p.patientId) ?? []
        if (!p.adherence) {
          expect(got).toEqual([])
          continue
        }
        const end = Math.min(p.dropoutDay ?? days, p.adherence.stopDay ?? days)
        const allowed = Array.from({ length: Math.max(0, end - p.startDay) }, (_, i) => p.startDay + i).filter((d) => (d - p.startDay) % everyDays === 0)
        // Only on due days, never after stopping or dropping out, at most once a day.
        for (const d of got) expect(allowed).toContain(d)
        expect(new Set(got).size).toBe(got.length)
        // Today's check-in may still be ahead of `now`: the figures count the days before.
        const due = allowed.filter((d) => d < today)
        if (p.adherence.stopDay !== null && p.adherence.stopDay < today) stopped++
        if (due.length === 0) continue
        const share = got.filter((d) => d < today).length / due.length
        if (p.adherence.propensity === 1) {
          expect(share).toBe(1)
          // The profile's figures from these days: every period has its check-in, the streak runs through all of them.
          if (p.adherence.stopDay === null && p.dropoutDay === null) {
            const a = adherenceOf(
              [...got].sort((x, y) => x - y).map((d) => dayOf.format(pop.world.midnights[d]! + 12 * 3_600_000)),
              dayOf.format(NOW),
              everyDays,
            )!
            expect(a.rate).toBe(1)
            expect(a.streak).toBe(a.periodsDue)
            byClass.always[0]!++
          }
          byClass.always[1]!++
        } else {
          const c = p.adherence.propensity >= 0.8 ? byClass.mostly : byClass.irregular
          c[0]! += share * due.length
          c[1]! += p.adherence.propensity * due.length
          c[2]! += due.length
        }
      }
      expect(byClass.always[0]).toBeGreaterThan(everyDays === 1 ? 20 : 15)
      expect(stopped).toBeGreaterThan(5)
      // Over every due day of a class, the share checked in is the class's propensity.
      for (const c of [byClass.mostly, byClass.irregular]) {
        expect(c[2]).toBeGreaterThan(500)
        expect(Math.abs(c[0]! / c[2]! - c[1]! / c[2]!)).toBeLessThan(0.03)
      }
    },
  )

  it('copes with a program that only has its identity and keys', async () => {
    const program = programSchema.parse({
      id: 'bare-program',
      name: 'Bare',
      market: 'GB',
      timeZone: 'UTC',
      demo: true,
      keys: { write: [{ id: 'web', key: 'pk_bare_0123456789', origins: ['https://*.example.com'] }], secret: [{ id: 'backend', key: 'sk_bare_0123456789' }] },
    })
    const bareKeys = new KeyIndex([
      programKey({ program: program.id, kind: 'write', id: 'web', key: 'pk_bare_0123456789', origins: ['https://*.example.com'], channel: 'web' }),
      programKey({ program: program.id, kind: 'secret', id: 'backend', key: 'sk_bare_0123456789', origins: [], channel: 'server' }),
    ])
    let events = 0
    for await (const req of generatePopulation({ program, patients: 30, days: 20, seed: 1, now: NOW }).requests()) {
      expect(req.origin ?? 'https://www.example.com').toBe('https://www.example.com')
      const out = ingestBody(
        {
          body: Buffer.from(JSON.stringify(req.body)),
          contentEncoding: '',
          authorization: `Basic ${Buffer.from(`${req.key}:`).toString('base64')}`,
          origin: req.origin,
          userAgent: req.userAgent,
          ip: req.ip,
          receivedAt: NOW,
          limits: HISTORY_LIMITS,
        },
        bareKeys,
      )
      expect(out.error).toBeUndefined()
      expect(out.rejected).toEqual([])
      events += req.body.batch.length
    }
    expect(events).toBeGreaterThan(0)
  })

  it('shows progress as one line', () => {
    expect(formatProgress({ done: 2500, total: 10_000, events: 60_000, ms: 3000 })).toBe(
      '[███████░░░░░░░░░░░░░░░░░░░░░]  25% 2,500/10,000 patients · 60,000 events · 20,000 events/s · ETA 9 s',
    )
  })
})
