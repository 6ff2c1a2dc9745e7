// Fuzzing every public endpoint a write key or a secret key reaches, in-process (app.request) on the
// real embedded ClickHouse: ingestion (batch, import and the six message types), decide,
// questionnaires, profiles and timelines, and program administration (GET, the versions, and PUT
// with documents that cannot be used, or keys that may not use it, so the active program is never
// replaced). The material is hostile: deep nesting (far beyond 64 levels, built as text),
// nulls and wrong types in every field, huge and tiny numbers, lone surrogates, U+0000, RTL
// marks, 10,000-character strings, prototype keys, random keys, origins and encodings, bodies
// that are not JSON, and bodies just over the limits. Whatever comes in: the answer is 2xx or
// 4xx (never 5xx), JSON, errors in the documented shape, within a timeout; the counters add up;
// everything accepted lands; nothing is logged as a server error.
//
// FUZZ_SEED=<n> runs with another seed (the default is fixed, so a failure reproduces);
// FUZZ_SCALE=<k> sends k times as many requests (a longer hunt).
import fc from 'fast-check'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signClickToken, type Service } from '../collector/index.ts'
import { MAX_BODY_BYTES } from '../collector/src/pipeline/decode-body.ts'
import { MAX_DECIDE_BYTES } from '../collector/src/routes/decide.route.ts'
import { MAX_PROGRAM_BYTES } from '../collector/src/routes/admin-program.route.ts'
import { basic, DEMO, identityToken, ROOT, startService, waitFor } from './helpers.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207)
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1))
/** No request may take longer than this to be answered (and its body read). */
const REQUEST_TIMEOUT_MS = 20_000

const QUIT = { program: 'smoking-cessation-demo', writeKey: 'pk_demo_quit_3c9e1a7b', secretKey: 'sk_demo_quit_5d2f8e41a0', smsKey: 'sk_demo_quit_sms_2a6c4f' }
const LINK_SECRET = 'demo_link_secret_psoriasis_0d6e2b9f47a3c158'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

beforeAll(async () => {
  svc = await startService()
  service = svc.service
  // Compressed and large bodies go to the ingestion workers: fuzz them too, not only the inline path.
  if (service.pool) await waitFor(() => service.pool!.workers.ready === service.pool!.workers.total, 30_000, 'the ingestion workers')
})
afterAll(async () => {
  await svc?.stop()
})

// ---------------------------------------------------------------------------------------------
// Requests and answers

interface Req {
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
}

interface Answer {
  status: number
  contentType: string | null
  text: string
}

/** A request as a short text for failure messages (long bodies cut). */
function show(r: Req): string {
  const body = r.body === undefined ? '' : ` body (${r.body.length} bytes): ${JSON.stringify(r.body.subarray(0, 400).toString('latin1'))}${r.body.length > 400 ? '…' : ''}`
  return `${r.method} ${r.path.length > 300 ? `${r.path.slice(0, 300)}…` : r.path} headers ${JSON.stringify(r.headers, (_, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v))}${body}`
}

