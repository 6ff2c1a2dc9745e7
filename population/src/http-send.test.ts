// Sending a population over HTTP: the keys, origin and agent each request needs, retries on
// 429/503/network errors honouring Retry-After, and a whole population accepted by a collector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { loadPrograms } from '../../analytics/index.ts'
import { DEMO, ROOT, startService, waitFor } from '../../test/helpers.ts'
import { generatePopulation, sendHttp, type PopulationRequest } from '../index.ts'

const demo = loadPrograms(join(ROOT, 'programs'), {}).find((p) => p.program.id === 'psoriasis-demo')!
const NOW = Date.now()

async function* only(...reqs: PopulationRequest[]): AsyncGenerator<PopulationRequest> {
  yield* reqs
}
const request = (over: Partial<PopulationRequest> = {}): PopulationRequest => ({
  key: 'pk_demo_psoriasis_7f3a9c2e',
  keyId: 'web-demo',
  kind: 'write',
  origin: 'http://localhost:8080',
  userAgent: 'Mozilla/5.0 Test',
  ip: '10.1.2.3',
  body: { batch: [{ type: 'track', messageId: 'm-1', timestamp: new Date(NOW - 60_000).toISOString(), anonymousId: 'a-1', event: 'x' }] },
  patientsDone: 1,
  arrivesAt: NOW,
  ...over,
})
const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers })

describe('sendHttp', () => {
  it('sends the key, origin and agent, and retries 503 and 429 after Retry-After and network errors with backoff', async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = []
    const replies = [
      () => answer(503, { error: { code: 'spool_full' } }, { 'retry-after': '5' }),
      () => {
        throw new TypeError('fetch failed')
      },
      () => answer(429, {}),
      () => answer(200, { success: true, accepted: 1, rejected: [] }),
    ]
    const waits: number[] = []
    const stats = await sendHttp(only(request()), {
      url: 'http://collector.test/',
      fetch: (async (url: string, init: RequestInit) => {
        seen.push({ url, headers: init.headers as Record<string, string> })
        return replies.shift()!()
      }) as typeof fetch,
      sleep: async (ms) => void waits.push(ms),
    })
    expect(seen[0]!.url).toBe('http://collector.test/v1/batch')
    expect(seen[0]!.headers).toMatchObject({
      authorization: `Basic ${Buffer.from('pk_demo_psoriasis_7f3a9c2e:').toString('base64')}`,
      origin: 'http://localhost:8080',
      'user-agent': 'Mozilla/5.0 Test',
    })
    expect(stats).toMatchObject({ requests: 1, events: 1, accepted: 1, rejected: [], failed: [], retries: 3 })
    expect(waits[0]).toBe(5000)
    expect(waits[1]).toBeGreaterThanOrEqual(2000)
    expect(waits[2]).toBeGreaterThanOrEqual(4000)
  })

  it('does not retry a request the collector refuses for good', async () => {
    const stats = await sendHttp(only(request({ kind: 'secret', origin: undefined })), {
      url: 'http://collector.test',
      fetch: (async () => answer(401, { error: { code: 'unknown_key' } })) as unknown as typeof fetch,
      sleep: async () => {},
    })
    expect(stats.retries).toBe(0)
    expect(stats.failed).toEqual([{ keyId: 'web-demo', status: 401, body: '{"error":{"code":"unknown_key"}}' }])
  })
})

describe('sendHttp to a collector', () => {
  let svc: Awaited<ReturnType<typeof startService>>
  beforeAll(async () => {
    svc = await startService()
  })
  afterAll(() => svc?.stop())

  it('has a whole population accepted and landed', async () => {
    const population = generatePopulation({ program: demo.program, keys: demo.keys, patients: 40, days: 20, seed: 12, now: NOW })
    const app = svc.service.app
    // Twenty days of history: older than the live window, so it goes as an import.
    const stats = await sendHttp(population.requests(), {
      url: 'http://localhost:8080',
      importKey: DEMO.secretKey,
      fetch: ((url: string, init: RequestInit) => app.request(url, init)) as typeof fetch,
    })
    expect(stats).toMatchObject({ failed: [], rejected: [], retries: 0, accepted: stats.events })
    expect(stats.events).toBeGreaterThan(100)
    await waitFor(() => svc.service.sink.inserted === stats.events, 20_000, 'every event to land')
  })
})
