// What Segment's and RudderStack's server libraries actually send (test/fixtures/segment-libraries),
// replayed against the collector one library at a time: the path, the headers, the body as the
// library serialises it (gzipped where it gzips), and an invalid request in its style, whose
// error answer must be one the library reads without crashing and gives up on instead of
// retrying. One `it` per fixture file, so a new fixture is covered without editing this file.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../collector/index.ts'
import { basic, DEMO, startService, waitFor } from './helpers.ts'

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type JsonObject = { [k: string]: Json }
interface Body extends JsonObject {
  batch: JsonObject[]
}
interface Fixture {
  /** The file name without `.json`. */
  name: string
  library: string
  path: string
  method: string
  headers: Record<string, string>
  conditionalHeaders?: Record<string, string>
  absentHeaders?: string[]
  bodies: Body[]
  errorHandling: { success: string; retries: string; permanent: string; readsFromErrorBody: string[] }
}

const DIR = join(import.meta.dirname, 'fixtures', 'segment-libraries')
const FIXTURES: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ ...(JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Omit<Fixture, 'name'>), name: basename(f, '.json') }))

/** The fixtures' placeholder key, and the backend key that replaces it (server libraries are backends). */
const PLACEHOLDER = 'WRITE_KEY'
/** Unique per run, short: message ids are at most 100 characters and analytics-node's are 60. */
const RUN = `sc${Date.now().toString(36)}${randomBytes(2).toString('hex')}`

// ---------------------------------------------------------------------------------------------
// Rewriting a fixture body: the key, message ids unique to this run, recent times in the same format.

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** A time's UTC milliseconds (whole seconds) and the parts its format keeps as written. */
function parseIso(s: string): { utcSeconds: number; fraction: string; zone: string; offsetMin: number } | null {
  const m = ISO.exec(s)
  if (!m) return null
  const [, y, mo, d, h, mi, sec, fraction = '', zone] = m as unknown as [string, string, string, string, string, string, string, string | undefined, string]
  const offsetMin = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)))
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec))
  return { utcSeconds: (local - offsetMin * 60_000) / 1000, fraction, zone, offsetMin }
}

