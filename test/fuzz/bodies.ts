// Hostile bodies for the fuzz tests, as JSON text (see hostile-text.ts): Segment messages and
// batches (hostile fields now and then or everywhere, odd ids proven by identity or click tokens,
// a year of events and more), decide requests, broken copies of a program document, values nested
// deep at every place, bodies that are not JSON objects, and bodies about a size limit.
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { signClickToken } from '../../collector/index.ts'
import { DEMO, identityToken, ROOT } from '../helpers.ts'
import { ABSENT, anyJson, deepText, field, json, numberText, objectText, PROTO_KEYS, stringLit } from './hostile-text.ts'
import { keyValueArb, LINK_SECRET, QUIT } from './requests.ts'

// ---------------------------------------------------------------------------------------------
// Segment messages

const NOW = Date.now()
const iso = (ms: number) => new Date(ms).toISOString()
const HOUR = 3_600_000
const DAY = 24 * HOUR

const clickToken = signClickToken(
  { program: DEMO.program, patient: 'p-fuzz-click', message: 'm-1', campaign: 'c-1', channel: 'email', expires: Math.floor(NOW / 1000) + 3 * 86_400 },
  LINK_SECRET,
)
const TOKENS = [clickToken, `${clickToken}x`, clickToken.replace('.', '.A'), 'a.b', '.', '', 'x'.repeat(1001), identityToken('p-1'), '\ud800.\udc00']

const time: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: -72, max: 6 }).map((h) => JSON.stringify(iso(NOW + h * HOUR))) },
  { weight: 2, arbitrary: fc.constantFrom(-10, -400, -2000, -20_000, 2, 30).map((d) => JSON.stringify(iso(NOW + d * DAY))) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '2024-02-30T00:00:00Z',
        '+010000-01-01T00:00:00Z',
        '-000001-01-01T00:00:00Z',
        '+275760-09-13T00:00:00.000Z',
        '-271821-04-20T00:00:00.000Z',
        '1970-01-01T00:00:00Z',
        '1970-01-02T00:00:00.000Z',
        '2299-12-31T23:59:59.999Z',
        '2300-01-01T00:00:00Z',
        '1900-01-01',
        'not a date',
        '',
        '0',
        'Tue, 01 Dec 2026 10:00:00 GMT',
        '2026-12-07T04:00:00.123456789+14:00',
        `${iso(NOW)}${'0'.repeat(60)}`,
      )
      .map((s) => JSON.stringify(s)),
  },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())) },
)

const id = (prefix: string) =>
  json(
    fc.oneof(
      { weight: 12, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => `${prefix}-${n}`) },
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => `${prefix}-fuzz-${n}`) },
      { weight: 2, arbitrary: fc.integer({ min: -5, max: 1e9 }) },
      { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
    ),
  )
const EVENTS = [
  'diary_downloaded',
  'questionnaire_answered',
  'goal_reached',
  'consent_updated',
  'email_click',
  'sms_click',
  'email_opened',
  'print_delivered',
  'call_completed',
  'medication_checkin',
  'slot_impression',
  'treatment_checkin',
  'x',
]

