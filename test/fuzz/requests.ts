// Everything of a hostile request but its body, for the fuzz tests: the programs' keys (valid,
// another program's, unknown, odd), Authorization, origins (allowed, refused, malformed),
// content types, user agents, Content-Encoding and what is done to the body, lying lengths and
// proxy headers, URL parts and queries; and the key a request names as the server reads it.
import fc from 'fast-check'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { MAX_BODY_BYTES } from '../../collector/index.ts'
import { basic, DEMO } from '../helpers.ts'
import type { Req } from './harness.ts'
import { oddString } from './hostile-text.ts'

/** The smoking-cessation demo program's keys (programs/smoking-cessation-demo.json). */
export const QUIT = {
  program: 'smoking-cessation-demo',
  writeKey: 'pk_demo_quit_3c9e1a7b',
  secretKey: 'sk_demo_quit_5d2f8e41a0',
  smsKey: 'sk_demo_quit_sms_2a6c4f',
}
/** The psoriasis demo program's secret for click tokens. */
export const LINK_SECRET = 'demo_link_secret_psoriasis_0d6e2b9f47a3c158'

export const KEYS = {
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
export const keyValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(DEMO.secretKey, DEMO.secretKey, DEMO.writeKey, DEMO.callKey, DEMO.printKey, QUIT.secretKey) },
  { weight: 4, arbitrary: fc.constantFrom(...Object.values(KEYS)) },
  { weight: 1, arbitrary: oddString },
  { weight: 1, arbitrary: fc.constantFrom(`${DEMO.secretKey} `, DEMO.secretKey.toUpperCase(), `${DEMO.writeKey}\u0000`, DEMO.secretKey.slice(0, -1)) },
)

/** Characters a header value may hold (no controls; Latin-1 beyond ASCII). */
const headerChar = fc
  .oneof({ weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }) })
  .map((c) => String.fromCharCode(c))
const headerString = (maxLength = 40) => fc.string({ unit: headerChar, maxLength })

/** The Authorization header: none, HTTP Basic of a key (valid, another program's, unknown, odd), or something else. */
export const authorization: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 30, arbitrary: keyValueArb.map((k) => basic(k)) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...Object.values(KEYS)), oddString).map(([k, p]) => `Basic ${Buffer.from(`${k}:${p}`).toString('base64')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `Bearer ${DEMO.secretKey}`,
      'Basic',
      'Basic ',
      'Basic !!!',
      'Basic ====',
      `basic    ${Buffer.from(`${DEMO.secretKey}:`).toString('base64')}   `,
      `BASIC ${Buffer.from(DEMO.writeKey).toString('base64')}`,
      basic(''),
      `Basic ${Buffer.from(':').toString('base64')}`,
    ),
  },
  { weight: 1, arbitrary: headerString(60) },
)

/** Authorization for ingestion and decide: often the program's backend or browser key, so requests get past it, else anything. */
export const senderAuthorization = fc.oneof(
  { weight: 3, arbitrary: fc.constant(basic(DEMO.secretKey)) },
  { weight: 2, arbitrary: fc.constant(basic(DEMO.writeKey)) },
  { weight: 5, arbitrary: authorization },
)

/** Origins the demo write keys (`http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*`) do not allow. */
export const REFUSED_ORIGINS = [
  'https://evil.example',
  'https://localhost:3000',
  'http://localhost.evil.example:3000',
  'null',
  'http://localhost:99999',
  'file://',
  '*',
  'http://[::2]:3000',
  'http://xn--nxasmq6b:1',
  'http://127.0.0.2:8080',
]

/** Origin: none, allowed (`http://localhost:*`), refused, malformed, random. */
export const origin: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom('http://localhost:3000', 'http://localhost:5173', 'http://localhost', 'http://127.0.0.1:8080', 'http://[::1]:3000') },
  { weight: 2, arbitrary: fc.constantFrom(...REFUSED_ORIGINS, 'http://LOCALHOST:3000', 'http://localhost:3000/path?q#f', 'http://user:pw@localhost:3000') },
  { weight: 1, arbitrary: headerString(60) },
)

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/json; charset=utf-16',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
    ),
  },
  { weight: 1, arbitrary: headerString(30) },
)

export const userAgent: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      'Googlebot/2.1 (+http://www.google.com/bot.html)',
      'curl/8.5.0',
      'analytics-python/2.3.3',
      '',
      `Mozilla/5.0 ${'x'.repeat(10_000)}`,
    ),
  },
  { weight: 1, arbitrary: headerString(80) },
)