/** Rejects when `p` has not settled within the timeout: a request that hangs fails the run. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)))])
  } finally {
    clearTimeout(timer)
  }
}

async function send(r: Req): Promise<Answer> {
  const res = await within(Promise.resolve(service.app.request(r.path, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) })), show(r))
  const text = await within(res.text(), show(r))
  return { status: res.status, contentType: res.headers.get('content-type'), text }
}

interface ErrorAnswer {
  error: { code: string; message: string; field?: string; rejected?: Rejected[] }
  code: string
  message: string
}
interface Rejected {
  index: number
  reason: string
  field: string
  message: string
}

/** Tally of answers per phase: `status code` → count. */
type Tally = Map<string, number>
const tallies = new Map<string, Tally>()
function count(phase: string, a: Answer, body: unknown): void {
  const t = tallies.get(phase) ?? new Map<string, number>()
  tallies.set(phase, t)
  const e = a.status >= 400 ? (body as ErrorAnswer).error : undefined
  const k = e ? `${a.status} ${e.code}${e.code === 'invalid_body' && e.field ? ` ${/^[\w()]+$/.test(e.field.split(/[.[]/)[0]!) ? e.field.split(/[.[]/)[0] : '…'}` : ''}` : `${a.status} ok`
  t.set(k, (t.get(k) ?? 0) + 1)
}

/**
 * What every answer must be: 2xx or 4xx, JSON, and an error answer in the documented shape
 * (`error.code`, `error.message`, the code and message again at the top level). The parsed body.
 */
function checked(phase: string, r: Req, a: Answer): unknown {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  request: ${show(r)}\n  answer: ${a.status} ${a.contentType} ${a.text.slice(0, 600)}`)
  }
  if (!((a.status >= 200 && a.status < 300) || (a.status >= 400 && a.status < 500))) fail(`status ${a.status} is neither 2xx nor 4xx`)
  if (!/^application\/json/.test(a.contentType ?? '')) fail('the answer is not JSON (content-type)')
  let body: unknown
  try {
    body = JSON.parse(a.text)
  } catch {
    fail('the answer body is not JSON')
  }
  if (a.status >= 400) {
    const e = body as Partial<ErrorAnswer> | null
    if (!e || typeof e !== 'object' || !e.error || typeof e.error !== 'object') fail('an error answer without `error`')
    if (typeof e!.error!.code !== 'string' || e!.error!.code === '') fail('error.code is not a string')
    if (typeof e!.error!.message !== 'string') fail('error.message is not a string')
    if (e!.code !== e!.error!.code) fail('top-level code is not error.code')
    if (e!.message !== e!.error!.message) fail('top-level message is not error.message')
    if (e!.error!.code === 'internal') fail('an internal error')
  }
  count(phase, a, body)
  return body
}

/** Prometheus samples by `name{labels}`. */
async function scrape(): Promise<Map<string, number>> {
  const res = await service.app.request('/metrics')
  expect(res.status).toBe(200)
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line)
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]))
  }
  return out
}

/** Sum of every sample of a metric (all label sets). */
function total(samples: Map<string, number>, name: string): number {
  let n = 0
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) n += v
  return n
}

/**
 * Runs a property `numRuns` times over `lanes` concurrent fast-check runs (each its own seed), so
 * requests overlap as they do in production and share the spool's grouped syncs. The first
 * failure stops the other lanes and is thrown with its shrunk counterexample.
 */
async function fuzz<T>(name: string, arb: fc.Arbitrary<T>, run: (t: T) => Promise<void>, numRuns: number, lanes: number): Promise<void> {
  // The lane that failed first goes on alone, shrinking its counterexample; the others stop.
  let failedLane: number | undefined
  const results = await Promise.allSettled(
    Array.from({ length: lanes }, (_, lane) =>
      fc.assert(
        fc.asyncProperty(arb, async (t) => {
          if (failedLane !== undefined && failedLane !== lane) return
          try {
            await run(t)
          } catch (e) {
            failedLane ??= lane
            throw e
          }
        }),
        { numRuns: Math.ceil((numRuns * SCALE) / lanes), seed: SEED + lane * 7919 + name.length },
      ),
    ),
  )
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}

// ---------------------------------------------------------------------------------------------
// Hostile material, as JSON text. Large parts are written as macros (`\uE010name\uE011`), expanded
// only when the body is built, so a counterexample prints short; `\uE000`…`\uE004` become bytes
// that are not UTF-8.

const macro = (name: string) => `\uE010${name}\uE011`
const MACRO = /\uE010([^\uE010\uE011]{1,40})\uE011/g
const macroCache = new Map<string, string>()

/** A value nested `n` levels deep (`deep:kind:n`), or the content of a long string (`long:kind:n`). */
function macroText(name: string): string | undefined {
  const cached = macroCache.get(name)
  if (cached !== undefined) return cached
  const [what, kind, nText] = name.split(':')
  const n = Number(nText)
  if (!Number.isInteger(n) || n < 1) return undefined
  let text: string | undefined
  if (what === 'deep') {
    if (kind === 'arr') text = '['.repeat(n) + ']'.repeat(n)
    else if (kind === 'obj') text = '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1)
    else if (kind === 'proto') text = '{"__proto__":'.repeat(n - 1) + '{"constructor":{"prototype":{"polluted":1}}}' + '}'.repeat(n - 1)
    else if (kind === 'mixed') text = '[{"k":'.repeat(Math.floor(n / 2)) + 'null' + '}]'.repeat(Math.floor(n / 2))
    else if (kind === 'nulls') text = '[null,'.repeat(n - 1) + 'null' + ']'.repeat(n - 1)
  } else if (what === 'long') {
    if (kind === 'x') text = 'x'.repeat(n)
    else if (kind === 'emoji') text = '😀'.repeat(Math.ceil(n / 2))
    else if (kind === 'nul') text = '\\u0000'.repeat(n)
    else if (kind === 'surrogate') text = '\\ud800'.repeat(n)
    else if (kind === 'rawsurrogate') text = '\udc00'.repeat(n)
    else if (kind === 'rtl') text = '\u202e\u200f'.repeat(Math.ceil(n / 2))
    else if (kind === 'quote') text = '\\"'.repeat(n)
    else if (kind === 'combining') text = 'e\u0301\u0302\u0303'.repeat(Math.ceil(n / 4))
  }
  if (text !== undefined) macroCache.set(name, text)
  return text
}

const RAW_BYTES: Record<string, Buffer> = {
  '\uE000': Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate written as UTF-8 (CESU-8)
  '\uE001': Buffer.from([0xff]),
  '\uE002': Buffer.from([0xc0, 0x80]), // overlong U+0000
  '\uE003': Buffer.from([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
  '\uE004': Buffer.from([0xe2, 0x82]), // a sequence cut short
}

/** The body bytes of a text with macros. */
function bytesOf(text: string): Buffer {
  const expanded = text.includes('\uE010') ? text.replace(MACRO, (m, name: string) => macroText(name) ?? m) : text
  if (!/[\uE000-\uE004]/.test(expanded)) return Buffer.from(expanded, 'utf8')
  return Buffer.concat(expanded.split(/([\uE000-\uE004])/).map((p) => RAW_BYTES[p] ?? Buffer.from(p, 'utf8')))
}

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', 'toJSON']
const ODD_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00y', '\udbff\ud800', '\u202e', '\u200f\u200e', 'abc\u202edef', '\u2028\u2029', '\ufeff', '\uffff', '\ufffd',
  '😀', '👩‍⚕️', 'e\u0301', '𝕏', '\t\n\r', '\\', '"', '\\u0000', '%00', '%', '../../etc/passwd', '<script>alert(1)</script>', "'; DROP TABLE events; --", '{{WRITE_KEY}}',
  'null', 'undefined', 'true', '0', '-0', 'NaN', 'Infinity', '1e308', 'jane@example.com', '+49 170 1234567', 'p-1', 'a-1', 'sha256:00', 'env:HOME', ...PROTO_KEYS,
]
const LONG_KINDS = ['x', 'emoji', 'nul', 'surrogate', 'rawsurrogate', 'rtl', 'quote', 'combining']

/** Strings with odd unicode, prototype keys, and (rarely) 10,000 characters; as JS strings. */
const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 6, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ODD_STRINGS), fc.string({ maxLength: 8 }), fc.constantFrom(...ODD_STRINGS)).map(([a, b, c]) => a + b + c) },
)

/** A JSON string literal (text): an odd string, a long one, or one holding bytes that are not UTF-8. */
const stringLit: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: oddString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...LONG_KINDS), fc.constantFrom(100, 201, 1_000, 10_000)).map(([k, n]) => `"${macro(`long:${k}:${n}`)}"`) },
  { weight: 1, arbitrary: fc.constantFrom('\uE000', '\uE001', '\uE002', '\uE003', '\uE004').map((b) => `"x${b}y"`) },
)

const NUMBERS = ['0', '-0', '1', '-1', '42', '1e308', '-1e308', '1.7976931348623157e308', '5e-324', '1e-400', '1e999', '-1e999', '9007199254740993', '-9007199254740993', '18446744073709551616', '1E+2', '0.1', '3.14', '1e-7', '123456789012345678901234567890.5', '1e21']
/** Invalid JSON number tokens: NaN and Infinity as text, and other spellings JSON does not have. */
const BAD_NUMBERS = ['NaN', 'Infinity', '-Infinity', '+1', '01', '.5', '1.', '0x1F', '1e', '--1', '−1']
const numberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? '-0' : String(n))) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
)

const DEPTHS = [2, 31, 32, 33, 34, 63, 64, 65, 66, 100, 1_000, 10_000, 12_000]
/** A value nested deep (a macro): around the limits (32 an event, 64 a body) and far beyond. */
const deepText: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('arr', 'obj', 'proto', 'mixed', 'nulls'), fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...DEPTHS) }, { weight: 1, arbitrary: fc.constant(60_000) }))
  .map(([k, n]) => macro(`deep:${k}:${n}`))

const FIELD_NAMES = ['type', 'event', 'name', 'userId', 'anonymousId', 'previousId', 'groupId', 'messageId', 'timestamp', 'sentAt', 'context', 'properties', 'traits', 'writeKey', 'batch', 'channel', 'slots', 'program', 'id', 'keys', 'rules', 'ip', 'email', 'token', 'identityToken', 'ticket', 'url', 'page']
const keyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIELD_NAMES).map((k) => JSON.stringify(k)) },
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS).map((k) => JSON.stringify(k)) },
  { weight: 3, arbitrary: stringLit },
)

/** Any JSON scalar as text; now and then a token that is not JSON. */
const scalarText: fc.Arbitrary<string> = fc.oneof(
  { weight: 150, arbitrary: stringLit },
  { weight: 100, arbitrary: numberText },
  { weight: 50, arbitrary: fc.constantFrom('true', 'false', 'null') },
  { weight: 8, arbitrary: deepText },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NUMBERS, 'undefined', "'x'", '"unterminated', '{', ']', '', ',', '/* c */1', 'tru') },
)

/** Any JSON value as text: scalars, arrays, objects with odd and prototype keys, duplicate keys. */
const anyJson: fc.Arbitrary<string> = (
  fc.letrec((tie) => ({
    value: fc.oneof({ maxDepth: 3, depthIdentifier: 'json' }, scalarText, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4, depthIdentifier: 'json' }).map((xs) => `[${(xs as string[]).join(',')}]`),
    object: fc.array(fc.tuple(keyText, tie('value')), { maxLength: 4, depthIdentifier: 'json' }).map((es) => `{${(es as Array<[string, string]>).map(([k, v]) => `${k}:${v}`).join(',')}}`),
  })) as { value: fc.Arbitrary<string> }
).value

const json = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<string> => arb.map((v) => JSON.stringify(v) ?? 'null')

/** A field's value as text: mostly well-formed, else null or anything of any type. */
function field(good: fc.Arbitrary<string>, goodWeight = 10): fc.Arbitrary<string> {
  return fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: fc.constant('null') }, { weight: 1, arbitrary: anyJson })
}

/** A field value that leaves the field out (for fields mostly absent). */
const ABSENT = '\uE0FF'

/** An object as text: each listed field absent (1 in `absent`) or present; then now and then odd extra keys (prototype keys among them). */
function objectText(fields: Record<string, fc.Arbitrary<string>>, opts: { absent?: number; extra?: number; extraOdds?: number } = {}): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([k, arb]) => fc.option(arb.map((v) => `${JSON.stringify(k)}:${v}`), { nil: undefined, freq: opts.absent ?? 3 }))
  const extras = fc.oneof({ weight: opts.extraOdds ?? 6, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(keyText, anyJson), { minLength: 1, maxLength: opts.extra ?? 3 }) })
  return fc.tuple(fc.tuple(...entries), extras).map(([present, more]) => `{${[...present.filter((e): e is string => e !== undefined && !e.endsWith(`:${ABSENT}`)), ...more.map(([k, v]) => `${k}:${v}`)].join(',')}}`)
}

// ---------------------------------------------------------------------------------------------
// Keys, headers, encodings

const KEYS = {
  write: DEMO.writeKey,
  secret: DEMO.secretKey,
  call: DEMO.callKey,
  print: DEMO.printKey,
  quitWrite: QUIT.writeKey,
  quitSecret: QUIT.secretKey,
  quitSms: QUIT.smsKey,
  unknownPk: 'pk_demo_psoriasis_7f3a9c2f',
  unknownSk: 'sk_unknown_key_0000000000',
} as const
const keyValueArb: fc.Arbitrary<string> = fc.oneof({ weight: 20, arbitrary: fc.constantFrom(DEMO.secretKey, DEMO.secretKey, DEMO.writeKey, DEMO.callKey, DEMO.printKey, QUIT.secretKey) }, { weight: 4, arbitrary: fc.constantFrom(...Object.values(KEYS)) }, { weight: 1, arbitrary: oddString }, { weight: 1, arbitrary: fc.constantFrom(`${DEMO.secretKey} `, DEMO.secretKey.toUpperCase(), `${DEMO.writeKey}\u0000`, DEMO.secretKey.slice(0, -1)) })

/** Characters a header value may hold (no controls; Latin-1 beyond ASCII). */
const headerChar = fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }) }).map((c) => String.fromCharCode(c))
const headerString = (maxLength = 40) => fc.string({ unit: headerChar, maxLength })

/** The Authorization header: none, HTTP Basic of a key (valid, another program's, unknown, odd), or something else. */
const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 30, arbitrary: keyValueArb.map((k) => basic(k)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...Object.values(KEYS)), oddString).map(([k, p]) => `Basic ${Buffer.from(`${k}:${p}`).toString('base64')}`) },
  { weight: 1, arbitrary: fc.constantFrom(`Bearer ${DEMO.secretKey}`, 'Basic', 'Basic ', 'Basic !!!', 'Basic ====', `basic    ${Buffer.from(`${DEMO.secretKey}:`).toString('base64')}   `, `BASIC ${Buffer.from(DEMO.writeKey).toString('base64')}`, basic(''), `Basic ${Buffer.from(':').toString('base64')}`) },
  { weight: 1, arbitrary: headerString(60) },
)

/** Authorization for ingestion and decide: often the program's backend or browser key, so requests get past it, else anything. */
const senderAuthorization = fc.oneof({ weight: 3, arbitrary: fc.constant(basic(DEMO.secretKey)) }, { weight: 2, arbitrary: fc.constant(basic(DEMO.writeKey)) }, { weight: 5, arbitrary: authorization })

/** Origins the demo write keys (`http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*`) do not allow. */
const REFUSED_ORIGINS = ['https://evil.example', 'https://localhost:3000', 'http://localhost.evil.example:3000', 'null', 'http://localhost:99999', 'file://', '*', 'http://[::2]:3000', 'http://xn--nxasmq6b:1', 'http://127.0.0.2:8080']

/** Origin: none, allowed (`http://localhost:*`), refused, malformed, random. */
const origin: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom('http://localhost:3000', 'http://localhost:5173', 'http://localhost', 'http://127.0.0.1:8080', 'http://[::1]:3000') },
  { weight: 2, arbitrary: fc.constantFrom(...REFUSED_ORIGINS, 'http://LOCALHOST:3000', 'http://localhost:3000/path?q#f', 'http://user:pw@localhost:3000') },
  { weight: 1, arbitrary: headerString(60) },
)

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom(undefined, 'text/plain', 'text/plain;charset=UTF-8', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream') },
  { weight: 1, arbitrary: headerString(30) },
)

const userAgent: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36', 'Googlebot/2.1 (+http://www.google.com/bot.html)', 'curl/8.5.0', 'analytics-python/2.3.3', '', 'Mozilla/5.0 ' + 'x'.repeat(10_000)) },
  { weight: 1, arbitrary: headerString(80) },
)

/** A Content-Encoding and what is done to the body: compressed as said, not compressed, cut short, twice, or an encoding that does not exist. */
interface Encoding {
  header?: string
  transform: 'none' | 'gzip' | 'deflate' | 'deflate-raw' | 'br' | 'gzip-cut' | 'gzip-twice'
}
const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 50, arbitrary: fc.constant<Encoding>({ transform: 'none' }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'identity', transform: 'none' }) },
  { weight: 3, arbitrary: fc.constantFrom<Encoding>({ header: 'gzip', transform: 'gzip' }, { header: 'x-gzip', transform: 'gzip' }, { header: ' GZip ', transform: 'gzip' }) },
  { weight: 2, arbitrary: fc.constantFrom<Encoding>({ header: 'deflate', transform: 'deflate' }, { header: 'br', transform: 'br' }) },
  { weight: 2, arbitrary: fc.constantFrom<Encoding>({ header: 'gzip', transform: 'none' }, { header: 'br', transform: 'none' }, { header: 'deflate', transform: 'none' }, { header: 'gzip', transform: 'gzip-cut' }, { header: 'gzip', transform: 'gzip-twice' }, { header: 'deflate', transform: 'deflate-raw' }, { header: 'br', transform: 'gzip' }, { header: 'gzip', transform: 'br' }) },
  { weight: 1, arbitrary: fc.constantFrom<Encoding>({ header: 'compress', transform: 'none' }, { header: 'gzip, br', transform: 'gzip' }, { header: 'gzip;q=1', transform: 'gzip' }, { header: 'zstd', transform: 'none' }, { header: '*', transform: 'none' }) },
  { weight: 1, arbitrary: headerString(20).map((h) => ({ header: h, transform: 'none' as const })) },
)

