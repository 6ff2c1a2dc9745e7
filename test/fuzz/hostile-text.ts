// Hostile material for the fuzz tests, as JSON text: odd strings (lone surrogates, U+0000, RTL
// marks, prototype keys, 10,000 characters), numbers JSON has and has not, values nested far
// beyond the limits (32 levels an event, 64 a body), any JSON value, objects with odd and extra
// keys. Large parts are written as macros (`\uE010name\uE011`), expanded only when the body is
// built (`bytesOf`), so a counterexample prints short; `\uE000`…`\uE004` become bytes that are
// not UTF-8.
import fc from 'fast-check'

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
    else if (kind === 'obj') text = `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`
    else if (kind === 'proto') text = `${'{"__proto__":'.repeat(n - 1)}{"constructor":{"prototype":{"polluted":1}}}${'}'.repeat(n - 1)}`
    else if (kind === 'mixed') text = `${'[{"k":'.repeat(Math.floor(n / 2))}null${'}]'.repeat(Math.floor(n / 2))}`
    else if (kind === 'nulls') text = `${'[null,'.repeat(n - 1)}null${']'.repeat(n - 1)}`
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
export function bytesOf(text: string): Buffer {
  const expanded = text.includes('\uE010') ? text.replace(MACRO, (m, name: string) => macroText(name) ?? m) : text
  if (!/[\uE000-\uE004]/.test(expanded)) return Buffer.from(expanded, 'utf8')
  return Buffer.concat(expanded.split(/([\uE000-\uE004])/).map((p) => RAW_BYTES[p] ?? Buffer.from(p, 'utf8')))
}

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', 'toJSON']
const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\udc00y',
  '\udbff\ud800',
  '\u202e',
  '\u200f\u200e',
  'abc\u202edef',
  '\u2028\u2029',
  '\ufeff',
  '\uffff',
  '\ufffd',
  '😀',
  '👩‍⚕️',
  'e\u0301',
  '𝕏',
  '\t\n\r',
  '\\',
  '"',
  '\\u0000',
  '%00',
  '%',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE events; --",
  '{{WRITE_KEY}}',
  'null',
  'undefined',
  'true',
  '0',
  '-0',
  'NaN',
  'Infinity',
  '1e308',
  'jane@example.com',
  '+49 170 1234567',
  'p-1',
  'a-1',
  'sha256:00',
  'env:HOME',
  ...PROTO_KEYS,
]
const LONG_KINDS = ['x', 'emoji', 'nul', 'surrogate', 'rawsurrogate', 'rtl', 'quote', 'combining']

/** Strings with odd unicode, prototype keys, and (rarely) 10,000 characters; as JS strings. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 6, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(...ODD_STRINGS), fc.string({ maxLength: 8 }), fc.constantFrom(...ODD_STRINGS)).map(([a, b, c]) => a + b + c),
  },
)

/** A JSON string literal (text): an odd string, a long one, or one holding bytes that are not UTF-8. */
export const stringLit: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: oddString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...LONG_KINDS), fc.constantFrom(100, 201, 1_000, 10_000)).map(([k, n]) => `"${macro(`long:${k}:${n}`)}"`) },
  { weight: 1, arbitrary: fc.constantFrom('\uE000', '\uE001', '\uE002', '\uE003', '\uE004').map((b) => `"x${b}y"`) },
)

const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '42',
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '5e-324',
  '1e-400',
  '1e999',
  '-1e999',
  '9007199254740993',
  '-9007199254740993',
  '18446744073709551616',
  '1E+2',
  '0.1',
  '3.14',
  '1e-7',
  '123456789012345678901234567890.5',
  '1e21',
]
/** Invalid JSON number tokens: NaN and Infinity as text, and other spellings JSON does not have. */
const BAD_NUMBERS = ['NaN', 'Infinity', '-Infinity', '+1', '01', '.5', '1.', '0x1F', '1e', '--1', '−1']
export const numberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? '-0' : String(n))) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
)

const DEPTHS = [2, 31, 32, 33, 34, 63, 64, 65, 66, 100, 1_000, 10_000, 12_000]
/** A value nested deep (a macro): around the limits (32 an event, 64 a body) and far beyond. */
export const deepText: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('arr', 'obj', 'proto', 'mixed', 'nulls'),
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...DEPTHS) }, { weight: 1, arbitrary: fc.constant(60_000) }),
  )
  .map(([k, n]) => macro(`deep:${k}:${n}`))

const FIELD_NAMES = [
  'type',
  'event',
  'name',
  'userId',
  'anonymousId',
  'previousId',
  'groupId',
  'messageId',
  'timestamp',
  'sentAt',
  'context',
  'properties',
  'traits',
  'writeKey',
  'batch',
  'channel',
  'slots',
  'program',
  'id',
  'keys',
  'rules',
  'ip',
  'email',
  'token',
  'identityToken',
  'ticket',
  'url',
  'page',
]
export const keyText: fc.Arbitrary<string> = fc.oneof(
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
export const anyJson: fc.Arbitrary<string> = (
  fc.letrec((tie) => ({
    value: fc.oneof({ maxDepth: 3, depthIdentifier: 'json' }, scalarText, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4, depthIdentifier: 'json' }).map((xs) => `[${(xs as string[]).join(',')}]`),
    object: fc
      .array(fc.tuple(keyText, tie('value')), { maxLength: 4, depthIdentifier: 'json' })
      .map((es) => `{${(es as Array<[string, string]>).map(([k, v]) => `${k}:${v}`).join(',')}}`),
  })) as { value: fc.Arbitrary<string> }
).value

export const json = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<string> => arb.map((v) => JSON.stringify(v) ?? 'null')

/** A field's value as text: mostly well-formed, else null or anything of any type. */
export function field(good: fc.Arbitrary<string>, goodWeight = 10): fc.Arbitrary<string> {
  return fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: fc.constant('null') }, { weight: 1, arbitrary: anyJson })
}

/** A field value that leaves the field out (for fields mostly absent). */
export const ABSENT = '\uE0FF'

/** An object as text: each listed field absent (1 in `absent`) or present; then now and then odd extra keys (prototype keys among them). */
export function objectText(
  fields: Record<string, fc.Arbitrary<string>>,
  opts: { absent?: number; extra?: number; extraOdds?: number } = {},
): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([k, arb]) =>
    fc.option(
      arb.map((v) => `${JSON.stringify(k)}:${v}`),
      { nil: undefined, freq: opts.absent ?? 3 },
    ),
  )
  const extras = fc.oneof(
    { weight: opts.extraOdds ?? 6, arbitrary: fc.constant([] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.array(fc.tuple(keyText, anyJson), { minLength: 1, maxLength: opts.extra ?? 3 }) },
  )
  return fc
    .tuple(fc.tuple(...entries), extras)
    .map(
      ([present, more]) =>
        `{${[...present.filter((e): e is string => e !== undefined && !e.endsWith(`:${ABSENT}`)), ...more.map(([k, v]) => `${k}:${v}`)].join(',')}}`,
    )
}