/** A Content-Encoding and what is done to the body: compressed as said, not compressed, cut short, twice, or an encoding that does not exist. */
export interface Encoding {
  header?: string
  transform: 'none' | 'gzip' | 'deflate' | 'deflate-raw' | 'br' | 'gzip-cut' | 'gzip-twice'
}
export const encoding: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 50, arbitrary: fc.constant<Encoding>({ transform: 'none' }) },
  { weight: 1, arbitrary: fc.constant<Encoding>({ header: 'identity', transform: 'none' }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<Encoding>(
      { header: 'gzip', transform: 'gzip' },
      { header: 'x-gzip', transform: 'gzip' },
      { header: ' GZip ', transform: 'gzip' },
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom<Encoding>({ header: 'deflate', transform: 'deflate' }, { header: 'br', transform: 'br' }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Encoding>(
      { header: 'gzip', transform: 'none' },
      { header: 'br', transform: 'none' },
      { header: 'deflate', transform: 'none' },
      { header: 'gzip', transform: 'gzip-cut' },
      { header: 'gzip', transform: 'gzip-twice' },
      { header: 'deflate', transform: 'deflate-raw' },
      { header: 'br', transform: 'gzip' },
      { header: 'gzip', transform: 'br' },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Encoding>(
      { header: 'compress', transform: 'none' },
      { header: 'gzip, br', transform: 'gzip' },
      { header: 'gzip;q=1', transform: 'gzip' },
      { header: 'zstd', transform: 'none' },
      { header: '*', transform: 'none' },
    ),
  },
  { weight: 1, arbitrary: headerString(20).map((h) => ({ header: h, transform: 'none' as const })) },
)

export function encode(text: Buffer, e: Encoding): Buffer {
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
export const otherHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0', '1', '-1', 'abc', '99999999999999999999', '1e3', String(MAX_BODY_BYTES + 1)).map((v) => ({ 'content-length': v })),
  },
  { weight: 1, arbitrary: headerString(40).map((v) => ({ 'x-forwarded-for': v, 'x-real-ip': v })) },
)

export function headersOf(h: {
  authorization?: string
  origin?: string
  contentType?: string
  userAgent?: string
  encoding?: Encoding
  other?: Record<string, string>
}): Record<string, string> {
  const out: Record<string, string> = { ...h.other }
  if (h.authorization !== undefined) out.authorization = h.authorization
  if (h.origin !== undefined) out.origin = h.origin
  if (h.contentType !== undefined) out['content-type'] = h.contentType
  if (h.userAgent !== undefined) out['user-agent'] = h.userAgent
  if (h.encoding?.header !== undefined) out['content-encoding'] = h.encoding.header
  return out
}

/** Bytes of a text, percent-encoded for a URL (lone surrogates as U+FFFD), or raw escapes that are not UTF-8. */
export const pct = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('')
export const urlPart = (good: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...good) },
    { weight: 3, arbitrary: oddString.map(pct) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%FF',
        '%ED%A0%80',
        '%C0%80',
        '%00',
        '%',
        '%zz',
        '%E2%82',
        '..',
        '%2e%2e',
        '%2F',
        'a%2Fb',
        '+',
        '%20',
        '%u0041',
        'x'.repeat(10_000),
        '%F0%9F%98%80',
      ),
    },
  )

/** The key a request names as the server reads it: the HTTP Basic user name, else `writeKey` in the body. */
export function keyOf(headers: Record<string, string>, body?: Buffer): string | undefined {
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
export const basicUserOf = (headers: Record<string, string>) => keyOf(headers)

/** A write key sent from an origin its allowlist refuses must be refused (403), whatever else the request holds. */
export function refusedOrigin(r: Req, key: string | undefined): boolean {
  return key !== undefined && WRITE_KEYS.includes(key) && REFUSED_ORIGINS.includes(r.headers.origin ?? '')
}

export const WRITE_KEYS: string[] = [DEMO.writeKey, QUIT.writeKey]
/** The keys with the decide, profiles and admin scopes, by program. */
export const ADMIN_KEYS: Record<string, string> = { [DEMO.program]: DEMO.secretKey, [QUIT.program]: QUIT.secretKey }
export const CLEAR_SECRETS = [DEMO.writeKey, DEMO.secretKey, DEMO.callKey, DEMO.printKey, DEMO.identitySecret, LINK_SECRET, QUIT.writeKey, QUIT.secretKey]

/** Authorization for the secret-key routes: often the program's admin key, so the handlers run, else anything. */
export const secretAuthorization = fc.oneof(
  { weight: 3, arbitrary: fc.constant(basic(DEMO.secretKey)) },
  { weight: 1, arbitrary: fc.constant(basic(QUIT.secretKey)) },
  { weight: 3, arbitrary: authorization },
)
export const optionalQuery = (name: string, values: fc.Arbitrary<string>) =>
  fc.option(
    values.map((v) => `${name}=${v}`),
    { nil: undefined, freq: 3 },
  )
export const query = (...parts: Array<string | undefined>) => {
  const present = parts.filter((p): p is string => p !== undefined)
  return present.length ? `?${present.join('&')}` : ''
}
/** A path segment percent-decoded as the server reads it (a malformed escape stays as written). */
export const decoded = (part: string) => {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}