/** `s` moved by whole seconds, written exactly as before: same fraction digits, same offset. */
function shiftIso(s: string, seconds: number): string {
  const p = parseIso(s)!
  const local = new Date((p.utcSeconds + seconds) * 1000 + p.offsetMin * 60_000)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${local.getUTCFullYear()}-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())}T${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}${p.fraction}${p.zone}`
}

/** Every string of a JSON value, with its place, depth first. */
function strings(v: Json, at = ''): Array<[string, string]> {
  if (typeof v === 'string') return [[at, v]]
  if (v === null || typeof v !== 'object') return []
  return Object.entries(v).flatMap(([k, x]) => strings(x, Array.isArray(v) ? `${at}[${k}]` : at ? `${at}.${k}` : k))
}

/** A copy of a JSON value with each string mapped. */
function mapStrings<T extends Json>(v: T, f: (s: string) => string): T {
  if (typeof v === 'string') return f(v) as T
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f)) as T
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f)])) as T
}

/**
 * The body as this run sends it: the placeholder key replaced by the demo secret key wherever
 * the library puts it, every message id prefixed with the run, and every time moved by the same
 * number of whole seconds so that the body's earliest one is five minutes ago (its fraction digits
 * and offset untouched, the gaps between sentAt and timestamp kept).
 */
function rewriteBody(body: Body, tag: string): Body {
  const times = strings(body)
    .map(([, s]) => parseIso(s))
    .filter((p) => p !== null)
  const earliest = Math.min(...times.map((p) => p.utcSeconds))
  const shift = times.length ? Math.round((Date.now() - 5 * 60_000) / 1000 - earliest) : 0
  const out = mapStrings(body, (s) => (s === PLACEHOLDER ? DEMO.secretKey : ISO.test(s) ? shiftIso(s, shift) : s))
  out.batch = out.batch.map((m) => (typeof m.messageId === 'string' ? { ...m, messageId: `${RUN}${tag}-${m.messageId}` } : m))
  return out
}

/** How a value's characters look, digits aside: `2025-01-15T10:00:00.123+00:00` → `dddd-dd-ddTdd:dd:dd.ddd+dd:dd`. */
const shape = (s: string) => s.replace(/\d/g, 'd')

// ---------------------------------------------------------------------------------------------
// The wire: the library's JSON text, its encoding and its headers.

/** Non-ASCII as \uXXXX, as Python's json.dumps (ensure_ascii) and PHP's json_encode write it. */
const asciiOnly = (text: string) => text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/** Python's json.dumps with its default separators (', ' and ': '). */
function pythonJson(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(pythonJson).join(', ')}]`
  return `{${Object.entries(v)
    .map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x)}`)
    .join(', ')}}`
}

/**
 * The body's JSON text as the library writes it: Python's json.dumps (analytics-python and its
 * Rudder fork), PHP's json_encode (escaped slashes, `\/`), JSON.stringify-like compact text for
 * the others. Only characters inside strings differ, so the decoded body is the fixture's.
 */
function wireText(f: Fixture, body: Body): string {
  if (/python/.test(f.name)) return asciiOnly(pythonJson(body))
  if (/php/.test(f.name)) return asciiOnly(JSON.stringify(body).replace(/\//g, '\\/'))
  return JSON.stringify(body)
}

const lower = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))

/** A request as the library sends it, and what was answered. */
interface Exchange {
  request: { method: string; path: string; headers: Record<string, string>; body: Body; wire: string }
  status: number
  contentType: string
  text: string
  json: unknown
}

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

/**
 * Sends `body` the way the fixture's library does: its path, its literal headers with the key
 * replaced, gzip where it says Content-Encoding: gzip, a chunked stream without Content-Length
 * where it says Transfer-Encoding: chunked (a Content-Length otherwise, as every HTTP client adds),
 * and rudder-php-sdk's AnonymousId header on one-message batches. Other conditional headers are
 * not sent: they belong to non-default settings or to retries, and analytics-php's libcurl
 * `Expect: 100-continue` means nothing to an in-process request.
 */
async function send(f: Fixture, body: Body): Promise<Exchange> {
  const headers = lower(f.headers)
  for (const [k, v] of Object.entries(headers)) {
    headers[k] = v === basic(PLACEHOLDER) ? basic(DEMO.secretKey) : v.replaceAll(PLACEHOLDER, DEMO.secretKey)
  }
  const conditional = lower(f.conditionalHeaders ?? {})
  if (conditional.anonymousid?.includes('exactly one message') && body.batch.length === 1) {
    const m = body.batch[0]!
    headers.anonymousid = Buffer.from(String(m.userId ?? m.anonymousId)).toString('base64')
  }
  const wire = wireText(f, body)
  const bytes = headers['content-encoding'] === 'gzip' ? gzipSync(wire) : Buffer.from(wire)
  const chunked = headers['transfer-encoding'] === 'chunked'
  if (!chunked) headers['content-length'] = String(bytes.length)
  const init: RequestInit & { duplex?: 'half' } = {
    method: f.method,
    headers,
    // A Uint8Array body adds no Content-Type of its own (rudder-sdk-node sends none).
    body: chunked
      ? new ReadableStream<Uint8Array>({
          start(c) {
            for (let i = 0; i < bytes.length; i += 64) c.enqueue(new Uint8Array(bytes.subarray(i, i + 64)))
            c.close()
          },
        })
      : new Uint8Array(bytes),
    ...(chunked ? { duplex: 'half' as const } : {}),
  }
  const res = await service.app.request(f.path, init)
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return {
    request: { method: f.method, path: f.path, headers, body, wire },
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    text,
    json,
  }
}

/** An exchange as one line for a failure message. */
const describeExchange = (x: Exchange) =>
  `${x.request.method} ${x.request.path} ${JSON.stringify(x.request.headers)} ${x.request.wire}\n  → ${x.status} ${x.contentType} ${x.text}`

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

// ---------------------------------------------------------------------------------------------
// Which error statuses each library treats as permanent (gives up on, instead of retrying),
// from its fixture's errorHandling (the quoted source lines).

const within = (s: number, lo: number, hi: number) => s >= lo && s <= hi
const PERMANENT: Record<string, (status: number) => boolean> = {
  // fatal_exception: APIError with 400 <= status < 500 and status != 429 (and only with code and message in the body).
  'segment-analytics-python': (s) => within(s, 400, 499) && s !== 429,
  'rudder-sdk-python': (s) => within(s, 400, 499) && s !== 429,
  // should_retry_request?: >= 500 and 429 retried; other >= 400 not.
  'segment-analytics-ruby': (s) => within(s, 400, 499) && s !== 429,
  // 3.5.5: 408, 410, 429, 460 and 5xx except 501/505/511 retried; every other non-2xx fails the batch.
  'segment-analytics-java': (s) => !within(s, 200, 299) && ![408, 410, 429, 460].includes(s) && !(within(s, 500, 599) && ![501, 505, 511].includes(s)),
  // LibCurl: 429 and 500..600 retried, other >= 400 break (and a non-200 below 400 loops for ever).
  'segment-analytics-php': (s) => s >= 400 && s !== 429 && !within(s, 500, 600),
  // 3.1.0 gives up on 400 and on 4xx other than 408/410/429/460; <= 3.0.0 gives up on 400 only,
  // and a collector must serve both (the fixture documents both): 400.
  'segment-analytics-node': (s) => s === 400,
  // _isErrorRetryable: network, 500..599, 429.
  'rudder-sdk-node': (s) => !within(s, 200, 299) && !within(s, 500, 599) && s !== 429,
  // retryable_status_code?: 0, 429, 500..599.
  'rudder-sdk-ruby': (s) => s >= 400 && s !== 429 && !within(s, 500, 599),
  // is5xx or 429 retried.
  'rudder-sdk-java': (s) => !within(s, 200, 299) && !within(s, 500, 599) && s !== 429,
  // 0, 429, 500..599 retried.
  'rudder-php-sdk': (s) => s >= 400 && s !== 429 && !within(s, 500, 599),
}
/**
 * A library without an entry above: a 4xx that none of the known libraries retries (they retry
 * 408, 410, 429 and 460) and that its own `retries` text does not name.
 */
const fallbackPermanent = (f: Fixture) => (s: number) =>
  within(s, 400, 499) && ![408, 410, 429, 460].includes(s) && !new RegExp(`\\b${s}\\b`).test(f.errorHandling.retries)
/** Whether the library retries every status (the Go libraries): its errorHandling says no status is permanent. */
const retriesEveryStatus = (f: Fixture) => /^none\b/i.test(f.errorHandling.permanent.trim())

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  svc = await startService()
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

interface Row {
  message_id: string
  type: string
  user_id: string
  anonymous_id: string
  group_id: string
  previous_id: string
  event: string
  ts_ms: string
}

/** The rows of these message ids, once every accepted event has landed. */
async function landed(ids: string[], expected: number): Promise<Row[]> {
  const count = 'SELECT count() c FROM events WHERE message_id IN {ids:Array(String)}'
  await waitFor(
    async () => service.spool.depthBytes() === 0 && Number((await service.db.query<{ c: string }>(count, { ids }))[0]!.c) >= expected,
    15_000,
    `${expected} events in ClickHouse`,
  )
  return service.db.query<Row>(
    'SELECT message_id, type, user_id, anonymous_id, group_id, previous_id, event, toUnixTimestamp64Milli(ts) ts_ms FROM events WHERE message_id IN {ids:Array(String)} ORDER BY message_id',
    { ids },
  )
}

/** An id as the collector stores it: text, a number as its decimal digits, absent or null as ''. */
const idText = (v: Json | undefined) => (v === undefined || v === null ? '' : String(v))

describe('Segment-protocol server libraries against the collector', () => {
  it('has the library fixtures', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(12)
    for (const f of FIXTURES) {
      expect(f.bodies.length, f.name).toBeGreaterThan(0)
      expect(Array.isArray(f.errorHandling?.readsFromErrorBody), f.name).toBe(true)
    }
  })

  for (const [fi, f] of FIXTURES.entries()) {
    it(`${f.name}: ${f.method} ${f.path} is taken whole, lands in ClickHouse, and its errors are final and readable`, async () => {
      // 1. Each body, as the library sends it, is answered 200 with every message accepted.
      const started = Date.now()
      const sent: Body[] = []
      let accepted = 0
      for (const [i, original] of f.bodies.entries()) {
        const body = rewriteBody(original, `${fi}-${i}`)
        // The rewrite keeps each time's format: fraction digits and offset as the library writes them.
        const before = strings(original)
        const after = strings(body)
        for (const [k, [at, s]] of before.entries()) if (ISO.test(s)) expect(shape(after[k]![1]), `${f.name} ${at}`).toBe(shape(s))
        const x = await send(f, body)
        const why = `${f.name} body ${i}:\n${describeExchange(x)}`
        expect.soft(x.status, why).toBe(200)
        expect.soft(x.contentType, why).toMatch(/^application\/json/)
        expect.soft(isObject(x.json), why).toBe(true)
        expect.soft(x.json, why).toMatchObject({ success: true, accepted: body.batch.length, rejected: [] })
        sent.push(body)
        if (isObject(x.json) && typeof x.json.accepted === 'number') accepted += x.json.accepted
      }

      // 2. Every message lands with its type, its ids as text and, for track, its event name.
      const messages = sent.flatMap((b) => b.batch)
      const ids = messages.map((m) => String(m.messageId))
      expect(new Set(ids).size, `${f.name}: message ids are unique`).toBe(ids.length)
      // What was answered as accepted is waited for; a message refused is then missing below.
      const rows = await landed(ids, accepted)
      const expected = messages
        .map((m) => ({
          message_id: String(m.messageId),
          type: String(m.type),
          user_id: idText(m.userId),
          anonymous_id: idText(m.anonymousId),
          group_id: m.type === 'group' ? idText(m.groupId) : '',
          previous_id: m.type === 'alias' ? idText(m.previousId) : '',
          ...(m.type === 'track' ? { event: String(m.event) } : {}),
        }))
        .sort((a, b) => (a.message_id < b.message_id ? -1 : 1))
      const actual = rows.map(({ event, ts_ms, ...r }) => (r.type === 'track' ? { ...r, event } : r))
      expect.soft(actual, `${f.name}: rows in ClickHouse`).toEqual(expected)
      // Its times were read as the times they are: five minutes ago, or now after the sentAt correction.
      for (const r of rows) {
        expect.soft(Number(r.ts_ms), `${f.name} ${r.message_id}: ts`).toBeGreaterThanOrEqual(started - 5 * 60_000 - 2000)
        expect.soft(Number(r.ts_ms), `${f.name} ${r.message_id}: ts`).toBeLessThanOrEqual(Date.now() + 2000)
      }

      // 3. A permanently invalid request in the library's style (its envelope, headers and
      //    encoding; its first message with a type no one knows) is answered with an error the
      //    library reads and does not retry.
      const first = f.bodies[0]!
      const bad = rewriteBody({ ...first, batch: [{ ...first.batch[0]!, type: 'not_a_message_type' }] }, `${fi}-x`)
      const x = await send(f, bad)
      const why = `${f.name} invalid request:\n${describeExchange(x)}`
      expect.soft(x.json, `${why}\n(the body must be JSON)`).not.toBeUndefined()
      if (!retriesEveryStatus(f)) {
        expect.soft(isObject(x.json), `${why}\n(the body must be a JSON object)`).toBe(true)
        expect.soft(within(x.status, 400, 499), `${why}\n(the status must be 4xx)`).toBe(true)
        const permanent = PERMANENT[f.name] ?? fallbackPermanent(f)
        expect.soft(permanent(x.status), `${why}\n(${f.name} retries ${x.status}: ${f.errorHandling.retries})`).toBe(true)
        const body = isObject(x.json) ? x.json : {}
        for (const field of f.errorHandling.readsFromErrorBody) {
          expect.soft(body[field], `${why}\n(${f.name} reads ${field} from the error body)`).toBeDefined()
          expect.soft(body[field], `${why}\n(${f.name} reads ${field} from the error body)`).not.toBeNull()
          // analytics-python raises APIError(status, payload['code'], payload['message']) and prints them.
          if (field === 'code' || field === 'message') expect.soft(typeof body[field], `${why}\n(${field} must be a string)`).toBe('string')
        }
      }
      // Nothing of the invalid request landed.
      await waitFor(() => service.spool.depthBytes() === 0, 10_000, 'the spool to drain')
      const stray = await service.db.query<{ c: string }>('SELECT count() c FROM events WHERE message_id IN {ids:Array(String)}', {
        ids: bad.batch.map((m) => String(m.messageId)),
      })
      expect.soft(Number(stray[0]!.c), `${f.name}: the invalid message landed`).toBe(0)
    })
  }
})
