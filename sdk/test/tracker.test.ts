// @vitest-environment happy-dom
// The SDK in a simulated page (happy-dom): the exact wire payload, batching, the retry policy,
// consent, single-page navigation, goal clicks and e-mail link tokens.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { memoryStore } from '../src/browser/storage.ts'
import { start, type StartOptions } from '../src/browser/start.ts'
import { retryDelay } from '../src/core/retry.ts'
import type { SendResult } from '../src/core/types.ts'

interface Sent {
  url: string
  body: { batch: Array<Record<string, any>>; sentAt: string; writeKey: string; context?: unknown }
  beacon: boolean
}

/** A transport that records what it is given and answers from a script of statuses. */
function transport(statuses: Array<number | SendResult | 'network'> = []) {
  const sent: Sent[] = []
  const send = vi.fn(async (url: string, body: string, beacon: boolean): Promise<SendResult> => {
    sent.push({ url, body: JSON.parse(body), beacon })
    const next = statuses.shift() ?? 200
    if (next === 'network') throw new TypeError('Failed to fetch')
    return typeof next === 'number' ? { status: next } : next
  })
  return { sent, send, events: () => sent.flatMap((s) => s.body.batch) }
}

const KEY = 'pk_demo_psoriasis_7c2a9e41'
const HOST = 'http://127.0.0.1:8080'
const setUrl = (url: string) => (window as unknown as { happyDOM: { setURL(u: string): void } }).happyDOM.setURL(url)
const boot = (o: Partial<StartOptions> = {}, t = transport()) => ({ api: start({ writeKey: KEY, host: HOST, send: t.send, store: memoryStore(), ...o }), t })

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(new Date('2026-11-23T12:00:00.000Z'))
  setUrl('http://localhost:3000/living-with-psoriasis?utm_source=newsletter')
  document.title = 'Living with psoriasis'
  document.body.innerHTML = ''
  localStorage.clear()
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('wire payload', () => {
  it('is exactly this (ids and times normalised)', async () => {
    document.body.innerHTML = '<article data-attune-content="itch-basics flare-plan"></article>'
    const { api, t } = boot()
    api.identify('p-000123', { plan: 'standard', token: 'ITK.SIGNED' })
    api.goal('diary_downloaded', { value: 5 })
    await vi.advanceTimersByTimeAsync(1000)
    expect(t.sent).toHaveLength(1)
    const norm = JSON.parse(
      JSON.stringify(t.sent[0]!)
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g, 'UUID')
        .replace(/2026-11-23T12:00:0\d\.\d{3}Z/g, 'TIME'),
    )
    const context = {
      page: {
        path: '/living-with-psoriasis',
        url: 'http://localhost:3000/living-with-psoriasis?utm_source=newsletter',
        title: 'Living with psoriasis',
        referrer: '',
      },
      locale: navigator.language,
      library: { name: 'attune.js', version: '0.1.0' },
      sessionId: 'UUID',
    }
    expect(norm).toEqual({
      url: 'http://127.0.0.1:8080/v1/batch',
      beacon: false,
      body: {
        writeKey: KEY,
        sentAt: 'TIME',
        batch: [
          { type: 'page', properties: { content: ['itch-basics', 'flare-plan'] }, messageId: 'UUID', timestamp: 'TIME', anonymousId: 'UUID', context },
          // The identity token rides in every message that names the patient, never as a trait.
          {
            type: 'identify',
            traits: { plan: 'standard' },
            messageId: 'UUID',
            timestamp: 'TIME',
            anonymousId: 'UUID',
            userId: 'p-000123',
            context: { ...context, identityToken: 'ITK.SIGNED' },
          },
          {
            type: 'track',
            event: 'goal_reached',
            properties: { value: 5, goal: 'diary_downloaded' },
            messageId: 'UUID',
            timestamp: 'TIME',
            anonymousId: 'UUID',
            userId: 'p-000123',
            context: { ...context, identityToken: 'ITK.SIGNED' },
          },
        ],
      },
    })
    // One anonymous id and one session for the whole page.
    const batch = t.sent[0]!.body.batch
    expect(new Set(batch.map((m) => m.anonymousId)).size).toBe(1)
    expect(new Set(batch.map((m) => m.context.sessionId)).size).toBe(1)
    expect(new Set(batch.map((m) => m.messageId)).size).toBe(3)
  })
})

