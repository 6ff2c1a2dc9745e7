// Goal attribution (first touch, last touch, linear) by channel and campaign, compared with an
// independent computation here from the stored events, across web, e-mail, SMS and the call
// centre, with a browser linked to its patient only after some of its touches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAY_MS, goalAttribution, sql } from '../analytics/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  // A history of 40 days sent as it happened: the live window is widened to take it from every key.
  svc = await startService({ env: { ATTUNE_LIVE_WINDOW_DAYS: '60' } })
})
afterAll(() => svc?.stop())

const now = Date.now()
const at = (days: number) => new Date(now - days * DAY_MS).toISOString()
const CALL_KEY = 'sk_demo_psoriasis_call_91c2a7'

async function send(key: string, batch: object[], origin?: string) {
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: JSON.stringify({ batch }),
  })
  expect(res.status, await res.clone().text()).toBe(200)
}

type Ev = { ts: string; channel: string; utm_campaign: string; goal_ids: string[]; user_id: string; anonymous_id: string; type: string }

/** The reference: persons from the id pairs seen together, touches before each conversion within the lookback. */
function reference(events: Ev[], since: number, lookbackDays: number) {
  const userOf = new Map<string, string>()
  for (const e of [...events].sort((a, b) => a.user_id.localeCompare(b.user_id)))
    if (e.user_id && e.anonymous_id && !userOf.has(e.anonymous_id)) userOf.set(e.anonymous_id, e.user_id)
  const person = (e: Ev) => e.user_id || userOf.get(e.anonymous_id) || e.anonymous_id
  const credit = new Map<string, number>()
  const add = (goal: string, model: string, e: Ev, c: number) => {
    const k = `${goal}|${model}|${e.channel}|${e.utm_campaign}`
    credit.set(k, (credit.get(k) ?? 0) + c)
  }
  const t = (e: Ev) => Date.parse(`${e.ts.replace(' ', 'T')}Z`)
  for (const conv of events) {
    if (t(conv) < since) continue
    for (const goal of conv.goal_ids) {
      const prior = events
        .filter((e) => person(e) === person(conv) && ['page', 'screen', 'track'].includes(e.type) && t(e) < t(conv) && t(e) >= t(conv) - lookbackDays * DAY_MS)
        .sort((a, b) => t(a) - t(b))
      if (prior.length === 0) for (const m of ['first_touch', 'last_touch', 'linear']) add(goal, m, conv, 1)
      else {
        add(goal, 'first_touch', prior[0]!, 1)
        add(goal, 'last_touch', prior.at(-1)!, 1)
        for (const p of prior) add(goal, 'linear', p, 1 / prior.length)
      }
    }
  }
  return credit
}

describe('goal attribution', () => {
  it('credits conversions to the touches before them as an independent computation does', async () => {
    await send(
      DEMO.writeKey,
      [
        {
          type: 'page',
          anonymousId: 'a-att-1',
          messageId: 'att-1',
          timestamp: at(20),
          context: { page: { path: '/demo/', url: 'http://localhost:5173/demo/?utm_campaign=itch-tips&utm_source=search' } },
        },
        {
          type: 'page',
          anonymousId: 'a-att-1',
          messageId: 'att-2',
          timestamp: at(12),
          context: { page: { path: '/demo/diary', url: 'http://localhost:5173/demo/diary' } },
        },
        {
          type: 'identify',
          anonymousId: 'a-att-1',
          userId: 'p-att-1',
          messageId: 'att-3',
          timestamp: at(11),
          context: { identityToken: identityToken('p-att-1') },
        },
        // Too old for a 30-day lookback of the conversion 5 days ago.
        {
          type: 'page',
          anonymousId: 'a-att-2',
          messageId: 'att-4',
          timestamp: at(40),
          context: { page: { path: '/demo/', url: 'http://localhost:5173/demo/?utm_campaign=old' } },
        },
      ],
      'http://localhost:5173',
    )
    await send(DEMO.secretKey, [
      { type: 'track', userId: 'p-att-1', event: 'email_click', messageId: 'att-5', timestamp: at(8), context: { campaign: { name: 'newsletter-nov' } } },
      { type: 'track', userId: 'p-att-1', event: 'sms_click', messageId: 'att-6', timestamp: at(6), context: { campaign: { name: 'checkin-reminder' } } },
      { type: 'track', userId: 'p-att-1', event: 'medication_checkin', messageId: 'att-7', timestamp: at(5) },
      { type: 'track', userId: 'p-att-1', event: 'medication_checkin', messageId: 'att-8', timestamp: at(1) },
      { type: 'track', userId: 'p-att-2', event: 'medication_checkin', messageId: 'att-9', timestamp: at(2) },
      { type: 'identify', anonymousId: 'a-att-2', userId: 'p-att-2', messageId: 'att-10', timestamp: at(39) },
    ])
    await send(CALL_KEY, [
      { type: 'track', userId: 'p-att-1', event: 'call_completed', messageId: 'att-11', timestamp: at(3), properties: { outcome: 'reached' } },
    ])
    const q =
      "SELECT toString(ts) AS ts, toString(channel) AS channel, toString(utm_campaign) AS utm_campaign, goal_ids, user_id, anonymous_id, type FROM events WHERE message_id LIKE 'att-%'"
    let events: Ev[] = []
    await waitFor(async () => (events = await svc.service.db.query<Ev>(q)).length === 11, 20_000, 'the events')
    const since = now - 10 * DAY_MS
    const rows = await goalAttribution(svc.service.db, DEMO.program, { since, lookbackDays: 30 })
    const got = new Map(rows.map((r) => [`${r.goal}|${r.model}|${r.channel}|${r.campaign}`, r.conversions]))
    const want = reference(events, since, 30)
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
    for (const [k, v] of want) expect(got.get(k), k).toBeCloseTo(v, 9)
    // Spot checks of what the fixture means.
    expect(got.get('treatment_checkin|first_touch|web|itch-tips')).toBe(2)
    // The call 3 days ago: last touch the check-in 5 days ago (a touch though it reached a goal itself).
    expect(got.get('nurse_call_completed|last_touch|server|')).toBe(1)
    expect(got.get('nurse_call_completed|linear|sms|checkin-reminder')).toBeCloseTo(1 / 5, 9)
    expect(got.get('treatment_checkin|first_touch|web|old')).toBeUndefined()
    const channels = new Set(rows.map((r) => r.channel))
    for (const c of ['web', 'email', 'sms']) expect(channels.has(c), c).toBe(true)
  })

  it('passes EXPLAIN', async () => {
    const text = sql('goal-attribution')
    await expect(
      svc.service.db.query(`EXPLAIN ${text}`, { program: 'p', since: '2026-11-01 00:00:00.000', until: '2026-11-23 00:00:00.000', lookback_days: 30 }),
    ).resolves.toBeDefined()
  })
})
