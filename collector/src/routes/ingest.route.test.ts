// The Segment tracking API over in-process HTTP (app.request) on the real embedded ClickHouse:
// every endpoint, every error answer, the limits of L1, the origin rules of K2 and the
// counters of D11.
import fc from 'fast-check'
import { once } from 'node:events'
import type { Transform } from 'node:stream'
import { brotliCompressSync, constants as zlibConstants, createBrotliCompress, createDeflate, createGzip, deflateSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basic, DEMO, metricTotal, scrapeMetrics, startService, waitFor } from '../../../test/helpers.ts'
import { MAX_BODY_BYTES } from '../pipeline/decode-body.ts'
import { MAX_EVENT_BYTES } from '../pipeline/validate.step.ts'
import type { Service } from '../service.ts'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

beforeAll(async () => {
  svc = await startService()
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

interface PostOptions {
  key?: string | null
  headers?: Record<string, string>
  raw?: string | Buffer
}

/** POSTs a JSON body (or raw bytes) with the key as HTTP Basic. */
function post(path: string, body: unknown, opts: PostOptions = {}): Promise<Response> {
  const key = opts.key === undefined ? DEMO.secretKey : opts.key
  return Promise.resolve(
    service.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: basic(key) } : {}), ...opts.headers },
      body: opts.raw ?? JSON.stringify(body),
    }),
  )
}

async function answer(res: Response): Promise<{ status: number; body: unknown }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return { status: res.status, body: await res.json() }
}

const ok = (accepted: number, rejected: unknown[] = []) => ({ status: 200, body: { success: true, accepted, rejected } })
/** An error answer: the detail under `error`, its code and message again at the top level (what Segment's libraries read). */
const err = (status: number, error: Record<string, unknown>) => ({ status, body: { error, code: error.code, message: error.message } })

/** Prometheus samples by `name{labels}`. */
const scrape = () => scrapeMetrics(service.app)
/** Sum of every sample of a metric (all label sets), optionally only those whose labels contain `having`. */
const total = metricTotal

const track = (over: Record<string, unknown> = {}) => ({ type: 'track', userId: 'p-1', anonymousId: 'a-1', event: 'diary_downloaded', ...over })

/** A /v1/batch body of exactly `bytes` bytes (ASCII), every event under the 32 KB limit. */
function batchOfSize(bytes: number): { text: string; events: number } {
  const per = 30_000
  const events = Math.ceil(bytes / per)
  const mk = (pads: string[]) => JSON.stringify({ batch: pads.map((pad, i) => track({ messageId: `size-${bytes}-${i}`, properties: { pad } })) })
  const base = mk(Array(events).fill('')).length
  let rest = bytes - base
  const pads: string[] = []
  for (let i = 0; i < events; i++) {
    const n = Math.min(rest, per - 200)
    pads.push('x'.repeat(n))
    rest -= n
  }
  expect(rest).toBe(0)
  const text = mk(pads)
  expect(text.length).toBe(bytes)
  return { text, events }
}

/** `bytes` zeros compressed without ever holding them in memory at once. */
async function bomb(encoding: 'gzip' | 'deflate' | 'br', bytes: number): Promise<Buffer> {
  const z: Transform =
    encoding === 'gzip'
      ? createGzip({ level: 9 })
      : encoding === 'deflate'
        ? createDeflate({ level: 9 })
        : createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } })
  const chunks: Buffer[] = []
  z.on('data', (c: Buffer) => chunks.push(c))
  const ended = once(z, 'end')
  const zeros = Buffer.alloc(1 << 20)
  for (let written = 0; written < bytes; written += zeros.length) if (!z.write(zeros)) await once(z, 'drain')
  z.end()
  await ended
  return Buffer.concat(chunks)
}