describe('identity', () => {
  it('gives a browser a new anonymous id when another patient identifies on it, so the first patient gets nothing more from it', async () => {
    const { api, t } = boot({ autocapture: false })
    api.identify('p-000123', { token: 'ITK.ONE' })
    api.track('first')
    api.identify('p-000456', { token: 'ITK.TWO' })
    api.track('second')
    await api.flush()
    const sent = t.events()
    const anon = (event: string) => sent.find((m) => m.event === event)!.anonymousId
    expect(anon('first')).not.toBe(anon('second'))
    expect(sent.filter((m) => m.type === 'identify').map((m) => [m.userId, m.anonymousId])).toEqual([
      ['p-000123', anon('first')],
      ['p-000456', anon('second')],
    ])
  })

  it('keeps the identity token on the device, forgets it on reset, and drops it with an identify that brings none', async () => {
    const store = memoryStore()
    const { api, t } = boot({ store, autocapture: false })
    api.identify('p-000123', { token: 'ITK.ONE' })
    expect(store.get('attune_itk')).toBe('ITK.ONE')
    api.track('a')
    api.identify('p-000456')
    api.track('b')
    api.reset()
    expect(store.get('attune_itk')).toBeNull()
    api.track('c')
    await api.flush()
    const byEvent = Object.fromEntries(
      t
        .events()
        .filter((m) => m.type === 'track')
        .map((m) => [m.event, [m.userId ?? null, m.context.identityToken ?? null]]),
    )
    expect(byEvent).toEqual({ a: ['p-000123', 'ITK.ONE'], b: ['p-000456', null], c: [null, null] })
  })
})

describe('queue', () => {
  it('flushes at 20 events at once, else after 1 s', async () => {
    const { api, t } = boot({ autocapture: false })
    for (let i = 0; i < 19; i++) api.track('e', { i })
    await vi.advanceTimersByTimeAsync(0)
    expect(t.sent).toHaveLength(0)
    api.track('e', { i: 19 })
    await vi.advanceTimersByTimeAsync(0)
    expect(t.sent.map((s) => s.body.batch.length)).toEqual([20])
    api.track('e', { i: 20 })
    await vi.advanceTimersByTimeAsync(999)
    expect(t.sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(t.events().map((e) => e.properties.i)).toEqual(Array.from({ length: 21 }, (_, i) => i))
  })

  it('keeps unsent events across a reload and sends them then, once acknowledged never again', async () => {
    const store = memoryStore()
    const first = boot({ autocapture: false, store }, transport(['network', 'network', 'network']))
    first.api.track('offline_1')
    first.api.track('offline_2')
    await vi.advanceTimersByTimeAsync(1000)
    expect(first.t.sent).toHaveLength(1)
    // The page is reloaded while offline: a new SDK on the same storage.
    const second = boot({ autocapture: false, store })
    await vi.advanceTimersByTimeAsync(0)
    expect(second.t.events().map((e) => e.event)).toEqual(['offline_1', 'offline_2'])
    const ids = second.t.events().map((e) => e.messageId)
    expect(ids).toEqual(first.t.events().map((e) => e.messageId))
    const third = boot({ autocapture: false, store })
    await vi.advanceTimersByTimeAsync(5000)
    expect(third.t.sent).toHaveLength(0)
  })

  it('drops the oldest beyond 1,000 queued events and says how many were dropped', async () => {
    const { api, t } = boot({ autocapture: false }, transport(Array(100).fill(503)))
    for (let i = 0; i < 1005; i++) api.track('e', { i })
    // The first batch went out at 20 and failed; everything stays queued, at most 1,000.
    t.sent.length = 0
    await vi.advanceTimersByTimeAsync(60_000)
    const last = t.sent.at(-1)!
    expect(last.body.batch[0]!.properties.i).toBeGreaterThanOrEqual(5)
    expect(last.body.context).toEqual({ attune: { dropped: 5 } })
  })
})

describe('retry policy (D10)', () => {
  it('backs off 1 s → 30 s doubling with jitter, honouring Retry-After', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 12].map((a) => retryDelay(a, null, () => 0))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
    expect(retryDelay(3, null, () => 0.999)).toBeLessThanOrEqual(5000)
    expect(retryDelay(3, null, () => 0.999)).toBeGreaterThan(4000)
    expect(retryDelay(1, 7)).toBe(7000)
    expect(retryDelay(1, 100_000)).toBe(600_000)
  })

  it('retries network errors, 408, 429 and 5xx; never other 4xx', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const t = transport(['network', 503, { status: 429, retryAfter: 7 }, 200])
    const { api } = boot({ autocapture: false }, t)
    api.track('x')
    await vi.advanceTimersByTimeAsync(1000) // first attempt: network error
    expect(t.sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1000) // after 1 s: 503
    expect(t.sent).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(2000) // after 2 s: 429 with Retry-After 7
    expect(t.sent).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(6999)
    expect(t.sent).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(1) // 7 s after the 429: 200
    expect(t.sent).toHaveLength(4)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(t.sent).toHaveLength(4)
    expect(new Set(t.sent.map((s) => s.body.batch[0]!.messageId)).size).toBe(1)

    for (const status of [400, 401, 403, 410, 413, 422]) {
      const refused = transport([status])
      const b = boot({ autocapture: false }, refused)
      b.api.track('x')
      await vi.advanceTimersByTimeAsync(120_000)
      expect(refused.sent, String(status)).toHaveLength(1)
    }
  })
})