const properties = objectText({
  questionnaire: field(json(fc.constantFrom('first-needs', 'living-with-psoriasis', 'treatment-experience', 'nope'))),
  answers: field(
    json(
      fc.array(fc.record({ question: fc.constantFrom('mood', 'joints', 'itch', '__proto__'), answer: fc.constantFrom('coping', 'weighs-on-me', 'yes', '') }), {
        maxLength: 3,
      }),
    ),
  ),
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
  page: field(
    objectText({
      url: field(json(fc.constantFrom('http://localhost:3000/a?utm_campaign=c&email=jane@example.com', 'not a url', ''))),
      path: field(json(fc.constantFrom('/', '/treatment', ''))),
      referrer: field(stringLit),
      title: field(stringLit),
    }),
  ),
  campaign: field(objectText({ source: field(stringLit), name: field(stringLit), medium: field(stringLit) })),
  identityToken: field(
    json(fc.constantFrom(identityToken('p-1'), identityToken('p-2'), identityToken('p-1', DEMO.program, 'a_guessed_secret_of_more_than_32_chars'), 'x.y', '')),
  ),
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
      messageId: field(
        json(
          fc.oneof(
            fc.constantFrom('dup-1', 'dup-2', 'dup-3'),
            fc.uuid(),
            fc.integer({ min: 0, max: 1e9 }).map((n) => `m-${n}`),
          ),
        ),
        goodWeight,
      ),
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
export const ODD_IDS = [
  'p-1',
  '\ud800',
  'a\udc00b',
  '\u0000',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '😀',
  '\u202ep-1',
  'x'.repeat(200),
  ' ',
  'p-1\u0000',
  '\\',
  '"',
]
/** A message whose userId is proven (identity token) or set by a valid click token, for an odd id. */
const provenFields: fc.Arbitrary<string> = fc
  .record({ patient: fc.constantFrom(...ODD_IDS), anonymousId: fc.constantFrom('a-1', ...ODD_IDS), event: fc.constantFrom(...EVENTS), click: fc.boolean() })
  .map(({ patient, anonymousId, event, click }) => {
    let token: string
    try {
      token = click
        ? signClickToken(
            { program: DEMO.program, patient, message: 'm-odd', campaign: 'c-odd', channel: 'sms', expires: Math.floor(NOW / 1000) + 86_400 },
            LINK_SECRET,
          )
        : identityToken(patient)
    } catch {
      token = clickToken
    }
    return JSON.stringify(
      click
        ? { anonymousId, event: 'sms_click', properties: { token, url: 'http://localhost:3000/?utm_source=sms' } }
        : { userId: patient, anonymousId, event, context: { identityToken: token } },
    )
  })
/** Mostly messages with a hostile field now and then; some with hostile fields everywhere, some with odd ids proven. */
const messageFields = fc.oneof(
  { weight: 8, arbitrary: messageFieldsOf(80) },
  { weight: 2, arbitrary: messageFieldsOf(2) },
  { weight: 2, arbitrary: provenFields },
)

const TYPES = ['track', 'page', 'screen', 'identify', 'alias', 'group'] as const
/** A message: its type (aligned with the endpoint, or any), and its fields. */
export const message = fc.record({
  type: fc.oneof({ weight: 8, arbitrary: fc.constant('aligned') }, { weight: 2, arbitrary: field(json(fc.constantFrom(...TYPES))) }),
  fields: messageFields,
})
type Message = { type: string; fields: string }
/** A message as text; on a single-message endpoint an aligned type is the endpoint's or none, in a batch a type of its own. */
export function messageText(m: Message, endpointType: string | undefined, i: number): string {
  const type =
    m.type !== 'aligned' ? m.type : endpointType !== undefined ? (i % 2 ? JSON.stringify(endpointType) : undefined) : JSON.stringify(TYPES[i % TYPES.length])
  if (type === undefined) return m.fields
  return m.fields === '{}' ? `{"type":${type}}` : `{"type":${type},${m.fields.slice(1)}`
}

export const batchEnvelope = fc.record({
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
export function batchText(b: BatchEnvelope): string {
  let batch: string
  if ('ms' in b.batch) batch = `[${b.batch.ms.map((m, i) => messageText(m, undefined, i)).join(',')}]`
  else if ('n' in b.batch)
    batch = `[${Array.from({ length: b.batch.n }, (_, i) => `{"type":"track","userId":"p-${i % 7}","event":"diary_downloaded","messageId":"bulk-${i}"}`).join(',')}]`
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
export const deepBody: fc.Arbitrary<string> = fc.tuple(fc.constantFrom(...DEEP_HOLES), deepText).map(([hole, deep]) => hole.replace('@', deep))

/** Bodies that are not JSON objects: empty, whitespace, scalars, junk, prototype tricks. */
export const junkBody: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\n\t',
      '\ufeff{}',
      'null',
      '[]',
      '{}',
      '""',
      '0',
      'true',
      '1e999',
      'NaN',
      '{"batch":null}',
      '{"batch":[]}',
      '{"batch":{}}',
      '{"batch":"[]"}',
      '{"__proto__":{"batch":[{"type":"track","userId":"u","event":"e"}]}}',
      '{"batch":[{"__proto__":{"type":"track"},"userId":"u","event":"e"}]}',
      '{"type":"track","userId":"u","event":"e","properties":{"__proto__":{"x":1}},"context":{"__proto__":{"channel":"call"},"constructor":{"prototype":{"y":1}}}}',
      '{"constructor":{"prototype":{"userId":"u"}},"event":"e"}',
      '{"batch":[{"type":"track","userId":"u\\ud800","event":"\\udc00e"}]}',
      '{"userId":"p-1","event":"e"}{"userId":"p-1","event":"e"}',
      '{"userId":"p-1","event":"e",}',
      "{'userId':'p-1'}",
      '{"userId":"p-1","event":"e"',
      '{"userId":"p-1","userId":null,"event":"e"}',
      '\u0000',
      '\uE001\uE001',
      '{"userId":"\uE000","event":"e"}',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: anyJson },
)

/** What a body is: text (with macros), raw bytes, or a body of about a size limit. */
export type BodySpec = { text: string } | { bytes: Uint8Array } | { sized: number; spaces: boolean } | { aligned: true }

/** A body exactly `bytes` long: events of about 30 KB in a batch (or one small message and whitespace). */
export function sizedText(bytes: number, shape: 'batch' | 'message' | 'decide' | 'program', spaces: boolean): string {
  const head =
    shape === 'decide'
      ? '{"userId":"p-1","channel":"web","slots":["home-hero"]}'
      : shape === 'program'
        ? '{"id":"not-this-program","pad":""}'
        : '{"type":"track","userId":"p-1","event":"diary_downloaded"}'
  if (spaces || shape !== 'batch') {
    // Padding as whitespace (valid JSON), or inside a string of the program document.
    if (shape === 'program' && !spaces) return head.replace('"pad":""', `"pad":"${'x'.repeat(bytes - head.length)}"`)
    return head + ' '.repeat(Math.max(0, bytes - head.length))
  }
  const per = 30_000
  const events = Math.ceil(bytes / per)
  const mk = (pads: number[]) =>
    `{"batch":[${pads.map((p, i) => `{"type":"track","userId":"p-2","event":"diary_downloaded","messageId":"size-${bytes}-${i}","properties":{"pad":"${'x'.repeat(p)}"}}`).join(',')}]}`
  let rest = bytes - mk(Array(events).fill(0)).length
  const pads = Array.from({ length: events }, () => {
    const n = Math.min(rest, per - 200)
    rest -= n
    return n
  })
  return mk(pads)
}

export const sized = (limit: number): fc.Arbitrary<BodySpec> =>
  fc.record({ sized: fc.constantFrom(limit - 1, limit, limit + 1, limit + 1000), spaces: fc.boolean() })

// ---------------------------------------------------------------------------------------------
// Decide

const slots = fc.oneof(
  { weight: 20, arbitrary: json(fc.array(fc.constantFrom('home-hero', 'home-hero', 'sidebar', 'x1', 'a'.repeat(64)), { maxLength: 4 })) },
  {
    weight: 2,
    arbitrary: json(fc.array(fc.constantFrom('home-hero', '-bad', 'Home', 'a'.repeat(65), '__proto__', '', 'x y'), { minLength: 1, maxLength: 3 })),
  },
  { weight: 1, arbitrary: fc.constant(JSON.stringify(Array(21).fill('home-hero'))) },
)
const decideId = (prefix: string) =>
  json(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => `${prefix}-${n}`) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 1_000_000 }).map((n) => `${prefix}-fuzz-${n}`) },
      { weight: 1, arbitrary: fc.constantFrom('x'.repeat(200), 'x'.repeat(201), '', '\ud800', 'a\udc00', '\u0000', '\u202e', '😀', ...PROTO_KEYS) },
    ),
  )