describe('ingestion endpoints', () => {
  it('accepts one message on each single-message endpoint and stores it with its type', async () => {
    const messages: Array<[string, Record<string, unknown>]> = [
      ['track', { userId: 'p-1', event: 'injection_logged', messageId: 'ep-track', properties: { dose: 1 } }],
      ['page', { anonymousId: 'a-1', name: 'Home', messageId: 'ep-page' }],
      ['screen', { userId: 'p-1', name: 'Diary', messageId: 'ep-screen' }],
      ['identify', { userId: 'p-1', traits: { plan: 'standard' }, messageId: 'ep-identify' }],
      ['alias', { userId: 'p-1', previousId: 'a-1', messageId: 'ep-alias' }],
      ['group', { userId: 'p-1', groupId: 'clinic-7', messageId: 'ep-group' }],
    ]
    for (const [type, msg] of messages) {
      expect(await answer(await post(`/v1/${type}`, msg)), type).toEqual(ok(1))
      // `type` may be given too, when it matches the endpoint.
      expect(await answer(await post(`/v1/${type}`, { ...msg, type, messageId: `${msg.messageId}-typed` })), type).toEqual(ok(1))
    }
    const ids = messages.flatMap(([, m]) => [m.messageId as string, `${m.messageId}-typed`])
    await waitFor(
      async () => (await service.db.query<{ c: number }>('SELECT count() c FROM events WHERE message_id IN {ids:Array(String)}', { ids }))[0]!.c === ids.length,
      20_000,
      'endpoint events',
    )
    const rows = await service.db.query<{ message_id: string; type: string; event: string; previous_id: string; group_id: string }>(
      "SELECT message_id, type, event, previous_id, group_id FROM events WHERE message_id IN {ids:Array(String)} AND message_id NOT LIKE '%-typed' ORDER BY message_id",
      { ids },
    )
    expect(rows).toEqual([
      { message_id: 'ep-alias', type: 'alias', event: 'alias', previous_id: 'a-1', group_id: '' },
      { message_id: 'ep-group', type: 'group', event: 'group', previous_id: '', group_id: 'clinic-7' },
      { message_id: 'ep-identify', type: 'identify', event: 'identify', previous_id: '', group_id: '' },
      { message_id: 'ep-page', type: 'page', event: 'page', previous_id: '', group_id: '' },
      { message_id: 'ep-screen', type: 'screen', event: 'screen', previous_id: '', group_id: '' },
      { message_id: 'ep-track', type: 'track', event: 'injection_logged', previous_id: '', group_id: '' },
    ])
  })

  it('refuses a message whose type differs from the endpoint', async () => {
    expect(await answer(await post('/v1/track', { type: 'page', userId: 'p-1', event: 'x' }))).toEqual(
      err(400, {
        code: 'no_valid_events',
        message: 'type: must be "track" on this endpoint',
        field: 'type',
        rejected: [{ index: 0, reason: 'invalid_schema', field: 'type', message: 'must be "track" on this endpoint' }],
      }),
    )
  })

  it('accepts every message type in /v1/batch and /v1/import', async () => {
    const batch: Array<Record<string, unknown>> = [
      track({ messageId: 'b-1' }),
      { type: 'page', anonymousId: 'a-1', messageId: 'b-2' },
      { type: 'screen', userId: 'p-1', messageId: 'b-3' },
      { type: 'identify', userId: 'p-1', messageId: 'b-4' },
      { type: 'alias', userId: 'p-1', previousId: 'a-1', messageId: 'b-5' },
      { type: 'group', userId: 'p-1', groupId: 'g', messageId: 'b-6' },
    ]
    expect(await answer(await post('/v1/batch', { batch }))).toEqual(ok(6))
    const imported = batch.map((e) => ({ ...e, messageId: `i${e.messageId}`, timestamp: '2024-03-01T10:00:00.000Z' }))
    expect(await answer(await post('/v1/import', { batch: imported, sentAt: '2024-03-01T10:00:05.000Z' }))).toEqual(ok(6))
  })

  it('accepts exactly 500 events in a batch', async () => {
    const batch = Array.from({ length: 500 }, (_, i) => track({ messageId: `max-${i}` }))
    expect(await answer(await post('/v1/batch', { batch }))).toEqual(ok(500))
  })
})