function encode(text: Buffer, e: Encoding): Buffer {
  switch (e.transform) {
    case 'none':
      return text
    case 'gzip':
      return gzipSync(text)
    case 'deflate':
      return deflateSync(text)
    case 'deflate-raw':
      return deflateRawSync(text)
    case 'br':
      return brotliCompressSync(text)
    case 'gzip-cut': {
      const z = gzipSync(text)
      return z.subarray(0, Math.max(1, z.length - 6))
    }
    case 'gzip-twice':
      return gzipSync(gzipSync(text))
  }
}

/** Now and then a lying Content-Length, or headers a proxy would add. */
const otherHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom('0', '1', '-1', 'abc', '99999999999999999999', '1e3', String(MAX_BODY_BYTES + 1)).map((v) => ({ 'content-length': v })) },
  { weight: 1, arbitrary: headerString(40).map((v) => ({ 'x-forwarded-for': v, 'x-real-ip': v })) },
)

function headersOf(h: { authorization?: string; origin?: string; contentType?: string; userAgent?: string; encoding?: Encoding; other?: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = { ...h.other }
  if (h.authorization !== undefined) out.authorization = h.authorization
  if (h.origin !== undefined) out.origin = h.origin
  if (h.contentType !== undefined) out['content-type'] = h.contentType
  if (h.userAgent !== undefined) out['user-agent'] = h.userAgent
  if (h.encoding?.header !== undefined) out['content-encoding'] = h.encoding.header
  return out
}

/** Bytes of a text, percent-encoded for a URL (lone surrogates as U+FFFD), or raw escapes that are not UTF-8. */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')
const urlPart = (good: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...good) },
    { weight: 3, arbitrary: oddString.map(pct) },
    { weight: 1, arbitrary: fc.constantFrom('%FF', '%ED%A0%80', '%C0%80', '%00', '%', '%zz', '%E2%82', '..', '%2e%2e', '%2F', 'a%2Fb', '+', '%20', '%u0041', 'x'.repeat(10_000), '%F0%9F%98%80') },
  )

// ---------------------------------------------------------------------------------------------
// Segment messages

const NOW = Date.now()
const iso = (ms: number) => new Date(ms).toISOString()
const HOUR = 3_600_000
const DAY = 24 * HOUR

const clickToken = signClickToken({ program: DEMO.program, patient: 'p-fuzz-click', message: 'm-1', campaign: 'c-1', channel: 'email', expires: Math.floor(NOW / 1000) + 3 * 86_400 }, LINK_SECRET)
const TOKENS = [clickToken, `${clickToken}x`, clickToken.replace('.', '.A'), 'a.b', '.', '', 'x'.repeat(1001), identityToken('p-1'), '\ud800.\udc00']

const time: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: -72, max: 6 }).map((h) => JSON.stringify(iso(NOW + h * HOUR))) },
  { weight: 2, arbitrary: fc.constantFrom(-10, -400, -2000, -20_000, 2, 30).map((d) => JSON.stringify(iso(NOW + d * DAY))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('2024-02-30T00:00:00Z', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '1970-01-01T00:00:00Z', '1970-01-02T00:00:00.000Z', '2299-12-31T23:59:59.999Z', '2300-01-01T00:00:00Z', '1900-01-01', 'not a date', '', '0', 'Tue, 01 Dec 2026 10:00:00 GMT', '2026-12-07T04:00:00.123456789+14:00', `${iso(NOW)}${'0'.repeat(60)}`).map((s) => JSON.stringify(s)),
  },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())) },
)

const id = (prefix: string) =>
  json(fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => `${prefix}-${n}`) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => `${prefix}-fuzz-${n}`) }, { weight: 2, arbitrary: fc.integer({ min: -5, max: 1e9 }) }, { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) }))
const EVENTS = ['diary_downloaded', 'questionnaire_answered', 'goal_reached', 'consent_updated', 'email_click', 'sms_click', 'email_opened', 'print_delivered', 'call_completed', 'medication_checkin', 'slot_impression', 'treatment_checkin', 'x']