/** A decide request's fields as an object text (`channel` mostly there); each field hostile 1 in `gw / 2`. */
export const decideFieldsOf = (gw: number) =>
  objectText(
    {
      // Required: mostly there.
      channel: fc.oneof(
        {
          weight: 40,
          arbitrary: field(
            json(
              fc.oneof(
                { weight: 20, arbitrary: fc.constant('web') },
                { weight: 4, arbitrary: fc.constantFrom('email', 'sms', 'call', 'print') },
                { weight: 1, arbitrary: fc.constantFrom('fax', 'WEB', 'app') },
              ),
            ),
            gw,
          ),
        },
        { weight: 1, arbitrary: fc.constant('null') },
      ),
      program: field(
        fc.oneof(
          { weight: 6, arbitrary: fc.constant(ABSENT) },
          { weight: 3, arbitrary: json(fc.constant(DEMO.program)) },
          { weight: 1, arbitrary: json(fc.constantFrom(QUIT.program, 'nope', 'x'.repeat(101))) },
        ),
        gw,
      ),
      userId: field(decideId('p'), gw),
      anonymousId: field(decideId('a'), gw),
      slots: field(slots, gw),
      context: field(
        objectText({
          page: field(
            objectText({
              url: field(json(fc.constantFrom('http://localhost:3000/treatment?utm_source=x', 'not a url'))),
              path: field(stringLit),
              title: field(stringLit),
            }),
          ),
          locale: field(stringLit),
          referrer: field(stringLit),
        }),
        gw,
      ),
    },
    { absent: gw > 10 ? 4 : 2, extraOdds: gw > 10 ? 40 : 4 },
  ).map((t) => (t.includes('"channel":') || gw <= 10 ? t : t === '{}' ? '{"channel":"web"}' : `{"channel":"web",${t.slice(1)}`))

// ---------------------------------------------------------------------------------------------
// Program documents: broken copies of the psoriasis program's (each break refused on its own)

/** The psoriasis demo program's document, as the repository holds it. */
export const psoriasisDocument = JSON.parse(readFileSync(join(ROOT, 'programs/psoriasis-demo.json'), 'utf8')) as Record<string, any>
type Doc = Record<string, any>
/** Ways to break the document, each enough for it to be refused. */
export const BREAKS: Array<[string, (d: Doc) => void]> = [
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
/** The document as JSON text, broken in the ways listed (indexes into `BREAKS`). */
export const broken = (breaks: number[]) => {
  const d = JSON.parse(JSON.stringify(psoriasisDocument)) as Doc
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