describe('request errors', () => {
  it('400 for a body that is not JSON, naming the body as the field', async () => {
    expect(await answer(await post('/v1/track', null, { raw: '{"userId": "p-1",' }))).toEqual(
      err(400, { code: 'invalid_json', message: expect.stringMatching(/^body is not valid JSON: .*position 17/), field: '(body)' }),
    )
    expect(await answer(await post('/v1/batch', null, { raw: '' }))).toEqual(
      err(400, { code: 'invalid_json', message: 'body is empty; expected a JSON object', field: '(body)' }),
    )
  })

  it('400 with the rejected list when no event of the request is valid', async () => {
    const res = await answer(
      await post('/v1/batch', {
        batch: [
          { type: 'track', userId: 'p-1' },
          { type: 'track', event: 'x' },
          { type: 'nonsense', userId: 'p-1' },
        ],
      }),
    )
    expect(res).toEqual(
      err(400, {
        code: 'no_valid_events',
        message: 'no event in the batch is valid',
        field: 'batch[0].event',
        rejected: [
          { index: 0, reason: 'invalid_schema', field: 'batch[0].event', message: 'Invalid input: expected string, received undefined' },
          { index: 1, reason: 'invalid_schema', field: 'batch[1].userId', message: 'userId or anonymousId is required' },
          {
            index: 2,
            reason: 'invalid_schema',
            field: 'batch[2].type',
            message: "Invalid discriminator value. Expected 'track' | 'page' | 'screen' | 'identify' | 'alias' | 'group'",
          },
        ],
      }),
    )
    expect(await answer(await post('/v1/identify', { traits: {} }))).toEqual(
      err(400, {
        code: 'no_valid_events',
        message: 'userId: userId or anonymousId is required',
        field: 'userId',
        rejected: [{ index: 0, reason: 'invalid_schema', field: 'userId', message: 'userId or anonymousId is required' }],
      }),
    )
  })

  it('400 for a batch envelope without a batch, an empty one, or more than 500 events', async () => {
    expect(await answer(await post('/v1/batch', { events: [track()] }))).toEqual(
      err(400, { code: 'invalid_body', message: 'Invalid input: expected array, received undefined', field: 'batch' }),
    )
    expect(await answer(await post('/v1/batch', [track()]))).toEqual(
      err(400, { code: 'invalid_body', message: 'Invalid input: expected object, received array', field: '(body)' }),
    )
    expect(await answer(await post('/v1/import', { batch: [] }))).toEqual(
      err(400, { code: 'invalid_body', message: 'must hold at least one event', field: 'batch' }),
    )
    const batch = Array.from({ length: 501 }, (_, i) => track({ messageId: `over-${i}` }))
    expect(await answer(await post('/v1/batch', { batch }))).toEqual(
      err(400, { code: 'invalid_body', message: 'must hold at most 500 events', field: 'batch' }),
    )
    expect(await answer(await post('/v1/batch', { batch: [track()], sentAt: 'yesterday-ish' }))).toEqual(
      err(400, { code: 'invalid_body', message: 'must be an ISO 8601 date-time', field: 'sentAt' }),
    )
    // The batch context is copied into every event: a large one would multiply by the batch size.
    expect(await answer(await post('/v1/batch', { batch: [track()], context: { pad: 'x'.repeat(9000) } }))).toEqual(
      err(400, { code: 'invalid_body', message: 'must be at most 8192 bytes of JSON', field: 'context' }),
    )
  })

  it('masks an e-mail address written with a JSON escape (no @ in the body text)', async () => {
    const body = '{"type":"track","userId":"p-1","event":"x","messageId":"esc-1","properties":{"note":"jane\\u0040example.com"}}'
    expect(body).not.toContain('@')
    const res = await service.app.request('/v1/track', {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body,
    })
    expect(res.status).toBe(200)
    await waitFor(async () => (await service.db.query<{ c: number }>("SELECT count() c FROM events WHERE message_id = 'esc-1'"))[0]!.c === 1)
    expect(await service.db.query("SELECT properties FROM events WHERE message_id = 'esc-1'")).toEqual([{ properties: '{"note":"[redacted]"}' }])
  })

  it('401 without a key and for an unknown key', async () => {
    const missing = err(401, { code: 'missing_key', message: 'a write key (HTTP Basic user name or writeKey in the body) is required', field: 'writeKey' })
    const unknown = err(401, { code: 'unknown_key', message: 'the key is not known', field: 'writeKey' })
    expect(await answer(await post('/v1/track', track(), { key: null }))).toEqual(missing)
    expect(await answer(await post('/v1/batch', { batch: [track()] }, { key: null }))).toEqual(missing)
    // A bearer token is not a key; nor is an empty Basic user name.
    expect(await answer(await post('/v1/track', track(), { key: null, headers: { authorization: `Bearer ${DEMO.secretKey}` } }))).toEqual(missing)
    expect(await answer(await post('/v1/track', track(), { key: null, headers: { authorization: basic('') } }))).toEqual(missing)
    expect(await answer(await post('/v1/track', track(), { key: 'sk_not_a_real_key_0000' }))).toEqual(unknown)
    expect(await answer(await post('/v1/batch', { batch: [track()], writeKey: 'pk_unknown_000000' }, { key: null }))).toEqual(unknown)
    expect(await answer(await post('/v1/track', { ...track(), writeKey: 'pk_unknown_000000' }, { key: null }))).toEqual(unknown)
  })

  it('takes the key from HTTP Basic or from writeKey in the body', async () => {
    expect(await answer(await post('/v1/track', track(), { key: DEMO.writeKey }))).toEqual(ok(1))
    // Segment's libraries send `key:` with an empty password; a password is ignored.
    // A channel key names its patient only (no anonymous id beside it).
    expect(
      await answer(
        await post('/v1/track', track({ anonymousId: undefined }), {
          key: null,
          headers: { authorization: `basic ${Buffer.from(`${DEMO.callKey}:ignored`).toString('base64')}` },
        }),
      ),
    ).toEqual(ok(1))
    expect(await answer(await post('/v1/track', { ...track(), writeKey: DEMO.writeKey }, { key: null }))).toEqual(ok(1))
    expect(await answer(await post('/v1/batch', { batch: [track()], writeKey: DEMO.secretKey }, { key: null }))).toEqual(ok(1))
  })

  it('403 for an origin outside the write key allowlist; allowed origins pass', async () => {
    for (const origin of [
      'https://evil.example',
      'https://localhost:3000',
      'http://localhost.evil.example:3000',
      'http://127.0.0.2:8080',
      'null',
      'http://[::2]:3000',
    ]) {
      expect(await answer(await post('/v1/track', track(), { key: DEMO.writeKey, headers: { origin } })), origin).toEqual(
        err(403, { code: 'origin_not_allowed', message: `origin ${origin} is not allowed for this write key`, field: 'origin' }),
      )
      expect(await answer(await post('/v1/batch', { batch: [track()], writeKey: DEMO.writeKey }, { key: null, headers: { origin } })), origin).toEqual(
        err(403, { code: 'origin_not_allowed', message: `origin ${origin} is not allowed for this write key`, field: 'origin' }),
      )
    }
    for (const origin of [
      'http://localhost:3000',
      'http://localhost:5173',
      'http://localhost',
      'http://127.0.0.1:8080',
      'http://127.0.0.1:65535',
      'http://[::1]:4000',
    ]) {
      const res = await post('/v1/track', track(), { key: DEMO.writeKey, headers: { origin } })
      expect(await answer(res), origin).toEqual(ok(1))
      expect(res.headers.get('access-control-allow-origin'), origin).toBe(origin)
    }
    // Secret keys belong to backends; origins do not apply to them.
    expect(await answer(await post('/v1/track', track(), { key: DEMO.secretKey, headers: { origin: 'https://crm.example' } }))).toEqual(ok(1))
  })

  it('answers a CORS preflight for an allowed origin with that exact origin, and not for another', async () => {
    const preflight = (origin: string) =>
      service.app.request('/v1/batch', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      })
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000']) {
      const res = await preflight(origin)
      expect(res.status).toBe(204)
      expect(res.headers.get('access-control-allow-origin')).toBe(origin)
      expect(res.headers.get('access-control-allow-methods')!.split(',')).toContain('POST')
      expect(res.headers.get('access-control-allow-headers')!.toLowerCase().split(',')).toEqual(
        expect.arrayContaining(['content-type', 'authorization', 'content-encoding']),
      )
      expect(res.headers.get('vary')).toContain('Origin')
    }
    for (const origin of ['https://evil.example', 'null', 'http://localhost.evil.example']) {
      const res = await preflight(origin)
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull()
    }
    // Error answers carry the header too, so the page can read why it was refused.
    const bad = await post('/v1/track', null, { key: DEMO.writeKey, raw: '{', headers: { origin: 'http://localhost:5173' } })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    // Never a wildcard, not even without an Origin header.
    const plain = await post('/v1/track', track(), { key: DEMO.writeKey })
    expect(plain.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('404 JSON for unknown paths and methods', async () => {
    const notFound = err(404, { code: 'not_found', message: 'no such endpoint' })
    expect(await answer(await service.app.request('/nope'))).toEqual(notFound)
    expect(await answer(await service.app.request('/v1/nope', { method: 'POST', body: '{}' }))).toEqual(notFound)
    expect(await answer(await service.app.request('/v1/track'))).toEqual(notFound)
    expect(
      await answer(await service.app.request('/v2/batch', { method: 'POST', headers: { authorization: basic(DEMO.secretKey) }, body: '{"batch":[]}' })),
    ).toEqual(notFound)
  })
})

describe('size limits and encodings (L1)', () => {
  const tooLarge = err(413, { code: 'body_too_large', message: `request body is larger than ${MAX_BODY_BYTES} bytes` })
  const tooLargeInflated = err(413, { code: 'body_too_large', message: `request body is larger than ${MAX_BODY_BYTES} bytes after decompression` })

  it('accepts a body of exactly 500 KB and refuses one byte more with 413', async () => {
    const exact = batchOfSize(MAX_BODY_BYTES)
    const t0 = performance.now()
    expect(await answer(await post('/v1/batch', null, { raw: exact.text }))).toEqual(ok(exact.events))
    // A full body of long strings is no denial of service (the e-mail mask once took 20 s here).
    expect(performance.now() - t0).toBeLessThan(3000)
    const over = batchOfSize(MAX_BODY_BYTES + 1)
    // Streamed (no Content-Length), and declared up front.
    expect(await answer(await post('/v1/batch', null, { raw: over.text }))).toEqual(tooLarge)
    expect(await answer(await post('/v1/batch', null, { raw: over.text, headers: { 'content-length': String(over.text.length) } }))).toEqual(tooLarge)
  })

  it('measures compressed bodies after decompression', async () => {
    const exact = batchOfSize(MAX_BODY_BYTES)
    const gz = gzipSync(exact.text)
    expect(gz.length).toBeLessThan(20_000)
    expect(await answer(await post('/v1/batch', null, { raw: gz, headers: { 'content-encoding': 'gzip' } }))).toEqual(ok(exact.events))
    const over = batchOfSize(MAX_BODY_BYTES + 1)
    for (const [encoding, data] of [
      ['gzip', gzipSync(over.text)],
      ['deflate', deflateSync(over.text)],
      ['br', brotliCompressSync(over.text)],
    ] as const) {
      expect(await answer(await post('/v1/batch', null, { raw: data, headers: { 'content-encoding': encoding } })), encoding).toEqual(tooLargeInflated)
    }
  })

  it('refuses gzip, deflate and brotli bombs of 50 MB with 413 without inflating them', async () => {
    const bombs = { gzip: await bomb('gzip', 50 << 20), deflate: await bomb('deflate', 50 << 20), br: await bomb('br', 50 << 20) }
    const rss0 = process.memoryUsage().rss
    for (const [encoding, data] of Object.entries(bombs)) {
      expect(data.length).toBeLessThan(MAX_BODY_BYTES)
      expect(await answer(await post('/v1/batch', null, { raw: data, headers: { 'content-encoding': encoding } })), encoding).toEqual(tooLargeInflated)
    }
    expect(process.memoryUsage().rss - rss0).toBeLessThan(50 << 20)
  })

  it('accepts gzip, x-gzip, deflate, br and identity bodies', async () => {
    const body = (id: string) => JSON.stringify({ batch: [track({ messageId: id })] })
    const cases: Array<[string, Buffer | string]> = [
      ['gzip', gzipSync(body('enc-gzip'))],
      ['GZip', gzipSync(body('enc-gzip-case'))],
      ['x-gzip', gzipSync(body('enc-x-gzip'))],
      ['deflate', deflateSync(body('enc-deflate'))],
      ['br', brotliCompressSync(body('enc-br'))],
      ['identity', body('enc-identity')],
    ]
    for (const [encoding, data] of cases) {
      expect(await answer(await post('/v1/batch', null, { raw: data, headers: { 'content-encoding': encoding } })), encoding).toEqual(ok(1))
    }
  })

  it('415 for an unknown content-encoding; 400 for bytes that are not what the encoding says', async () => {
    expect(await answer(await post('/v1/batch', null, { raw: gzipSync('{}'), headers: { 'content-encoding': 'compress' } }))).toEqual(
      err(415, { code: 'unsupported_encoding', message: 'content-encoding compress is not supported; use gzip, deflate or br' }),
    )
    expect(await answer(await post('/v1/batch', null, { raw: '{"batch":[]}', headers: { 'content-encoding': 'gzip' } }))).toEqual(
      err(400, { code: 'invalid_body', message: 'body is not valid gzip data', field: '(body)' }),
    )
  })
})

describe('partly valid batches', () => {
  it('accepts the valid events and names each rejected one by index, reason and field', async () => {
    const now = Date.now()
    const big = track({ messageId: 'part-big', properties: { blob: 'x'.repeat(MAX_EVENT_BYTES) } })
    const bigBytes = Buffer.byteLength(JSON.stringify(big))
    const batch = [
      track({ messageId: 'part-ok-1' }),
      { type: 'track', event: 'no_person', messageId: 'part-schema' },
      big,
      // 48 h ahead by a correct clock: refused.
      track({ messageId: 'part-future', timestamp: new Date(now + 48 * 3600_000).toISOString(), sentAt: new Date(now).toISOString() }),
      // 48 h ahead by a clock that is itself 48 h ahead: corrected to now, accepted.
      track({ messageId: 'part-fast-clock', timestamp: new Date(now + 48 * 3600_000).toISOString(), sentAt: new Date(now + 48 * 3600_000).toISOString() }),
      { type: 'identify', userId: 'p-1', traits: 'not an object', messageId: 'part-traits' },
      track({ messageId: 'part-ok-2', originalTimestamp: new Date(now + 30 * 3600_000).toISOString() }),
    ]
    const res = await answer(await post('/v1/batch', { batch, sentAt: new Date(now).toISOString() }))
    expect(res).toEqual(
      ok(2, [
        { index: 1, reason: 'invalid_schema', field: 'batch[1].userId', message: 'userId or anonymousId is required' },
        { index: 2, reason: 'event_too_large', field: 'batch[2]', message: `event is ${bigBytes} bytes; at most ${MAX_EVENT_BYTES} are accepted` },
        {
          index: 3,
          reason: 'future_timestamp',
          field: 'batch[3].timestamp',
          message: 'is 48 h in the future after clock correction; at most 24 h is accepted',
        },
        { index: 5, reason: 'invalid_schema', field: 'batch[5].traits', message: 'Invalid input: expected record, received string' },
        {
          index: 6,
          reason: 'future_timestamp',
          field: 'batch[6].originalTimestamp',
          message: 'is 30 h in the future after clock correction; at most 24 h is accepted',
        },
      ]),
    )
    expect(bigBytes).toBeGreaterThan(MAX_EVENT_BYTES)
  })

  it('accepts an event of exactly 32 KB', async () => {
    const shell = track({ messageId: 'exact-32k', properties: { pad: '' } })
    const pad = 'y'.repeat(MAX_EVENT_BYTES - Buffer.byteLength(JSON.stringify(shell)))
    const event = track({ messageId: 'exact-32k', properties: { pad } })
    expect(Buffer.byteLength(JSON.stringify(event))).toBe(MAX_EVENT_BYTES)
    expect(await answer(await post('/v1/batch', { batch: [event] }))).toEqual(ok(1))
    const over = track({ messageId: 'exact-32k', properties: { pad: `${pad}y` } })
    expect(await answer(await post('/v1/track', over))).toEqual(
      err(400, {
        code: 'no_valid_events',
        message: `(body): event is ${MAX_EVENT_BYTES + 1} bytes; at most ${MAX_EVENT_BYTES} are accepted`,
        field: '(body)',
        rejected: [
          { index: 0, reason: 'event_too_large', field: '(body)', message: `event is ${MAX_EVENT_BYTES + 1} bytes; at most ${MAX_EVENT_BYTES} are accepted` },
        ],
      }),
    )
  })
})

describe('counters reconcile (D11)', () => {
  it('counts a known mix of requests exactly', async () => {
    const before = await scrape()
    await post('/v1/batch', { batch: [track(), track({ userId: undefined, anonymousId: undefined }), track({ event: '' })] }) // 1 ok, 2 schema
    await post('/v1/track', { userId: 'p-1' }) // 1 schema, 400
    await post('/v1/page', { anonymousId: 'a', timestamp: new Date(Date.now() + 72 * 3600_000).toISOString() }) // 1 future
    await post('/v1/batch', { batch: [track(), track()] }, { key: null }) // 401: not received
    await post('/v1/batch', null, { raw: '{' }) // 400: not received
    await post('/v1/identify', { userId: 'p-1' }) // 1 ok
    const after = await scrape()
    const d = (name: string, having = '') => total(after, name, having) - total(before, name, having)
    expect(d('attune_events_received_total')).toBe(6)
    expect(d('attune_events_accepted_total', `program="${DEMO.program}"`)).toBe(2)
    expect(d('attune_events_rejected_total', 'reason="invalid_schema"')).toBe(3)
    expect(d('attune_events_rejected_total', 'reason="future_timestamp"')).toBe(1)
    expect(d('attune_requests_rejected_total', 'reason="missing_key"')).toBe(1)
    expect(d('attune_requests_rejected_total', 'reason="invalid_json"')).toBe(1)
    expect(d('attune_requests_rejected_total', 'reason="no_valid_events"')).toBe(2)
  })

  it('fuzz: every answer is 2xx or JSON 4xx, the counters add up, and everything accepted lands', async () => {
    const before = await scrape()
    const now = Date.now()
    const text = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom(
        '',
        'p-1',
        'a-1',
        'email_click',
        'sms_click',
        'jane@example.com',
        '\ud800',
        'x\udfff',
        '😀',
        '\u0000',
        'https://x.example/?a=1&utm_source=s#h',
        '__proto__',
      ),
    )
    const time = fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.integer({ min: -72, max: 72 }).map((h) => new Date(now + h * 3600_000).toISOString()),
      fc.constantFrom('2024-02-30T00:00:00Z', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', 'not a date', '1970-01-01', '2299-12-31T23:59:59.999Z'),
    )
    const id = fc.oneof(text, fc.integer(), fc.double(), fc.constant(null))
    const json = fc.jsonValue({ maxDepth: 2 })
    const obj = fc.dictionary(
      fc.oneof(text, fc.constantFrom('url', 'email', 'ip', 'channel', 'userAgent', 'page', 'library', 'traits', 'referrer', 'path', 'title')),
      json,
      { maxKeys: 4 },
    )
    // Each field is mostly valid, so that many events pass and the rest fail one field at a time.
    const mostly = <T, U>(good: fc.Arbitrary<T>, any: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: any })
    const recent = fc.integer({ min: -72 * 3600, max: 3600 }).map((s) => new Date(now + s * 1000).toISOString())
    const message = fc.record(
      {
        type: mostly(fc.constantFrom('track', 'page', 'screen', 'identify', 'alias', 'group'), text),
        event: mostly(fc.constantFrom('diary_downloaded', 'email_click', 'sms_click', 'call_completed'), text),
        name: text,
        userId: mostly(fc.constantFrom('p-1', 'p-2', 42), id),
        anonymousId: id,
        previousId: mostly(fc.constant('a-1'), id),
        groupId: mostly(fc.constant('clinic-1'), id),
        // A small set of ids, so duplicates occur within and across requests.
        messageId: fc.oneof(fc.constantFrom('dup-1', 'dup-2', 'dup-3'), fc.uuid(), text),
        timestamp: mostly(recent, time),
        originalTimestamp: time,
        sentAt: mostly(recent, time),
        properties: mostly(obj, json),
        traits: mostly(obj, json),
        context: mostly(
          fc.record(
            {
              ip: fc.constantFrom('203.0.113.9', '::1', 'nonsense'),
              channel: text,
              userAgent: text,
              page: fc.record({ url: text, referrer: text, title: text }),
            },
            { requiredKeys: [] },
          ),
          obj,
        ),
      },
      { requiredKeys: ['userId', 'event'] },
    )
    const body = fc.oneof(
      { weight: 4, arbitrary: message },
      { weight: 4, arbitrary: fc.record({ batch: fc.array(message, { maxLength: 6 }), sentAt: time, context: obj }, { requiredKeys: ['batch'] }) },
      { weight: 1, arbitrary: json },
    )
    const raw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(
        '{"type":"track","userId":"u","event":"e","properties":{"__proto__":{"x":1}},"context":{"__proto__":{"channel":"call"}}}',
        '{"batch":[{"__proto__":{"type":"track"},"userId":"u","event":"e"}]}',
        '{"batch":[{"type":"track","userId":"u\\ud800","event":"\\udc00e"}]}',
        '[]',
        'null',
        '1e999',
      ),
    )
    const request = fc.record({
      path: fc.constantFrom('/v1/batch', '/v1/import', '/v1/track', '/v1/page', '/v1/screen', '/v1/identify', '/v1/alias', '/v1/group'),
      auth: fc.constantFrom('secret', 'secret', 'write', 'write', 'call', 'body-write', 'body-secret', 'none', 'unknown'),
      // Mostly, the body is shaped for the endpoint: a batch for /v1/batch, its type for /v1/track.
      align: fc.boolean(),
      origin: fc.constantFrom(undefined, 'http://localhost:3000', 'https://evil.example'),
      encoding: fc.constantFrom('identity', 'identity', 'gzip', 'deflate', 'br', 'bogus'),
      payload: fc.oneof({ weight: 5, arbitrary: body.map((b) => ({ json: b as unknown })) }, { weight: 1, arbitrary: raw.map((r) => ({ text: r })) }),
    })

    let acceptedSeen = 0
    let rejectedSeen = 0
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let payload: unknown = 'json' in r.payload ? r.payload.json : undefined
        if (r.align && payload && typeof payload === 'object' && !Array.isArray(payload)) {
          const batchEndpoint = r.path === '/v1/batch' || r.path === '/v1/import'
          const p = payload as { batch?: unknown[] }
          if (batchEndpoint && !Array.isArray(p.batch)) payload = { batch: [payload] }
          if (!batchEndpoint) payload = { ...(Array.isArray(p.batch) ? (p.batch[0] as object) : p), type: r.path.slice(4) }
        }
        if (r.auth.startsWith('body-') && payload && typeof payload === 'object' && !Array.isArray(payload)) {
          payload = { ...payload, writeKey: r.auth === 'body-write' ? DEMO.writeKey : DEMO.secretKey }
        }
        const textBody = 'text' in r.payload ? r.payload.text : (JSON.stringify(payload) ?? 'null')
        const bytes =
          r.encoding === 'gzip'
            ? gzipSync(textBody)
            : r.encoding === 'deflate'
              ? deflateSync(textBody)
              : r.encoding === 'br'
                ? brotliCompressSync(textBody)
                : Buffer.from(textBody)
        const key = {
          secret: DEMO.secretKey,
          write: DEMO.writeKey,
          call: DEMO.callKey,
          unknown: 'sk_unknown_key_000',
          none: null,
          'body-write': null,
          'body-secret': null,
        }[r.auth]
        const headers: Record<string, string> = {
          ...(r.origin ? { origin: r.origin } : {}),
          ...(r.encoding === 'identity' ? {} : { 'content-encoding': r.encoding }),
        }
        const res = await post(r.path, null, { key, raw: bytes, headers })
        expect(res.status === 200 || (res.status >= 400 && res.status < 500), `status ${res.status}`).toBe(true)
        expect(res.headers.get('content-type')).toMatch(/^application\/json/)
        const b = (await res.json()) as {
          success?: true
          accepted?: number
          rejected?: unknown[]
          error?: { code: string; message: string; rejected?: unknown[] }
        }
        if (res.status === 200) {
          expect(b.success).toBe(true)
          expect(b.accepted).toBeGreaterThan(0)
          acceptedSeen += b.accepted!
          rejectedSeen += b.rejected!.length
        } else {
          expect(typeof b.error?.code).toBe('string')
          expect(typeof b.error?.message).toBe('string')
          rejectedSeen += b.error?.rejected?.length ?? 0
        }
      }),
      { numRuns: 300, seed: 20_240_601 },
    )
    const after = await scrape()
    const d = (name: string) => total(after, name) - total(before, name)
    expect(acceptedSeen).toBeGreaterThan(20)
    expect(rejectedSeen).toBeGreaterThan(20)
    expect(d('attune_events_accepted_total')).toBe(acceptedSeen)
    expect(d('attune_events_rejected_total')).toBe(rejectedSeen)
    expect(d('attune_events_received_total')).toBe(acceptedSeen + rejectedSeen)
    // And over the whole life of the service.
    expect(total(after, 'attune_events_received_total')).toBe(total(after, 'attune_events_accepted_total') + total(after, 'attune_events_rejected_total'))

    // Nothing accepted is stuck: the spool drains, every event is inserted once or found a duplicate.
    await waitFor(
      () => {
        const w = service.writer.state
        // An event ClickHouse refuses would block the writer forever; fail at once with its error.
        if (w.consecutiveFailures >= 2) throw new Error(`inserts keep failing: ${w.lastError}`)
        return service.spool.stats().depthBytes === 0
      },
      30_000,
      'the spool to drain',
    )
    expect(service.writer.state.consecutiveFailures).toBe(0)
    expect(service.writer.state.lastError).toBeNull()
    const end = await scrape()
    expect(total(end, 'attune_events_inserted_total') + total(end, 'attune_events_duplicate_total')).toBe(total(end, 'attune_events_accepted_total'))
    const [{ c }] = (await service.db.query<{ c: string }>('SELECT count() c FROM events')) as [{ c: string }]
    expect(Number(c)).toBe(total(end, 'attune_events_inserted_total'))
  })
})