const properties = objectText({
  questionnaire: field(json(fc.constantFrom('first-needs', 'living-with-psoriasis', 'treatment-experience', 'nope'))),
  answers: field(json(fc.array(fc.record({ question: fc.constantFrom('mood', 'joints', 'itch', '__proto__'), answer: fc.constantFrom('coping', 'weighs-on-me', 'yes', '') }), { maxLength: 3 }))),
  goal: field(json(fc.constantFrom('diary_downloaded', 'nurse_callback_requested', 'treatment_checkin', 'nope'))),
  content: field(json(fc.array(fc.constantFrom('diary-template', 'itch-relief', '__proto__', ''), { maxLength: 3 }))),
  token: field(json(fc.constantFrom(...TOKENS))),
  ticket: field(json(fc.constantFrom('a.b', '', 'x'.repeat(300)))),
  url: field(json(fc.constantFrom('https://x.example/?utm_source=s&atn=t#h', 'http://localhost:3000/treatment', 'javascript:alert(1)', '//x', ''))),
  consent: field(json(fc.record({ web: fc.boolean(), call: fc.boolean(), email: fc.constantFrom(true, false, 'yes') }, { requiredKeys: [] }))),
  value: field(numberText),
  email: field(json(fc.constantFrom('jane@example.com', 'jane\\u0040example.com'))),
})
const context = objectText({
  ip: field(json(fc.constantFrom('203.0.113.9', '::1', '2001:db8::1', 'nonsense', '999.1.1.1', '::ffff:10.0.0.1'))),
  channel: field(json(fc.constantFrom('web', 'email', 'sms', 'call', 'print', 'app', 'server', 'fax'))),
  userAgent: field(json(fc.constantFrom('Googlebot/2.1', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)', ''))),
  page: field(objectText({ url: field(json(fc.constantFrom('http://localhost:3000/a?utm_campaign=c&email=jane@example.com', 'not a url', ''))), path: field(json(fc.constantFrom('/', '/treatment', ''))), referrer: field(stringLit), title: field(stringLit) })),
  campaign: field(objectText({ source: field(stringLit), name: field(stringLit), medium: field(stringLit) })),
  identityToken: field(json(fc.constantFrom(identityToken('p-1'), identityToken('p-2'), identityToken('p-1', DEMO.program, 'a_guessed_secret_of_more_than_32_chars'), 'x.y', ''))),
  library: field(objectText({ name: field(stringLit), version: field(stringLit) })),
  locale: field(stringLit),
  attune: field(objectText({ dropped: field(numberText) })),
})

/** A message's fields as an object text, `type` left to the request; each field hostile 1 in `goodWeight / 2`. */
const messageFieldsOf = (goodWeight: number) =>
  objectText(
  {
    event: field(json(fc.constantFrom(...EVENTS)), goodWeight),
    name: field(stringLit, goodWeight),
    category: field(stringLit, goodWeight),
    userId: field(id('p'), goodWeight),
    anonymousId: field(id('a'), goodWeight),
    previousId: field(id('a'), goodWeight),
    groupId: field(json(fc.constantFrom('clinic-1', 'clinic-2')), goodWeight),
    messageId: field(json(fc.oneof(fc.constantFrom('dup-1', 'dup-2', 'dup-3'), fc.uuid(), fc.integer({ min: 0, max: 1e9 }).map((n) => `m-${n}`))), goodWeight),
    timestamp: field(time, goodWeight),
    originalTimestamp: field(time, goodWeight),
    sentAt: field(time, goodWeight),
    properties: field(properties, goodWeight),
    traits: field(objectText({ plan: field(stringLit), name: field(stringLit), email: field(stringLit), age: field(numberText) }), goodWeight),
    context: field(context, goodWeight),
    integrations: field(json(fc.constant({ All: true })), goodWeight),
    writeKey: field(json(keyValueArb), 1),
  },
  { absent: goodWeight > 10 ? 4 : 2, extra: goodWeight > 10 ? 1 : 3 },
)
/** Patient and browser ids that are odd but may be proven: by an identity token signed for them, or a click token. */
const ODD_IDS = ['p-1', '\ud800', 'a\udc00b', '\u0000', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '😀', '\u202ep-1', 'x'.repeat(200), ' ', 'p-1\u0000', '\\', '"']
/** A message whose userId is proven (identity token) or set by a valid click token, for an odd id. */
const provenFields: fc.Arbitrary<string> = fc.record({ patient: fc.constantFrom(...ODD_IDS), anonymousId: fc.constantFrom('a-1', ...ODD_IDS), event: fc.constantFrom(...EVENTS), click: fc.boolean() }).map(({ patient, anonymousId, event, click }) => {
  let token: string
  try {
    token = click ? signClickToken({ program: DEMO.program, patient, message: 'm-odd', campaign: 'c-odd', channel: 'sms', expires: Math.floor(NOW / 1000) + 86_400 }, LINK_SECRET) : identityToken(patient)
  } catch {
    token = clickToken
  }
  return JSON.stringify(click ? { anonymousId, event: 'sms_click', properties: { token, url: 'http://localhost:3000/?utm_source=sms' } } : { userId: patient, anonymousId, event, context: { identityToken: token } })
})
/** Mostly messages with a hostile field now and then; some with hostile fields everywhere, some with odd ids proven. */
const messageFields = fc.oneof({ weight: 8, arbitrary: messageFieldsOf(80) }, { weight: 2, arbitrary: messageFieldsOf(2) }, { weight: 2, arbitrary: provenFields })

const TYPES = ['track', 'page', 'screen', 'identify', 'alias', 'group'] as const
/** A message: its type (aligned with the endpoint, or any), and its fields. */
const message = fc.record({ type: fc.oneof({ weight: 8, arbitrary: fc.constant('aligned') }, { weight: 2, arbitrary: field(json(fc.constantFrom(...TYPES))) }), fields: messageFields })
type Message = { type: string; fields: string }
/** A message as text; on a single-message endpoint an aligned type is the endpoint's or none, in a batch a type of its own. */
function messageText(m: Message, endpointType: string | undefined, i: number): string {
  const type = m.type !== 'aligned' ? m.type : endpointType !== undefined ? (i % 2 ? JSON.stringify(endpointType) : undefined) : JSON.stringify(TYPES[i % TYPES.length])
  if (type === undefined) return m.fields
  return m.fields === '{}' ? `{"type":${type}}` : `{"type":${type},${m.fields.slice(1)}`
}

const batchEnvelope = fc.record({
  batch: fc.oneof(
    { weight: 30, arbitrary: fc.array(message, { maxLength: 6 }).map((ms) => ({ ms })) },
    { weight: 1, arbitrary: fc.constantFrom(500, 501).map((n) => ({ n })) },
    // One event a month back over up to 5 years: at most 12 months a request, the rest refused.
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(13, 30, 61), fc.nat(1e9)).map(([months, tag]) => ({ months, tag })) },
    { weight: 2, arbitrary: anyJson.map((t) => ({ t })) },
  ),
  rest: objectText({ sentAt: field(time), context: field(context), writeKey: field(json(keyValueArb), 1) }, { absent: 2 }),
})
type BatchEnvelope = { batch: { ms: Message[] } | { n: number } | { months: number; tag: number } | { t: string }; rest: string }
function batchText(b: BatchEnvelope): string {
  let batch: string
  if ('ms' in b.batch) batch = `[${b.batch.ms.map((m, i) => messageText(m, undefined, i)).join(',')}]`
  else if ('n' in b.batch) batch = `[${Array.from({ length: b.batch.n }, (_, i) => `{"type":"track","userId":"p-${i % 7}","event":"diary_downloaded","messageId":"bulk-${i}"}`).join(',')}]`
  else if ('months' in b.batch) {
    const { months, tag } = b.batch
    batch = `[${Array.from({ length: months }, (_, i) => `{"type":"track","userId":"p-3","event":"medication_checkin","messageId":"month-${tag}-${i}","timestamp":"${iso(NOW - i * 31 * DAY)}"}`).join(',')}]`
  } else batch = b.batch.t
  return b.rest === '{}' ? `{"batch":${batch}}` : `{"batch":${batch},${b.rest.slice(1)}`
}

/** Text with a hole (`@`) where a deep value goes: at the top, in a batch, an event, a context, a key. */
const DEEP_HOLES = [
  '@',
  '{"batch":@}',
  '{"batch":[@]}',
  '{"batch":[{"type":"track","userId":"p-1","event":"e","properties":{"a":@}},{"type":"track","userId":"p-1","event":"diary_downloaded"}]}',
  '{"batch":[{"type":"track","userId":"p-1","event":"e"}],"context":@}',
  '{"batch":[{"type":"track","userId":"p-1","event":"e"}],"sentAt":@}',
  '{"batch":[{"type":"track","userId":"p-1","event":"e"}],"writeKey":@}',
  '{"userId":"p-1","event":"e","context":@}',
  '{"userId":@,"event":"e"}',
  '{"userId":"p-1","event":"e","properties":{"__proto__":@}}',
  '{"anonymousId":"a-1","channel":"web","context":@}',
  '{"userId":"p-1","channel":@,"slots":["home-hero"]}',
  '{"userId":"p-1","channel":"web","slots":@}',
  '{"id":"psoriasis-demo","rules":[{"when":@}]}',
]
const deepBody: fc.Arbitrary<string> = fc.tuple(fc.constantFrom(...DEEP_HOLES), deepText).map(([hole, deep]) => hole.replace('@', deep))