describe('consent', () => {
  it('with data-require-consent sends and stores nothing until consent, then sends what was held', async () => {
    const t = transport()
    const api = start({ writeKey: KEY, host: HOST, send: t.send, requireConsent: true })
    api.track('before_consent')
    await vi.advanceTimersByTimeAsync(5000)
    expect(t.sent).toHaveLength(0)
    expect(localStorage.length).toBe(0)
    expect(document.cookie).toBe('')
    api.consent({ analytics: true })
    await vi.advanceTimersByTimeAsync(0)
    expect(t.events().map((e) => `${e.type}:${e.event ?? ''}`)).toEqual(['page:', 'track:before_consent'])
    expect(localStorage.getItem('attune_aid')).toBe(t.events()[0]!.anonymousId)
    // Withdrawn: nothing more is sent and the device forgets the ids.
    api.consent({ analytics: false })
    api.track('after_withdrawal')
    await vi.advanceTimersByTimeAsync(5000)
    expect(t.sent).toHaveLength(1)
    expect(localStorage.getItem('attune_aid')).toBeNull()
  })

  it('honours Global Privacy Control and Do Not Track unless the site states consent', async () => {
    Object.defineProperty(navigator, 'globalPrivacyControl', { value: true, configurable: true })
    try {
      const t = transport()
      const api = start({ writeKey: KEY, host: HOST, send: t.send })
      await vi.advanceTimersByTimeAsync(5000)
      expect(t.sent).toHaveLength(0)
      api.consent({ analytics: true })
      await vi.advanceTimersByTimeAsync(0)
      expect(t.events().map((e) => e.type)).toEqual(['page'])
    } finally {
      Object.defineProperty(navigator, 'globalPrivacyControl', { value: undefined, configurable: true })
    }
  })
})

