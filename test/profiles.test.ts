// Profiles from the aggregate tables, compared with an independent reference computed here from
// the events as sent: inferred needs (content weights, decayed per day with the half-life),
// explicit needs from the latest answers, and ids linked late (events before identify count).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAY_MS, matchesUrlPattern, type Program, sql } from '../analytics/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
let program: Program
beforeAll(async () => {
  // Forty days of a browser's history sent as it happened: the live window is widened to take it.
  svc = await startService({ env: { ATTUNE_LIVE_WINDOW_DAYS: '60' } })
  program = svc.service.programs.find((p) => p.program.id === DEMO.program)!.program
})
afterAll(() => svc?.stop())

const now = Date.now()
const at = (daysAgo: number, hour = 10) => new Date(Math.floor((now - daysAgo * DAY_MS) / DAY_MS) * DAY_MS + hour * 3600_000).toISOString()

type Sent = {
  type: 'page' | 'track' | 'identify'
  anonymousId?: string
  userId?: string
  event?: string
  timestamp: string
  properties?: Record<string, unknown>
  context?: Record<string, unknown>
}

/** The independent reference: what each sent event means for needs, decayed to `asOf`. */
function referenceNeeds(events: Sent[], asOf: number): Map<string, number> {
  const scores = new Map<string, number>()
  for (const e of events) {
    const ids = new Set<string>()
    const c = e.properties?.content
    for (const id of typeof c === 'string' ? [c] : Array.isArray(c) ? c : []) ids.add(id as string)
    const path = (e.context?.page as { path?: string } | undefined)?.path
    if (e.type === 'page' && path) for (const item of program.content) if (item.urlPatterns.some((p) => matchesUrlPattern(p, path))) ids.add(item.id)
    const dayStart = Math.floor(Date.parse(e.timestamp) / DAY_MS) * DAY_MS
    const decay = 2 ** (-(asOf - dayStart) / (program.needHalfLifeDays * DAY_MS))
    for (const id of ids) {
      for (const [need, w] of Object.entries(program.content.find((x) => x.id === id)?.needs ?? {}))
        scores.set(need, (scores.get(need) ?? 0) + Math.fround(w) * decay)
    }
  }
  return scores
}

async function send(events: Array<Sent & { messageId: string }>, key: string) {
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', origin: 'http://localhost:5173' },
    body: JSON.stringify({ batch: events }),
  })
  expect(res.status, await res.clone().text()).toBe(200)
  expect(((await res.json()) as { rejected: unknown[] }).rejected).toEqual([])
}

async function profile(patient: string, key: string = DEMO.secretKey, query = '') {
  return svc.service.app.request(`/v1/profiles/${patient}${query}`, { headers: { authorization: basic(key) } })
}