/** Bodies that are not JSON objects: empty, whitespace, scalars, junk, prototype tricks. */
const junkBody: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '', ' ', '\n\t', '\ufeff{}', 'null', '[]', '{}', '""', '0', 'true', '1e999', 'NaN', '{"batch":null}', '{"batch":[]}', '{"batch":{}}', '{"batch":"[]"}',
      '{"__proto__":{"batch":[{"type":"track","userId":"u","event":"e"}]}}', '{"batch":[{"__proto__":{"type":"track"},"userId":"u","event":"e"}]}',
      '{"type":"track","userId":"u","event":"e","properties":{"__proto__":{"x":1}},"context":{"__proto__":{"channel":"call"},"constructor":{"prototype":{"y":1}}}}',
      '{"constructor":{"prototype":{"userId":"u"}},"event":"e"}', '{"batch":[{"type":"track","userId":"u\\ud800","event":"\\udc00e"}]}',
      '{"userId":"p-1","event":"e"}{"userId":"p-1","event":"e"}', '{"userId":"p-1","event":"e",}', "{'userId':'p-1'}", '{"userId":"p-1","event":"e"', '{"userId":"p-1","userId":null,"event":"e"}',
      '\u0000', '\uE001\uE001', '{"userId":"\uE000","event":"e"}',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: anyJson },
)

/** What a body is: text (with macros), raw bytes, or a body of about a size limit. */
type BodySpec = { text: string } | { bytes: Uint8Array } | { sized: number; spaces: boolean } | { aligned: true }

/** A body exactly `bytes` long: events of about 30 KB in a batch (or one small message and whitespace). */
function sizedText(bytes: number, shape: 'batch' | 'message' | 'decide' | 'program', spaces: boolean): string {
  const head = shape === 'decide' ? '{"userId":"p-1","channel":"web","slots":["home-hero"]}' : shape === 'program' ? '{"id":"not-this-program","pad":""}' : '{"type":"track","userId":"p-1","event":"diary_downloaded"}'
  if (spaces || shape !== 'batch') {
    // Padding as whitespace (valid JSON), or inside a string of the program document.
    if (shape === 'program' && !spaces) return head.replace('"pad":""', `"pad":"${'x'.repeat(bytes - head.length)}"`)
    return head + ' '.repeat(Math.max(0, bytes - head.length))
  }
  const per = 30_000
  const events = Math.ceil(bytes / per)
  const mk = (pads: number[]) => `{"batch":[${pads.map((p, i) => `{"type":"track","userId":"p-2","event":"diary_downloaded","messageId":"size-${bytes}-${i}","properties":{"pad":"${'x'.repeat(p)}"}}`).join(',')}]}`
  let rest = bytes - mk(Array(events).fill(0)).length
  const pads = Array.from({ length: events }, () => {
    const n = Math.min(rest, per - 200)
    rest -= n
    return n
  })
  return mk(pads)
}

const sized = (limit: number): fc.Arbitrary<BodySpec> => fc.record({ sized: fc.constantFrom(limit - 1, limit, limit + 1, limit + 1000), spaces: fc.boolean() })

// ---------------------------------------------------------------------------------------------
// The runs

/** The key a request names as the server reads it: the HTTP Basic user name, else `writeKey` in the body. */
function keyOf(headers: Record<string, string>, body?: Buffer): string | undefined {
  // Headers drop leading and trailing HTTP whitespace; the server trims what follows `Basic `.
  const auth = headers.authorization?.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '')
  if (auth?.toLowerCase().startsWith('basic ')) {
    const user = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8').split(':')[0]
    if (user) return user
  }
  if (body === undefined) return undefined
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { writeKey?: unknown } | null
    return parsed && typeof parsed === 'object' && typeof parsed.writeKey === 'string' ? parsed.writeKey : undefined
  } catch {
    return undefined
  }
}
const basicUserOf = (headers: Record<string, string>) => keyOf(headers)

/** What the quarantine holds (rows ClickHouse refused): the first few, with the reason and the ids. */
function quarantined(): string {
  const dir = join(svc.dir, 'quarantine')
  if (!existsSync(dir)) return 'nothing'
  const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
  return `${lines.length} rows, e.g.:\n${lines
    .slice(0, 3)
    .map((l) => {
      const q = JSON.parse(l) as { reason: string; record: string }
      const row = JSON.parse(q.record) as unknown[]
      return `  event ${JSON.stringify(row[3])} user_id ${JSON.stringify(row[5])} anonymous_id ${JSON.stringify(row[6])}: ${q.reason.split('\n')[0]!.slice(0, 200)}`
    })
    .join('\n')}`
}

/** A write key sent from an origin its allowlist refuses must be refused (403), whatever else the request holds. */
function refusedOrigin(r: Req, key: string | undefined): boolean {
  return key !== undefined && WRITE_KEYS.includes(key) && REFUSED_ORIGINS.includes(r.headers.origin ?? '')
}

function failure(why: string, r: Req, a: Answer): Error {
  return new Error(`${why}\n  request: ${show(r)}\n  answer: ${a.status} ${a.text.slice(0, 600)}`)
}

/**
 * Fuzzes one endpoint family: every answer checked (see `checked`), then by `verify`; the error
 * answers seen must be exactly the increase of `attune_requests_rejected_total`.
 */
async function phase<G>(name: string, arb: fc.Arbitrary<G>, build: (g: G) => { r: Req; plain?: Buffer }, verify: (g: G, r: Req, a: Answer, body: unknown, plain: Buffer | undefined) => void, numRuns: number, lanes: number) {
  let errors = 0
  let requests = 0
  const before = await scrape()
  await fuzz(
    name,
    arb,
    async (g) => {
      const { r, plain } = build(g)
      const a = await send(r)
      requests++
      const body = checked(name, r, a)
      if (a.status >= 400) errors++
      verify(g, r, a, body, plain)
    },
    numRuns,
    lanes,
  )
  const after = await scrape()
  console.log(`${name}: ${requests} requests, ${errors} error answers`, Object.fromEntries(tallies.get(name) ?? []))
  expect(requests).toBeGreaterThanOrEqual(numRuns * SCALE)
  expect(total(after, 'attune_requests_rejected_total') - total(before, 'attune_requests_rejected_total')).toBe(errors)
  return { before, after, errors }
}

const INGEST_PATHS = ['/v1/batch', '/v1/import', '/v1/import/', '/v1/track', '/v1/page', '/v1/screen', '/v1/identify', '/v1/alias', '/v1/group']
const WRITE_KEYS: string[] = [DEMO.writeKey, QUIT.writeKey]
/** The keys with the decide, profiles and admin scopes, by program. */
const ADMIN_KEYS: Record<string, string> = { [DEMO.program]: DEMO.secretKey, [QUIT.program]: QUIT.secretKey }
const CLEAR_SECRETS = [DEMO.writeKey, DEMO.secretKey, DEMO.callKey, DEMO.printKey, DEMO.identitySecret, LINK_SECRET, QUIT.writeKey, QUIT.secretKey]