describe('capture', () => {
  it('records single-page navigation (pushState, replaceState, back) once per new address', async () => {
    const { t } = boot()
    // The page view waits a tick for the app to show the new view (its title and content ids).
    const tick = () => vi.advanceTimersByTimeAsync(0)
    history.pushState({}, '', '/treatments')
    await tick()
    history.replaceState({}, '', '/treatments') // same address: no page view
    await tick()
    history.replaceState({}, '', '/treatments?tab=biologics')
    await tick()
    history.pushState({}, '', '/diary')
    await tick()
    history.back()
    await vi.advanceTimersByTimeAsync(50)
    window.dispatchEvent(new PopStateEvent('popstate'))
    await vi.advanceTimersByTimeAsync(1000)
    expect(t.events().map((e) => e.context.page.url.replace('http://localhost:3000', ''))).toEqual([
      '/living-with-psoriasis?utm_source=newsletter',
      '/treatments',
      '/treatments?tab=biologics',
      '/diary',
      '/treatments?tab=biologics',
    ])
  })

  it('records goal clicks from data-attune-goal', async () => {
    document.body.innerHTML = '<a href="/diary.pdf" data-attune-goal="diary_downloaded" data-attune-value="10"><span id="inner">Download</span></a>'
    const { t } = boot()
    document.getElementById('inner')!.click()
    await vi.advanceTimersByTimeAsync(1000)
    expect(t.events().find((e) => e.event === 'goal_reached')?.properties).toEqual({ goal: 'diary_downloaded', value: 10, href: '/diary.pdf' })
  })

  it('sends an e-mail or SMS link token once and takes it out of the address bar', async () => {
    const payload = (ch: string) =>
      Buffer.from(JSON.stringify({ v: 1, p: 'psoriasis-demo', u: 'p-000123', m: 'msg-1', c: 'itch-tips', ch, exp: 2_000_000_000 })).toString('base64url')
    setUrl(`http://localhost:3000/itch?utm_campaign=itch-tips&atn=${payload('sms')}.c2lnbmF0dXJl#top`)
    const { t } = boot()
    expect(location.href).toBe('http://localhost:3000/itch?utm_campaign=itch-tips#top')
    await vi.advanceTimersByTimeAsync(1000)
    const [click, page] = t.events()
    expect(click).toMatchObject({
      type: 'track',
      event: 'sms_click',
      properties: { token: `${payload('sms')}.c2lnbmF0dXJl`, url: 'http://localhost:3000/itch?utm_campaign=itch-tips#top' },
    })
    expect(page!.type).toBe('page')
    expect(JSON.stringify(page)).not.toContain('atn=')
    // A token whose payload cannot be read is still sent (the collector says it is invalid).
    setUrl('http://localhost:3000/itch?atn=garbage')
    const other = boot()
    await vi.advanceTimersByTimeAsync(1000)
    expect(other.t.events()[0]).toMatchObject({ event: 'email_click', properties: { token: 'garbage' } })
  })

  it('loads the personalisation chunk only on pages with a slot or a questionnaire, and only with consent to it', () => {
    const load = vi.fn()
    boot({ loadPersonalisation: load })
    expect(load).not.toHaveBeenCalled()
    document.body.innerHTML = '<div data-attune-slot="hero">Default</div>'
    boot({ loadPersonalisation: load })
    expect(load).toHaveBeenCalledTimes(1)
    expect(load.mock.calls[0]![0]).toMatchObject({ host: HOST, writeKey: KEY })
    document.body.innerHTML = '<div data-attune-questionnaire="first-needs"></div>'
    boot({ loadPersonalisation: load })
    expect(load).toHaveBeenCalledTimes(2)
    const store = memoryStore()
    store.set('attune_consent', JSON.stringify({ analytics: true, personalisation: false }))
    boot({ loadPersonalisation: load, store })
    expect(load).toHaveBeenCalledTimes(2)
  })

  it('never throws into the host page', async () => {
    const { api } = boot(
      {},
      {
        sent: [],
        send: vi.fn(() => {
          throw new Error('boom')
        }) as never,
        events: () => [],
      },
    )
    expect(() =>
      api.track(undefined as never, {
        circular: (() => {
          const o: any = {}
          o.o = o
          return o
        })(),
      }),
    ).not.toThrow()
    expect(() => api.identify(null as never)).not.toThrow()
    await vi.advanceTimersByTimeAsync(5000)
  })
})