describe('profiles', () => {
  it('infer needs from content shown, across ids linked late, as the reference computes them; answers outrank', async () => {
    const anon = 'a-prof-1'
    const patient = 'p-prof-1'
    const browser: Sent[] = [
      {
        type: 'page',
        anonymousId: anon,
        timestamp: at(40),
        properties: { content: ['itch-basics', 'flare-plan'] },
        context: { page: { path: '/demo/', url: 'http://localhost:5173/demo/' } },
      },
      { type: 'page', anonymousId: anon, timestamp: at(10), context: { page: { path: '/demo/treatments', url: 'http://localhost:5173/demo/treatments' } } },
      {
        type: 'page',
        anonymousId: anon,
        timestamp: at(3),
        properties: { content: 'diary-howto' },
        context: { page: { path: '/demo/elsewhere', url: 'http://localhost:5173/demo/elsewhere' } },
      },
      { type: 'page', anonymousId: anon, timestamp: at(0, 0), context: { page: { path: '/demo/support', url: 'http://localhost:5173/demo/support' } } },
      { type: 'track', anonymousId: anon, event: 'goal_reached', timestamp: at(3, 11), properties: { goal: 'diary_downloaded' } },
      // Counts once, however often.
      { type: 'track', anonymousId: anon, event: 'goal_reached', timestamp: at(2, 11), properties: { goal: 'diary_downloaded' } },
      // Linked only now: everything above belongs to the patient from here on.
      { type: 'identify', anonymousId: anon, userId: patient, timestamp: at(0, 0), context: { identityToken: identityToken(patient) } },
    ]
    const backend: Sent[] = [
      {
        type: 'track',
        userId: patient,
        event: 'print_magazine_read',
        timestamp: at(5),
        properties: { content: ['topical-treatments', 'not-in-the-catalogue'] },
      },
      { type: 'track', userId: patient, event: 'medication_checkin', timestamp: at(4) },
      { type: 'track', userId: patient, event: 'medication_checkin', timestamp: at(2) },
      {
        type: 'track',
        userId: patient,
        event: 'questionnaire_answered',
        timestamp: at(1),
        properties: {
          questionnaire: 'first-needs',
          answers: [
            { question: 'main-concern', answer: 'itch' },
            { question: 'mood', answer: 'coping' },
          ],
        },
      },
      // A newer answer to the same question replaces the older one.
      {
        type: 'track',
        userId: patient,
        event: 'questionnaire_answered',
        timestamp: at(0, 0),
        properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'sometimes-down' }] },
      },
    ]
    await send(
      browser.map((e, i) => ({ ...e, messageId: `prof-b-${i}` })),
      DEMO.writeKey,
    )
    await send(
      backend.map((e, i) => ({ ...e, messageId: `prof-s-${i}` })),
      DEMO.secretKey,
    )
    let body: any
    await waitFor(
      async () => {
        body = await (await profile(patient, DEMO.secretKey, `?program=${DEMO.program}`)).json()
        return body.ids?.length === 2 && body.answers?.length === 2 && body.channels?.length === 3 && body.goals?.length === 3
      },
      20_000,
      'the profile',
    )
    expect(body.ids).toEqual([patient, `browser:${anon}`])
    // Scores decay by the millisecond: the reference is computed for the time the profile says it is of.
    const expected = referenceNeeds([...browser, ...backend], Date.parse(body.asOf))
    const inferred = new Map<string, number>((body.needs as Array<{ need: string; inferred: number }>).map((n) => [n.need, n.inferred]))
    expect([...expected.keys()].sort()).toEqual(
      [...inferred]
        .filter(([, v]) => v > 0)
        .map(([k]) => k)
        .sort(),
    )
    for (const [need, score] of expected) expect(inferred.get(need), need).toBeCloseTo(score, 6)
    // Explicit: the latest answer per question, through the questionnaire's answer weights.
    const byNeed = Object.fromEntries((body.needs as Array<{ need: string; source: string; score: number }>).map((n) => [n.need, n]))
    expect(byNeed['itch-and-flares']).toMatchObject({ source: 'explicit', score: 1 })
    expect(byNeed['emotional-wellbeing']).toMatchObject({ source: 'explicit', score: 0.5 })
    expect(byNeed['treatment-understanding']!.source).toBe('inferred')
    // Explicit needs come first, then inferred ones, each highest first.
    const sources = (body.needs as Array<{ source: string }>).map((n) => n.source)
    expect(sources.lastIndexOf('explicit')).toBeLessThan(sources.indexOf('inferred'))
    expect(body.answers.map((a: { question: string; answer: string }) => `${a.question}=${a.answer}`)).toEqual(['main-concern=itch', 'mood=sometimes-down'])
    // print_* events are the print channel's (by event name), the rest the keys' own.
    expect(body.channels.map((c: { channel: string }) => c.channel).sort()).toEqual(['print', 'server', 'web'])

    // Goals and engagement, against the program's goal definitions applied here to the events as sent.
    const times = new Map<string, number>()
    for (const e of [...browser, ...backend]) {
      const name = e.event ?? e.type
      for (const g of program.goals)
        if (g.events.some((ge) => ge.event === name && Object.entries(ge.where ?? {}).every(([k, v]) => e.properties?.[k] === v)))
          times.set(g.id, (times.get(g.id) ?? 0) + 1)
    }
    const value = [...times].reduce((sum, [id, n]) => {
      const g = program.goals.find((x) => x.id === id)!
      return sum + g.points * (g.countOnce ? 1 : n)
    }, 0)
    expect(Object.fromEntries(body.goals.map((g: { goal: string; times: number }) => [g.goal, g.times]))).toEqual(Object.fromEntries(times))
    expect(value).toBe(20 + 10 + 5 * 2)
    expect(body.engagement.value).toBe(value)
    expect(body.engagement.level).toEqual({ level: 1, name: 'First needs' })
    expect(body.engagement.next).toMatchObject({ level: 2, toGo: 60 - value })
    // Level 1 content, but not the lapsed item nor the one approved only for another market.
    expect(body.engagement.unlocked.content).toContain('topical-treatments')
    expect(body.engagement.unlocked.content).not.toContain('summer-sun-and-skin')
    expect(body.engagement.unlocked.content).not.toContain('dermatologist-finder-at')
    expect(body.engagement.unlocked.questionnaires).toEqual(['first-needs'])

    // Pattern: the nearest card to the need vector used, both scaled to a maximum of 1.
    expect(body.profiledTouches).toBe(5)
    const used = program.needs.map((n) => (body.needs as Array<{ need: string; score: number }>).find((x) => x.need === n.id)!.score)
    const scale = (v: number[]) => {
      const m = Math.max(...v.map((x) => Math.max(0, x)))
      return v.map((x) => Math.max(0, x) / m)
    }
    const mine = scale(used)
    const nearest = program.patterns
      .map((p) => ({ id: p.id, d: Math.hypot(...scale(program.needs.map((n) => p.needs[n.id] ?? 0)).map((c, i) => c - mine[i]!)) }))
      .sort((a, b) => a.d - b.d)[0]!
    expect(body.pattern).toMatchObject({ id: nearest.id })
    expect(body.pattern.distance).toBeCloseTo(nearest.d, 5)

    // Adherence: check-ins 4 and 2 days ago against a daily schedule; none yet today or yesterday.
    expect(body.adherence).toMatchObject({ streak: 0, periodsWithCheckin: 2 })
    expect(body.adherence.rate).toBeCloseTo(2 / body.adherence.periodsDue, 3)
    expect([4, 5]).toContain(body.adherence.periodsDue)

    // The timeline: every touch of both ids, oldest first.
    const tl = (await (
      await svc.service.app.request(`/v1/profiles/${patient}/timeline?days=60`, { headers: { authorization: basic(DEMO.secretKey) } })
    ).json()) as { ids: string[]; entries: Array<{ ts: string; event: string; type: string }> }
    expect(tl.ids).toEqual([patient, `browser:${anon}`])
    expect(tl.entries).toHaveLength(browser.length + backend.length)
    expect(tl.entries.map((e) => e.ts)).toEqual([...tl.entries.map((e) => e.ts)].sort())
    expect((await svc.service.app.request(`/v1/profiles/${patient}/timeline?days=0`, { headers: { authorization: basic(DEMO.secretKey) } })).status).toBe(400)
  })

  it('are read only with the program’s secret key', async () => {
    expect((await profile('p-prof-1', DEMO.writeKey)).status).toBe(403)
    expect((await profile('p-prof-1', DEMO.secretKey, '?program=smoking-cessation-demo')).status).toBe(403)
    expect((await profile('p-prof-1', 'sk_nope_1234567890')).status).toBe(401)
    const unknown = await (await profile('p-nobody')).json()
    expect(unknown).toMatchObject({ ids: ['p-nobody'], answers: [], channels: [] })
    expect((unknown as { needs: Array<{ inferred: number }> }).needs.every((n) => n.inferred === 0)).toBe(true)
  })

  it('every profile model passes EXPLAIN', async () => {
    for (const name of ['profile-ids', 'actor-aggregates', 'identity-links-page', 'profile-timeline', 'need-vectors']) {
      const text = sql(name)
      const params = {
        program: 'p',
        patient: 'x',
        ids: ['x'],
        now: '2026-11-23 12:00:00.000',
        since: '2026-11-01 00:00:00.000',
        half_life_days: 30,
        limit: 10,
        checkin_goal: 'g',
        checkin_since: '2026-11-01 00:00:00.000',
        tz: 'Europe/Berlin',
        all: 0,
        pages: 1,
        page: 0,
        anchor: '2026-11-23 12:00:00.000',
        clamp: '2026-11-23 12:00:00.000',
      }
      await expect(svc.service.db.query(`EXPLAIN ${text}`, params), name).resolves.toBeDefined()
    }
  })
})