/** Authorization for the secret-key routes: often the program's admin key, so the handlers run, else anything. */
const secretAuthorization = fc.oneof({ weight: 3, arbitrary: fc.constant(basic(DEMO.secretKey)) }, { weight: 1, arbitrary: fc.constant(basic(QUIT.secretKey)) }, { weight: 3, arbitrary: authorization })
const optionalQuery = (name: string, values: fc.Arbitrary<string>) => fc.option(values.map((v) => `${name}=${v}`), { nil: undefined, freq: 3 })
const query = (...parts: Array<string | undefined>) => {
  const present = parts.filter((p): p is string => p !== undefined)
  return present.length ? `?${present.join('&')}` : ''
}
/** A path segment percent-decoded as the server reads it (a malformed escape stays as written). */
const decoded = (part: string) => {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

describe('fuzz: every public endpoint answers 2xx or a JSON 4xx, whatever it is sent', () => {
  it('ingestion: 10,000 hostile requests; the counters reconcile and everything accepted lands', { timeout: 150_000 * SCALE }, async () => {
    const ingestRequest = fc.record({
      path: fc.oneof({ weight: 40, arbitrary: fc.constantFrom(...INGEST_PATHS) }, { weight: 1, arbitrary: fc.constantFrom('/v1/Track', '/v1/track/', '/v1//batch', '/v1/batch?writeKey=pk_demo_psoriasis_7f3a9c2e', '/v1/trackx', '/v1/batch/..', '/v1/%62atch') }),
      authorization: senderAuthorization,
      origin,
      contentType,
      userAgent,
      encoding,
      other: otherHeaders,
      message,
      batch: batchEnvelope,
      body: fc.oneof(
        { weight: 400, arbitrary: fc.constant<BodySpec>({ aligned: true }) },
        { weight: 10, arbitrary: deepBody.map((text): BodySpec => ({ text })) },
        { weight: 10, arbitrary: junkBody.map((text): BodySpec => ({ text })) },
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BodySpec => ({ bytes })) },
        { weight: 2, arbitrary: sized(MAX_BODY_BYTES) },
      ),
      swap: fc.nat(29),
    })

    let acceptedSeen = 0
    let rejectedEventsSeen = 0
    const reasons = new Map<string, number>()
    const single = (path: string) => /^\/v1\/(track|page|screen|identify|alias|group)$/.exec(path.split('?')[0]!)?.[1]
    const { before, after, errors } = await phase(
      'ingest',
      ingestRequest,
      (g) => {
        const type = single(g.path)
        let plain: Buffer
        if ('aligned' in g.body) {
          // Mostly the body the endpoint takes; one in 30 the other shape.
          const asSingle = g.swap === 0 ? !type : !!type || !INGEST_PATHS.includes(g.path)
          plain = bytesOf(asSingle ? messageText(g.message, type, 0) : batchText(g.batch))
        } else if ('text' in g.body) plain = bytesOf(g.body.text)
        else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, type ? 'message' : 'batch', g.body.spaces))
        return { r: { method: 'POST', path: g.path, headers: headersOf(g), body: encode(plain, g.encoding) }, plain }
      },
      (g, r, a, body, plain) => {
        // How many events the server was sent, when it could read them: each is accepted or rejected.
        let events: number | undefined
        try {
          const parsed = JSON.parse(plain!.toString('utf8')) as unknown
          if (single(g.path)) events = 1
          else if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { batch?: unknown }).batch)) events = (parsed as { batch: unknown[] }).batch.length
        } catch {
          // not JSON: nothing was received
        }
        const tally = (rejected: Rejected[]) => {
          rejectedEventsSeen += rejected.length
          for (const x of rejected) {
            const k = `${x.reason} ${x.field.replace(/^batch\[\d+\]\.?/, '').split(/[.[]/)[0]}`
            reasons.set(k, (reasons.get(k) ?? 0) + 1)
          }
        }
        const wellFormed = (rejected: Rejected[]) => {
          let last = -1
          for (const x of rejected) {
            if (!Number.isInteger(x.index) || x.index <= last || (events !== undefined && x.index >= events)) throw failure('rejected events out of order or out of range', r, a)
            if (typeof x.reason !== 'string' || typeof x.field !== 'string' || typeof x.message !== 'string') throw failure('a rejected event not in the documented shape', r, a)
            last = x.index
          }
        }
        if (a.status >= 400) {
          const e = (body as ErrorAnswer).error
          if (e.code === 'no_valid_events') {
            if (!Array.isArray(e.rejected) || e.rejected.length === 0) throw failure('no_valid_events without its rejected list', r, a)
            wellFormed(e.rejected)
            if (events !== undefined && e.rejected.length !== events) throw failure(`no_valid_events lists ${e.rejected.length} of ${events} events`, r, a)
            tally(e.rejected)
          }
          return
        }
        if (a.status !== 200) throw failure(`an ingestion answer of ${a.status}`, r, a)
        const ok = body as { success: boolean; accepted: number; rejected: Rejected[] }
        if (ok.success !== true || !Number.isInteger(ok.accepted) || ok.accepted < 1 || !Array.isArray(ok.rejected)) throw failure('a 200 not in the documented shape', r, a)
        wellFormed(ok.rejected)
        if (refusedOrigin(r, keyOf(r.headers, plain))) throw failure('a write key accepted from an origin it does not allow', r, a)
        if (events !== undefined && ok.accepted + ok.rejected.length !== events) throw failure(`${ok.accepted} accepted and ${ok.rejected.length} rejected of ${events} events`, r, a)
        acceptedSeen += ok.accepted
        tally(ok.rejected)
      },
      10_000,
      4,
    )
    const d = (name: string) => total(after, name) - total(before, name)
    console.log(`ingestion: ${acceptedSeen} events accepted, ${rejectedEventsSeen} rejected, ${errors} error answers; rejections by reason and field:`, Object.fromEntries([...reasons].sort((x, y) => y[1] - x[1]).slice(0, 25)))
    expect(acceptedSeen).toBeGreaterThan(2_000)
    expect(rejectedEventsSeen).toBeGreaterThan(1_000)
    expect(d('attune_events_received_total')).toBe(d('attune_events_accepted_total') + d('attune_events_rejected_total'))
    expect(d('attune_events_accepted_total')).toBe(acceptedSeen)
    expect(d('attune_events_rejected_total')).toBe(rejectedEventsSeen)
    expect(d('attune_requests_rejected_total')).toBe(errors)
    expect(total(after, 'attune_events_received_total')).toBe(total(after, 'attune_events_accepted_total') + total(after, 'attune_events_rejected_total'))

    // Everything accepted lands: the spool drains, each event inserted once or found a duplicate, none quarantined.
    await waitFor(
      () => {
        if (service.writer.state.consecutiveFailures >= 2) throw new Error(`inserts keep failing: ${service.writer.state.lastError}`)
        return service.spool.depthBytes() === 0
      },
      30_000,
      'the spool to drain',
    )
    const landed = await scrape()
    const dl = (name: string) => total(landed, name) - total(before, name)
    expect(dl('attune_events_quarantined_total'), `accepted events refused by ClickHouse (quarantined): ${quarantined()}`).toBe(0)
    expect(dl('attune_events_inserted_total') + dl('attune_events_duplicate_total')).toBe(acceptedSeen)
    expect(service.writer.state.lastError).toBeNull()
  })

  it('decide: 10,000 hostile requests; a browser is answered content only, a key without the decide scope nothing', { timeout: 120_000 * SCALE }, async () => {
    const slots = fc.oneof(
      { weight: 20, arbitrary: json(fc.array(fc.constantFrom('home-hero', 'home-hero', 'sidebar', 'x1', 'a'.repeat(64)), { maxLength: 4 })) },
      { weight: 2, arbitrary: json(fc.array(fc.constantFrom('home-hero', '-bad', 'Home', 'a'.repeat(65), '__proto__', '', 'x y'), { minLength: 1, maxLength: 3 })) },
      { weight: 1, arbitrary: fc.constant(JSON.stringify(Array(21).fill('home-hero'))) },
    )
    const decideId = (prefix: string) => json(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => `${prefix}-${n}`) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => `${prefix}-fuzz-${n}`) }, { weight: 1, arbitrary: fc.constantFrom('x'.repeat(200), 'x'.repeat(201), '', '\ud800', 'a\udc00', '\u0000', '\u202e', '😀', ...PROTO_KEYS) }))
    const decideFieldsOf = (gw: number) =>
      objectText(
        {
          // Required: mostly there.
          channel: fc.oneof({ weight: 40, arbitrary: field(json(fc.oneof({ weight: 20, arbitrary: fc.constant('web') }, { weight: 4, arbitrary: fc.constantFrom('email', 'sms', 'call', 'print') }, { weight: 1, arbitrary: fc.constantFrom('fax', 'WEB', 'app') })), gw) }, { weight: 1, arbitrary: fc.constant('null') }),
          program: field(fc.oneof({ weight: 6, arbitrary: fc.constant(ABSENT) }, { weight: 3, arbitrary: json(fc.constant(DEMO.program)) }, { weight: 1, arbitrary: json(fc.constantFrom(QUIT.program, 'nope', 'x'.repeat(101))) }), gw),
          userId: field(decideId('p'), gw),
          anonymousId: field(decideId('a'), gw),
          slots: field(slots, gw),
          context: field(objectText({ page: field(objectText({ url: field(json(fc.constantFrom('http://localhost:3000/treatment?utm_source=x', 'not a url'))), path: field(stringLit), title: field(stringLit) })), locale: field(stringLit), referrer: field(stringLit) }), gw),
        },
        { absent: gw > 10 ? 4 : 2, extraOdds: gw > 10 ? 40 : 4 },
      ).map((t) => (t.includes('"channel":') || gw <= 10 ? t : t === '{}' ? '{"channel":"web"}' : `{"channel":"web",${t.slice(1)}`))
    const decideRequest = fc.record({
      path: fc.oneof({ weight: 60, arbitrary: fc.constant('/v1/decide') }, { weight: 1, arbitrary: fc.constantFrom('/v1/decide/', '/v1/Decide', '/v1/decide?writeKey=pk_demo_psoriasis_7f3a9c2e', '/v1/decide?channel=web') }),
      authorization: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: senderAuthorization }),
      origin,
      contentType,
      userAgent,
      encoding,
      other: otherHeaders,
      fields: fc.oneof({ weight: 9, arbitrary: decideFieldsOf(80) }, { weight: 1, arbitrary: decideFieldsOf(2) }),
      writeKey: fc.oneof({ weight: 24, arbitrary: fc.constant(undefined) }, { weight: 8, arbitrary: json(keyValueArb) }, { weight: 1, arbitrary: field(fc.constant('null'), 1) }),
      body: fc.oneof(
        { weight: 400, arbitrary: fc.constant<BodySpec>({ aligned: true }) },
        { weight: 10, arbitrary: deepBody.map((text): BodySpec => ({ text })) },
        { weight: 10, arbitrary: junkBody.map((text): BodySpec => ({ text })) },
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BodySpec => ({ bytes })) },
        { weight: 3, arbitrary: sized(MAX_DECIDE_BYTES) },
      ),
    })
    const BROWSER_ANSWER = ['channel', 'decidedAt', 'decisions', 'program', 'requestId']
    const BROWSER_DECISION = new Set(['slot', 'outcome', 'reason', 'rule', 'content'])
    let shown = 0
    const { before } = await phase(
      'decide',
      decideRequest,
      (g) => {
        let plain: Buffer
        if ('aligned' in g.body) plain = bytesOf(g.writeKey === undefined ? g.fields : g.fields === '{}' ? `{"writeKey":${g.writeKey}}` : `{"writeKey":${g.writeKey},${g.fields.slice(1)}`)
        else if ('text' in g.body) plain = bytesOf(g.body.text)
        else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, 'decide', g.body.spaces))
        return { r: { method: 'POST', path: g.path, headers: headersOf(g), body: encode(plain, g.encoding) }, plain }
      },
      (_g, r, a, body, plain) => {
        if (a.status >= 400) return
        const key = keyOf(r.headers, plain)
        if (refusedOrigin(r, key)) throw failure('a write key answered from an origin it does not allow', r, a)
        if (!key || (!WRITE_KEYS.includes(key) && !Object.values(ADMIN_KEYS).includes(key))) throw failure('decided for a key without the decide scope', r, a)
        const out = body as { program: unknown; requestId: unknown; channel: unknown; decidedAt: unknown; decisions: Array<Record<string, unknown>> }
        if (typeof out.program !== 'string' || typeof out.requestId !== 'string' || typeof out.decidedAt !== 'string' || !Array.isArray(out.decisions) || out.decisions.length === 0) throw failure('a decide answer not in the documented shape', r, a)
        if (WRITE_KEYS.includes(key)) {
          // A browser's answer: content only, nothing of the profile.
          if (JSON.stringify(Object.keys(out).sort()) !== JSON.stringify(BROWSER_ANSWER)) throw failure('a browser’s decide answer holds more than the content', r, a)
          if (out.channel !== 'web') throw failure('a write key decided for another channel than the web', r, a)
          for (const dcs of out.decisions) for (const k of Object.keys(dcs)) if (!BROWSER_DECISION.has(k)) throw failure(`a browser’s decision holds ${k}`, r, a)
        }
        shown += out.decisions.filter((x) => x.outcome === 'shown').length
      },
      10_000,
      4,
    )
    console.log(`decide: ${shown} decisions shown`)
    expect(tallies.get('decide')!.get('200 ok') ?? 0).toBeGreaterThan(1_500)
    // The decisions and stage changes recorded as events land: none is refused by ClickHouse.
    await waitFor(() => service.spool.depthBytes() === 0, 30_000, 'the decision events to land')
    const landed = await scrape()
    const refused = total(landed, 'attune_events_quarantined_total') - total(before, 'attune_events_quarantined_total')
    expect(refused, `decision events refused by ClickHouse (quarantined): ${refused ? quarantined() : ''}`).toBe(0)
  })

  it('questionnaires, profiles, timelines and program administration: hostile requests never replace a program', { timeout: 120_000 * SCALE }, async () => {
    const versionsOf = async (program: string) => (await (await service.app.request(`/v1/admin/programs/${program}/versions`, { headers: { authorization: basic(ADMIN_KEYS[program]!) } })).json()) as { active: number; versions: unknown[] }
    const activeOf = async (program: string) => {
      const a = (await (await service.app.request(`/v1/admin/programs/${program}`, { headers: { authorization: basic(ADMIN_KEYS[program]!) } })).json()) as { version: number; checksum: string }
      return { version: a.version, checksum: a.checksum }
    }
    const programsBefore = { versions: [await versionsOf(DEMO.program), await versionsOf(QUIT.program)], active: [await activeOf(DEMO.program), await activeOf(QUIT.program)] }

    // GET /v1/questionnaires/:id, the key as HTTP Basic or ?writeKey= (with ?anonymousId=).
    const QUESTIONNAIRES = ['first-needs', 'living-with-psoriasis', 'treatment-experience', ...(JSON.parse(readFileSync(join(ROOT, 'programs/smoking-cessation-demo.json'), 'utf8')) as { questionnaires: Array<{ id: string }> }).questionnaires.map((q) => q.id)]
    await phase(
      'questionnaires',
      fc.record({
        id: urlPart([...QUESTIONNAIRES.slice(0, 3), ...QUESTIONNAIRES.slice(0, 3), ...QUESTIONNAIRES]),
        writeKey: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: fc.constant(DEMO.writeKey) }, { weight: 1, arbitrary: fc.constant(QUIT.writeKey) }, { weight: 3, arbitrary: keyValueArb }),
        anonymousId: optionalQuery('anonymousId', urlPart(['a-1', 'a-2', 'a-fuzz-1', 'x'.repeat(200), 'x'.repeat(201), ''])),
        junk: optionalQuery(pct('__proto__'), urlPart(['1', ''])),
        authorization: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: authorization }),
        origin,
        userAgent,
      }),
      (g) => ({ r: { method: 'GET', path: `/v1/questionnaires/${g.id}${query(g.writeKey === undefined ? undefined : `writeKey=${pct(g.writeKey)}`, g.anonymousId, g.junk)}`, headers: headersOf(g) } }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        const basicUser = basicUserOf(r.headers)
        // A secret key is taken only as HTTP Basic, never from a URL.
        if (!basicUser && !WRITE_KEYS.includes(g.writeKey ?? '')) throw failure('a questionnaire answered to a key in the URL that is not a write key', r, a)
        if (refusedOrigin(r, basicUser ?? g.writeKey)) throw failure('a write key answered from an origin it does not allow', r, a)
        const q = body as { id: unknown; title: unknown; availableAtLevel: unknown; questions: unknown; ticket?: unknown }
        if (typeof q.id !== 'string' || typeof q.title !== 'string' || typeof q.availableAtLevel !== 'number' || !Array.isArray(q.questions)) throw failure('a questionnaire not in the documented shape', r, a)
        if (!basicUser && (q.availableAtLevel as number) > 0 && typeof q.ticket !== 'string') throw failure('a questionnaire above level 0 served to a browser without a ticket', r, a)
      },
      1_500,
      2,
    )

    // GET /v1/profiles/:id and /v1/profiles/:id/timeline?days=&limit=
    const NUMS = ['1', '7', '90', '3660', '3661', '10000', '10001', '0', '-1', '1.5', '1e3', 'NaN', 'Infinity', '0x10', ' 5', '', '9'.repeat(400), '\u0000', '１', '2e0', '-0']
    const profileRequest = fc.record({
      id: urlPart(['p-1', 'p-2', 'p-3', 'p-fuzz-click', 'a-1', 'x'.repeat(200), 'x'.repeat(201), ...ODD_IDS.map(pct)]),
      program: optionalQuery('program', urlPart([DEMO.program, QUIT.program])),
      authorization: secretAuthorization,
      origin,
      userAgent,
    })
    await phase(
      'profiles',
      profileRequest,
      (g) => ({ r: { method: 'GET', path: `/v1/profiles/${g.id}${query(g.program)}`, headers: headersOf(g) } }),
      (_g, r, a, body) => {
        if (a.status >= 400) return
        if (!Object.values(ADMIN_KEYS).includes(basicUserOf(r.headers) ?? '')) throw failure('a profile answered to a key without the profiles scope', r, a)
        if (!Array.isArray((body as { ids?: unknown }).ids)) throw failure('a profile not in the documented shape', r, a)
      },
      1_000,
      2,
    )
    await phase(
      'timeline',
      fc.record({ profile: profileRequest, days: fc.option(fc.constantFrom(...NUMS), { nil: undefined, freq: 4 }), limit: fc.option(fc.constantFrom(...NUMS), { nil: undefined, freq: 4 }) }),
      (g) => ({
        r: { method: 'GET', path: `/v1/profiles/${g.profile.id}/timeline${query(g.profile.program, g.days === undefined ? undefined : `days=${pct(g.days)}`, g.limit === undefined ? undefined : `limit=${pct(g.limit)}`)}`, headers: headersOf(g.profile) },
      }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        if (!Object.values(ADMIN_KEYS).includes(basicUserOf(r.headers) ?? '')) throw failure('a timeline answered to a key without the profiles scope', r, a)
        const inRange = (raw: string | undefined, max: number) => raw === undefined || (Number.isInteger(Number(raw)) && Number(raw) >= 1 && Number(raw) <= max)
        if (!inRange(g.days, 3660) || !inRange(g.limit, 10_000)) throw failure('a timeline answered for days or limit out of range', r, a)
        if (typeof (body as { program?: unknown }).program !== 'string') throw failure('a timeline not in the documented shape', r, a)
      },
      500,
      2,
    )

    // GET /v1/admin/programs/:id and /versions
    const adminGet = fc.record({ id: urlPart([DEMO.program, DEMO.program, QUIT.program, 'PSORIASIS-DEMO', 'nope']), versions: fc.boolean(), authorization: secretAuthorization, origin, junk: optionalQuery('program', urlPart([QUIT.program])) })
    await phase(
      'admin-get',
      adminGet,
      (g) => ({ r: { method: 'GET', path: `/v1/admin/programs/${g.id}${g.versions ? '/versions' : ''}${query(g.junk)}`, headers: headersOf(g) } }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        if (basicUserOf(r.headers) !== ADMIN_KEYS[decoded(g.id)]) throw failure('a program document answered to a key that is not the program’s admin key', r, a)
        if (g.versions ? !Array.isArray((body as { versions?: unknown }).versions) : typeof (body as { document?: unknown }).document !== 'object') throw failure('an answer not in the documented shape', r, a)
        for (const secret of CLEAR_SECRETS) if (a.text.includes(secret)) throw failure('a key or secret in clear in a program answer', r, a)
      },
      1_000,
      2,
    )

    // Methods the endpoints do not take: 404 in the same JSON shape.
    const POSTED = ['/v1/batch', '/v1/track', '/v1/decide']
    await phase(
      'methods',
      fc
        .record({
          method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'POST'),
          path: fc.constantFrom(...POSTED, '/v1/questionnaires/first-needs', '/v1/profiles/p-1', '/v1/profiles/p-1/timeline', `/v1/admin/programs/${DEMO.program}/versions`, '/v1', '/v1/', '/v1/admin', '/v1/admin/programs', '/v1/profiles'),
          authorization: secretAuthorization,
          origin,
          body: fc.option(junkBody, { nil: undefined, freq: 2 }),
        })
        .filter((g) => (g.method === 'POST' ? !POSTED.includes(g.path) : g.method === 'GET' ? POSTED.includes(g.path) || !g.path.includes('/', 4) : true)),
      (g) => ({ r: { method: g.method, path: g.path, headers: headersOf(g), ...(g.method !== 'GET' && g.body !== undefined ? { body: bytesOf(g.body) } : {}) } }),
      (_g, r, a) => {
        if (a.status !== 404) throw failure('a method the endpoint does not take was not refused with 404', r, a)
      },
      300,
      2,
    )

    // PUT /v1/admin/programs/:id, never with a document the key may use: broken copies of the
    // document (each break refused on its own, checked first), random JSON, junk, deep nesting,
    // over 1 MB; or the whole valid document with a key that may not send it.
    const original = JSON.parse(readFileSync(join(ROOT, 'programs/psoriasis-demo.json'), 'utf8')) as Record<string, any>
    type Doc = Record<string, any>
    const BREAKS: Array<[string, (d: Doc) => void]> = [
      ['id of another program', (d) => (d.id = 'psoriasis-demo-2')],
      ['id not an id', (d) => (d.id = 'Not Valid!')],
      ['id missing', (d) => delete d.id],
      ['id null', (d) => (d.id = null)],
      ['name empty', (d) => (d.name = '')],
      ['market a name', (d) => (d.market = 'Germany')],
      ['time zone unknown', (d) => (d.timeZone = 'Mars/Olympus')],
      ['demo not a boolean', (d) => (d.demo = 'yes')],
      ['keys a number', (d) => (d.keys = 5)],
      ['no write key', (d) => (d.keys.write = [])],
      ['a key of another program', (d) => (d.keys.write[0].key = QUIT.writeKey)],
      ['a key from an unset variable', (d) => (d.keys.secret[0].key = 'env:ATTUNE_FUZZ_NOT_SET')],
      ['an unknown need', (d) => (d.content[0].needs = { 'no-such-need': 0.5 })],
      ['rules not a list', (d) => (d.rules = 'x')],
      ['questions not a list', (d) => (d.questionnaires[0].questions = 5)],
    ]
    const broken = (breaks: number[]) => {
      const d = JSON.parse(JSON.stringify(original)) as Doc
      // A break may not apply after another (keys a number, then no write key): the first one did.
      for (const b of breaks) {
        try {
          BREAKS[b]![1](d)
        } catch {
          // broken already
        }
      }
      return JSON.stringify(d)
    }
    const put = (id: string, body: string | Buffer, key: string = DEMO.secretKey) => service.app.request(`/v1/admin/programs/${id}`, { method: 'PUT', headers: { authorization: basic(key), 'content-type': 'application/json' }, body })
    for (const [i, [what]] of BREAKS.entries()) {
      const res = await put(DEMO.program, broken([i]))
      expect([res.status, ((await res.json()) as ErrorAnswer).error.code], what).toEqual([400, 'invalid_program'])
    }
    // Keys that may not change the psoriasis program, whatever they send.
    const notAdmin = fc.constantFrom(basic(DEMO.writeKey), basic(DEMO.callKey), basic(DEMO.printKey), basic(QUIT.secretKey), basic(QUIT.writeKey), basic(KEYS.unknownSk), `Bearer ${DEMO.secretKey}`, basic(''))
    const putRequest = fc.record({
      id: urlPart([DEMO.program, DEMO.program, DEMO.program, QUIT.program]),
      authorization: fc.oneof({ weight: 6, arbitrary: fc.constant(basic(DEMO.secretKey)) }, { weight: 1, arbitrary: fc.constant(basic(QUIT.secretKey)) }, { weight: 2, arbitrary: authorization }),
      origin,
      contentType,
      encoding: fc.oneof({ weight: 5, arbitrary: fc.constant<Encoding>({ transform: 'none' }) }, { weight: 1, arbitrary: encoding }),
      body: fc.oneof(
        { weight: 8, arbitrary: fc.record({ breaks: fc.uniqueArray(fc.nat(BREAKS.length - 1), { minLength: 1, maxLength: 3 }), extra: fc.option(fc.tuple(keyText, anyJson), { nil: undefined, freq: 2 }) }) },
        { weight: 4, arbitrary: anyJson.map((text) => ({ text })) },
        { weight: 1, arbitrary: junkBody.map((text) => ({ text })) },
        { weight: 1, arbitrary: deepBody.map((text) => ({ text })) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })) },
        { weight: 1, arbitrary: fc.constantFrom(MAX_PROGRAM_BYTES, MAX_PROGRAM_BYTES + 1).chain((n) => fc.boolean().map((spaces) => ({ sized: n, spaces }))) },
      ),
      valid: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: notAdmin }),
    })
    await phase(
      'admin-put',
      putRequest,
      (g) => {
        let plain: Buffer
        let authorization = g.authorization
        if (g.valid !== undefined) {
          // The whole valid document, with a key that may not send it.
          plain = Buffer.from(JSON.stringify(original))
          authorization = g.valid
        } else if ('breaks' in g.body) {
          const doc = broken(g.body.breaks)
          plain = bytesOf(g.body.extra ? `${doc.slice(0, -1)},${g.body.extra[0]}:${g.body.extra[1]}}` : doc)
        } else if ('text' in g.body) {
          plain = bytesOf(g.body.text)
          // Random JSON is never a whole program document; an object naming the program is sent inside a list anyway.
          try {
            const parsed = JSON.parse(plain.toString('utf8')) as { id?: unknown } | null
            if (parsed && typeof parsed === 'object' && parsed.id === decoded(g.id)) plain = Buffer.concat([Buffer.from('['), plain, Buffer.from(']')])
          } catch {
            // not JSON
          }
        } else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, 'program', g.body.spaces))
        return { r: { method: 'PUT', path: `/v1/admin/programs/${g.id}`, headers: headersOf({ ...g, authorization }), body: encode(plain, g.encoding) }, plain }
      },
      (_g, r, a) => {
        if (a.status < 400) throw failure('a program document was accepted', r, a)
      },
      800,
      2,
    )
    // Nothing was stored or activated.
    expect({ versions: [await versionsOf(DEMO.program), await versionsOf(QUIT.program)], active: [await activeOf(DEMO.program), await activeOf(QUIT.program)] }).toEqual(programsBefore)
  })

  it('leaves nothing behind: the spool drains and no server error was logged', { timeout: 60_000 }, async () => {
    await waitFor(() => service.spool.depthBytes() === 0, 30_000, 'the spool to drain')
    // Each checked on its own: one failing does not hide the others.
    expect.soft(svc.logs.filter((l) => l.includes('internal') || l.startsWith('5')), 'server errors logged').toEqual([])
    expect.soft(service.writer.state.lastError).toBeNull()
    const end = await scrape()
    expect.soft(total(end, 'attune_events_received_total')).toBe(total(end, 'attune_events_accepted_total') + total(end, 'attune_events_rejected_total'))
    expect.soft(total(end, 'attune_events_quarantined_total'), `events refused by ClickHouse (quarantined): ${quarantined()}`).toBe(0)
  })
})
