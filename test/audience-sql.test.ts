// One rule language, two engines, one answer. A population generated with fast-check is sent
// through the collector (browser events on anonymous ids linked late, backend events with the
// secret keys, clinical dates, consent, questionnaire answers, an alias, an id shared by two
// patients, events older than the profile's 400-day window) and Attune's own `decision` and
// `stage_changed` events are appended through the spool as the decide endpoint writes them. Then
// for generated conditions over every kind of leaf, a patient is in the compiled SQL audience
// (compileAudience) exactly when evaluate() on their profile from the store says the condition holds.
import fc from 'fast-check'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  blankEventRow,
  chTime,
  clusterNeeds,
  compileAudience,
  encodeEventRow,
  evaluate,
  latestClustering,
  storeClustering,
  type ConditionTrace,
  type Condition,
  type Profile,
  type Program,
  type Rule,
  DAY_MS,
} from '../analytics/index.ts'
import { browserId, signQuestionnaireTicket } from '../collector/index.ts'
import { payloadText } from '../collector/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'

const SEED = Number(process.env.AUDIENCE_SEED ?? 20261123)
const RUNS = Number(process.env.AUDIENCE_RUNS ?? 300)
const PERSONS = 90
const ORIGIN = 'http://localhost:5173'
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'

/** Pages of the demo site: most show catalogue items (need weights), the last none. */
const PAGES = [
  '/demo/itch',
  '/demo/flares',
  '/demo/treatments',
  '/demo/diary',
  '/demo/support',
  '/demo/treatments/topical',
  '/demo/skin-care',
  '/demo/triggers',
  '/demo/wellbeing/stress',
  '/demo/wellbeing/talking-to-others',
  '/demo/joints',
  '/demo/appointments',
  '/demo/stories',
  '/demo/living-well',
  '/demo/about',
]
const DATE_NAMES = ['enrolment', 'therapy_start', 'diagnosis'] as const
const STAGES = ['welcome', 'onboarding', 'active', 'maintenance'] as const
const SCOPES = ['analytics', 'web', 'email', 'sms', 'call', 'print', 'app'] as const
const TOUCH_CHANNELS = ['web', 'email', 'sms', 'call', 'print', 'app', 'server'] as const
const WITHIN = [1, 2, 3, 7, 14, 30, 60, 365]
/** Event names as activity_days keeps them (page views as `page`), and one never sent. */
const EVENT_NAMES = [
  'page',
  'app_view',
  'goal_reached',
  'questionnaire_answered',
  'consent_updated',
  'identify',
  'alias',
  'email_open',
  'email_click',
  'sms_click',
  'sms_delivered',
  'medication_checkin',
  'profile_updated',
  'call_completed',
  'print_response',
  'print_delivered',
  'never_sent',
]
/** Backend events: which key sends them, and their properties. */
const BACKEND = [
  { key: 'secret', event: 'email_open' },
  { key: 'secret', event: 'email_click' },
  { key: 'secret', event: 'sms_click' },
  { key: 'secret', event: 'sms_delivered' },
  { key: 'secret', event: 'medication_checkin' },
  { key: 'secret', event: 'medication_checkin' },
  { key: 'secret', event: 'profile_updated' },
  { key: 'secret', event: 'goal_reached', properties: { goal: 'nurse_callback_requested' } },
  { key: 'call', event: 'call_completed', properties: { outcome: 'reached' } },
  { key: 'call', event: 'call_completed', properties: { outcome: 'no_answer' } },
  { key: 'print', event: 'print_response' },
  { key: 'print', event: 'print_delivered' },
] as const

/** Rules whose shown decisions raise the level (unlock_level), and one that does not. */
const RULES: Rule[] = [
  {
    id: 'unlock-engaged',
    description: 'Deeper content for active readers',
    class: 'education',
    priority: 100,
    when: { touches: { channel: 'web', withinDays: 30 }, count: { gte: 3 } },
    action: { type: 'unlock_level', level: 2 },
    caps: [],
    holdout: 0,
  },
  {
    id: 'unlock-deep',
    description: 'Everything for the nurse line’s patients',
    class: 'service',
    priority: 100,
    when: { goal: 'nurse_call_completed', reached: true },
    action: { type: 'unlock_level', level: 3 },
    caps: [],
    holdout: 0.1,
  },
  {
    id: 'diary-nudge',
    description: 'The diary for those without it',
    class: 'adherence',
    priority: 100,
    when: { goal: 'diary_downloaded', reached: false },
    action: { type: 'web', slot: 'hero', content: 'diary-howto' },
    caps: [],
    holdout: 0,
  },
]

interface At {
  day: number
  ms: number
}
/** Who an event is on: 0 the patient id, k the k-th anonymous id (the patient id when there is none). */
type On = number
type Touch =
  | { kind: 'page'; path: string; at: At; on: On }
  | { kind: 'app'; content: string[]; at: At; on: On }
  | { kind: 'webGoal'; goal: string; at: At; on: On }
  | { kind: 'answers'; questionnaire: string; answers: Array<{ question: string; answer: string }>; at: At; on: On }
  | { kind: 'webConsent'; consent: Record<string, boolean>; at: At; on: On }
  | { kind: 'dates'; dates: Record<string, string>; at: At; on: On }
  | { kind: 'backend'; key: string; event: string; properties: Record<string, unknown>; at: At }
  | { kind: 'consent'; consent: Record<string, boolean>; at: At }
  | { kind: 'decision'; rule: string; outcome: string; channel: string; at: At; on: On }
  | { kind: 'stage'; stage: string; from: string; at: At; on: On }
interface PersonSpec {
  /** Anonymous ids, each linked late to the patient or never. */
  anons: boolean[]
  touches: Touch[]
  /** Backend events under an older patient id that is aliased to this one at the end. */
  alias: Touch[] | null
  /** The first anonymous id is linked to the next patient as well (a shared device). */
  shareAnon: boolean
}

/** The population's arbitrary, over the program's catalogue and questionnaires. */
function populationArb(program: Program, base: number): fc.Arbitrary<PersonSpec[]> {
  const today = Math.floor(base / DAY_MS)
  const content = program.content.map((c) => c.id)
  const at = fc.record({
    // Days ago: often right at the edges of "within N days" windows, sometimes either side of the profile's 400 days.
    day: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 3, 6, 7, 13, 14, 29, 30, 59, 60) },
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 60 }) },
      { weight: 1, arbitrary: fc.integer({ min: 380, max: 395 }) },
      { weight: 1, arbitrary: fc.integer({ min: 420, max: 450 }) },
    ),
    ms: fc.integer({ min: 0, max: DAY_MS - 1 }),
  })
  const on = fc.integer({ min: 0, max: 2 })
  const nonEmpty = <T extends object>(a: fc.Arbitrary<T>) => a.filter((x) => Object.keys(x).length > 0)
  const scopes = (list: readonly string[]): fc.Arbitrary<Record<string, boolean>> =>
    nonEmpty(fc.record(Object.fromEntries(list.map((s) => [s, fc.boolean()])) as Record<string, fc.Arbitrary<boolean>>, { requiredKeys: [] })) as fc.Arbitrary<
      Record<string, boolean>
    >
  const date = fc.integer({ min: -500, max: 40 }).map((d) => new Date((today + d) * DAY_MS).toISOString().slice(0, 10))
  const answers = fc
    .constantFrom(...program.questionnaires)
    .chain((q) =>
      fc
        .subarray(q.questions, { minLength: 1 })
        .chain((qs) =>
          fc
            .tuple(...qs.map((x) => fc.constantFrom(...x.answers.map((a) => a.id))))
            .map((ans) => ({ questionnaire: q.id, answers: qs.map((x, i) => ({ question: x.id, answer: ans[i]! })) })),
        ),
    )
  const backend = fc.record({ template: fc.constantFrom(...BACKEND), content: fc.subarray(content, { maxLength: 2 }), at }).map(
    ({ template, content: c, at: a }): Touch => ({
      kind: 'backend',
      key: template.key,
      event: template.event,
      properties: { ...('properties' in template ? template.properties : {}), ...(c.length && template.event.startsWith('email') ? { content: c } : {}) },
      at: a,
    }),
  )
  const touch: fc.Arbitrary<Touch> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('page' as const), path: fc.constantFrom(...PAGES), at, on }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('app' as const), content: fc.subarray(content, { minLength: 1, maxLength: 3 }), at, on }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('webGoal' as const),
        goal: fc.constantFrom('diary_downloaded', 'appointment_checklist_downloaded', 'nurse_callback_requested'),
        at,
        on,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('answers' as const), at, on }).chain((t) => answers.map((a) => ({ ...t, ...a }))) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('webConsent' as const), consent: scopes(['analytics', 'web']), at, on }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('dates' as const),
        dates: nonEmpty(fc.record({ enrolment: date, therapy_start: date, diagnosis: date }, { requiredKeys: [] })),
        at,
        on,
      }),
    },
    { weight: 5, arbitrary: backend },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('consent' as const), consent: scopes(SCOPES), at }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('decision' as const),
        rule: fc.constantFrom(...RULES.map((r) => r.id)),
        outcome: fc.constantFrom('shown', 'held_out', 'capped'),
        channel: fc.constantFrom('web', 'email'),
        at,
        on,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('stage' as const), stage: fc.constantFrom(...STAGES), from: fc.constantFrom('', ...STAGES), at, on }),
    },
  )
  const person = fc.record({
    anons: fc.array(fc.boolean(), { maxLength: 2 }),
    touches: fc.array(touch, { maxLength: 24 }),
    alias: fc.option(fc.array(backend, { minLength: 1, maxLength: 4 }), { nil: null, freq: 4 }),
    shareAnon: fc.integer({ min: 0, max: 7 }).map((x) => x === 0),
  })
  return fc.array(person, { minLength: PERSONS, maxLength: PERSONS })
}

/** Hand-picked people at edges random ones rarely reach, added to the generated population. */
function edgeCases(base: number): PersonSpec[] {
  const at = (day: number): At => ({ day, ms: 3_600_000 })
  const ago = (days: number) => new Date(base - days * DAY_MS).toISOString().slice(0, 10)
  const person = (touches: Touch[], anons: boolean[] = []): PersonSpec => ({ anons, touches, alias: null, shareAnon: false })
  const page = (day: number, on = 0): Touch => ({ kind: 'page', path: '/demo/itch', at: at(day), on })
  const decided = (rule: string, outcome: string, day: number, on = 0): Touch => ({ kind: 'decision', rule, outcome, channel: 'web', at: at(day), on })
  return [
    // A level raised by a rule shown 410 days ago no longer counts; one shown 390 days ago (on a linked browser) does.
    person([decided('unlock-deep', 'shown', 410), page(3)]),
    person([decided('unlock-engaged', 'shown', 390, 1), decided('unlock-deep', 'held_out', 2)], [true]),
    // Enrolment is the record's date when there is one, earlier or later than the first activity.
    person([page(20), { kind: 'dates', dates: { enrolment: ago(300) }, at: at(10), on: 0 }]),
    person([page(430), { kind: 'dates', dates: { enrolment: ago(5), therapy_start: ago(-10) }, at: at(4), on: 1 }], [true]),
    // Explicit scores that tie exactly (itch-and-flares 1, emotional-wellbeing 1): ranked in the program's order.
    person([
      {
        kind: 'answers',
        questionnaire: 'first-needs',
        answers: [
          { question: 'main-concern', answer: 'itch' },
          { question: 'mood', answer: 'weighs-on-me' },
        ],
        at: at(6),
        on: 0,
      },
      page(1),
      page(2),
    ]),
    // Answers changed later, on a linked browser: the latest answer counts, for the answer and for the needs.
    person(
      [
        {
          kind: 'answers',
          questionnaire: 'first-needs',
          answers: [
            { question: 'main-concern', answer: 'itch' },
            { question: 'triggers', answer: 'no-idea' },
          ],
          at: at(20),
          on: 0,
        },
        {
          kind: 'answers',
          questionnaire: 'first-needs',
          answers: [
            { question: 'main-concern', answer: 'appearance' },
            { question: 'triggers', answer: 'know' },
          ],
          at: at(2),
          on: 1,
        },
      ],
      [true],
    ),
    person([
      { kind: 'answers', questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'coping' }], at: at(1), on: 0 },
      { kind: 'answers', questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'weighs-on-me' }], at: at(9), on: 0 },
    ]),
    // Goals that count once, reached again and again: 10 + 15 points (level 1), not 60 (level 2).
    person(
      [2, 5, 8, 11].flatMap((d): Touch[] => [
        { kind: 'webGoal', goal: 'diary_downloaded', at: at(d), on: 0 },
        { kind: 'webGoal', goal: 'nurse_callback_requested', at: at(d + 1), on: 0 },
      ]),
    ),
  ]
}

interface Request {
  key: string
  origin?: string
  batch: object[]
}

/** The population as requests (phase 1: histories; phase 2: late links and aliases), spool rows and the patients it makes. */
function materialise(specs: PersonSpec[], base: number) {
  const used = new Set<number>()
  // Every event of the population at its own millisecond: "latest" never ties.
  const time = (a: At) => {
    let t = base - a.day * DAY_MS - a.ms
    while (used.has(t)) t--
    used.add(t)
    return t
  }
  const phase1: Request[] = []
  const phase2: Request[] = []
  const spoolRows: string[] = []
  const patients = new Set<string>()
  let n = 0
  const messageId = () => `aud-${n++}`
  const keyOf = (k: string) => (k === 'call' ? DEMO.callKey : k === 'print' ? DEMO.printKey : DEMO.secretKey)
  const spool = (program: string, event: string, channel: string, who: { userId: string; anonymousId: string }, ts: number, properties: object) => {
    const row = blankEventRow()
    const t = chTime(ts)
    Object.assign(row, {
      message_id: randomUUID(),
      program,
      type: 'track',
      event,
      channel,
      user_id: who.userId,
      anonymous_id: who.anonymousId,
      ts: t,
      original_ts: t,
      received_at: chTime(Date.now()),
      key_id: 'backend-demo',
      library_name: 'attune-decide',
      properties: JSON.stringify(properties),
    })
    spoolRows.push(payloadText(t.slice(0, 7).replace('-', ''), program, row.message_id, encodeEventRow(row), { ...who, linkedId: '' }))
    if (who.userId) patients.add(who.userId)
  }
  specs.forEach((spec, i) => {
    const patient = `p-aud-${i}`
    const anon = (k: number) => `a-aud-${i}-${k}`
    const browser: object[] = []
    const backend = new Map<string, object[]>()
    const push = (key: string, m: object) => backend.set(key, [...(backend.get(key) ?? []), m])
    const who = (on: On) => (on > 0 && on <= spec.anons.length ? { anonymousId: anon(on - 1) } : { userId: patient })
    // Attune's own events name the patient, or an unidentified browser — never both (decision-log.ts).
    // A browser's stored id is browser:<anonymousId> (what its write-key events land under).
    const ids = (on: On) => (on > 0 && on <= spec.anons.length ? { userId: '', anonymousId: browserId(anon(on - 1)) } : { userId: patient, anonymousId: '' })
    for (const t of spec.touches) {
      const common = { messageId: messageId(), timestamp: new Date(time(t.at)).toISOString() }
      if ('on' in t && !('anonymousId' in who(t.on))) patients.add(patient)
      switch (t.kind) {
        case 'page':
          browser.push({ ...common, ...who(t.on), type: 'page', context: { page: { path: t.path, url: `${ORIGIN}${t.path}` } } })
          break
        case 'app':
          browser.push({ ...common, ...who(t.on), type: 'track', event: 'app_view', context: { channel: 'app' }, properties: { content: t.content } })
          break
        case 'webGoal':
          browser.push({ ...common, ...who(t.on), type: 'track', event: 'goal_reached', properties: { goal: t.goal } })
          break
        case 'answers':
          browser.push({
            ...common,
            ...who(t.on),
            type: 'track',
            event: 'questionnaire_answered',
            properties: { questionnaire: t.questionnaire, answers: t.answers },
          })
          break
        case 'webConsent':
          browser.push({ ...common, ...who(t.on), type: 'track', event: 'consent_updated', properties: { consent: t.consent } })
          break
        case 'dates':
          push('secret', { ...common, ...who(t.on), type: 'identify', traits: { dates: t.dates } })
          break
        case 'backend':
          patients.add(patient)
          push(t.key, { ...common, userId: patient, type: 'track', event: t.event, properties: t.properties })
          break
        case 'consent':
          patients.add(patient)
          push('secret', { ...common, userId: patient, type: 'track', event: 'consent_updated', properties: { consent: t.consent } })
          break
        case 'decision':
          spool(DEMO.program, 'decision', t.channel, ids(t.on), Date.parse(common.timestamp), { rule: t.rule, outcome: t.outcome })
          break
        case 'stage':
          spool(DEMO.program, 'stage_changed', 'server', ids(t.on), Date.parse(common.timestamp), { stage: t.stage, from: t.from })
          break
      }
    }
    // A logged-in page sends the identity token the site's backend signed with the patient id.
    // and a questionnaire comes with a ticket for the browser that its answers carry.
    const ticketed = browser.map((m) => {
      const e = m as { event?: string; anonymousId?: string; properties?: { questionnaire?: string } }
      if (e.event !== 'questionnaire_answered') return m
      return {
        ...m,
        properties: {
          ...e.properties,
          ticket: signQuestionnaireTicket(
            { program: DEMO.program, questionnaire: e.properties!.questionnaire!, anonymousId: e.anonymousId ? browserId(e.anonymousId) : patient },
            DEMO.identitySecret,
          ),
        },
      }
    })
    const proven = ticketed.map((m) =>
      'userId' in m ? { ...m, context: { ...((m as { context?: object }).context ?? {}), identityToken: identityToken(patient) } } : m,
    )
    if (browser.length) phase1.push({ key: DEMO.writeKey, origin: ORIGIN, batch: proven })
    for (const [key, batch] of backend) phase1.push({ key: keyOf(key), batch })
    const late: object[] = []
    spec.anons.forEach((linked, k) => linked && late.push({ type: 'identify', messageId: messageId(), userId: patient, anonymousId: browserId(anon(k)) }))
    if (spec.shareAnon && spec.anons.length > 0 && i + 1 < specs.length) {
      late.push({ type: 'identify', messageId: messageId(), userId: `p-aud-${i + 1}`, anonymousId: browserId(anon(0)) })
      patients.add(`p-aud-${i + 1}`)
    }
    if (spec.alias) {
      const old = `old-aud-${i}`
      const byKey = new Map<string, object[]>()
      for (const t of spec.alias)
        if (t.kind === 'backend')
          byKey.set(t.key, [
            ...(byKey.get(t.key) ?? []),
            { messageId: messageId(), timestamp: new Date(time(t.at)).toISOString(), userId: old, type: 'track', event: t.event, properties: t.properties },
          ])
      for (const [key, batch] of byKey) phase1.push({ key: keyOf(key), batch })
      late.push({ type: 'alias', messageId: messageId(), userId: patient, previousId: old })
      patients.add(old)
    }
    if (late.length) {
      phase2.push({ key: DEMO.secretKey, batch: late })
      patients.add(patient)
    }
  })
  return { phase1, phase2, spoolRows, patients }
}

/** The kind of a condition, for coverage. */
function kindOf(c: Condition): string {
  if ('all' in c) return 'all'
  if ('any' in c) return 'any'
  if ('not' in c) return 'not'
  if ('score' in c) return 'need.score'
  if ('rankAtMost' in c) return 'need.rankAtMost'
  if ('answer' in c) return 'answer'
  if ('level' in c) return 'level'
  if ('reached' in c) return c.withinDays === undefined ? 'goal.reached' : 'goal.reachedWithinDays'
  if ('daysSince' in c) return `daysSince.${Object.keys(c.daysSince)[0]}`
  if ('stage' in c) return 'stage'
  if ('touches' in c) return c.touches.event === undefined ? 'touches' : 'touches.event'
  if ('consent' in c) return 'consent'
  if ('pattern' in c) return 'pattern'
  return 'cluster'
}
const ALL_KINDS = [
  'all',
  'any',
  'not',
  'need.score',
  'need.rankAtMost',
  'answer',
  'level',
  'goal.reached',
  'goal.reachedWithinDays',
  'daysSince.enrolment',
  'daysSince.event',
  'daysSince.goal',
  'daysSince.date',
  'daysSince.stage',
  'stage',
  'touches',
  'touches.event',
  'consent',
  'pattern',
  'cluster',
]

/** Conditions over every kind of leaf, thresholds of scores at random doubles (no exact float ties). */
function conditionArb(program: Program, clusters: string[]): fc.Arbitrary<Condition> {
  // Evenly over the range of scores (fc.double would crowd near 0), off the tenths explicit scores are made of.
  const threshold = fc.integer({ min: -15_000, max: 40_000 }).map((n) => n / 10_000 + 1.7e-7)
  const scoreCmp = fc.oneof(
    fc.record({ gt: threshold }),
    fc.record({ gte: threshold }),
    fc.record({ lt: threshold }),
    fc.record({ lte: threshold }),
    fc.tuple(threshold, threshold).map(([a, b]) => ({ gt: Math.min(a, b), lt: Math.max(a, b) })),
    // Exact values: no data scores 0; explicit scores are sums of answer weights (the same floats in both engines).
    fc.constantFrom({ eq: 0 }, { eq: 1 }, { eq: 0.5 }, { gte: 1 }, { lte: 0 }),
  )
  // Whole numbers (levels, days, touches) compare exactly: boundaries are what to test.
  const intCmp = (lo: number, hi: number) => {
    const v = fc.integer({ min: lo, max: hi })
    return fc.oneof(
      v.map((x) => ({ gt: x })),
      v.map((x) => ({ gte: x })),
      v.map((x) => ({ lt: x })),
      v.map((x) => ({ lte: x })),
      v.map((x) => ({ eq: x })),
      fc.tuple(v, v).map(([a, b]) => ({ gte: Math.min(a, b), lte: Math.max(a, b) })),
      v.map((x) => ({ gt: x + 0.5 })),
    )
  }
  const days = fc.oneof({ weight: 3, arbitrary: intCmp(-5, 70) }, { weight: 2, arbitrary: intCmp(-60, 500) })
  const need = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...program.needs.map((n) => n.id)) }, { weight: 1, arbitrary: fc.constant('no-such-need') })
  const questions = program.questionnaires.flatMap((q) => q.questions.map((x) => ({ q: q.id, question: x.id, answers: x.answers.map((a) => a.id) })))
  const leaf: fc.Arbitrary<Condition> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ need, score: scoreCmp }) },
    { weight: 2, arbitrary: fc.record({ need, rankAtMost: fc.integer({ min: 1, max: 9 }) }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...questions)
        .chain((x) => fc.subarray(x.answers, { minLength: 1 }).map((answers) => ({ answer: { questionnaire: x.q, question: x.question, in: answers } }))),
    },
    { weight: 2, arbitrary: fc.record({ level: intCmp(0, 3) }) },
    {
      weight: 3,
      arbitrary: fc.record(
        {
          goal: fc.constantFrom(...program.goals.map((g) => g.id)),
          reached: fc.boolean(),
          withinDays: fc.option(fc.constantFrom(...WITHIN), { nil: undefined }),
        },
        { requiredKeys: ['goal', 'reached'] },
      ),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        daysSince: fc.oneof(
          fc.constant({ enrolment: true as const }),
          fc.constantFrom(...EVENT_NAMES).map((event) => ({ event })),
          fc.constantFrom(...program.goals.map((g) => g.id)).map((goal) => ({ goal })),
          fc.constantFrom(...DATE_NAMES, 'never_set').map((date) => ({ date })),
          fc.constant({ stage: true as const }),
        ),
        is: days,
      }),
    },
    { weight: 2, arbitrary: fc.record({ stage: fc.subarray([...STAGES], { minLength: 1 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        touches: fc.record(
          {
            channel: fc.constantFrom(...TOUCH_CHANNELS),
            withinDays: fc.constantFrom(...WITHIN),
            event: fc.option(fc.constantFrom(...EVENT_NAMES), { nil: undefined }),
          },
          { requiredKeys: ['channel', 'withinDays'] },
        ),
        count: intCmp(0, 12),
      }),
    },
    { weight: 2, arbitrary: fc.record({ consent: fc.constantFrom(...SCOPES) }) },
    { weight: 2, arbitrary: fc.record({ pattern: fc.subarray([...program.patterns.map((p) => p.id), 'no-such-pattern'], { minLength: 1 }) }) },
    { weight: 2, arbitrary: fc.record({ cluster: fc.subarray([...clusters, 'cluster-99'], { minLength: 1 }) }) },
  ) as fc.Arbitrary<Condition>
  const { condition } = fc.letrec<{ condition: Condition }>((tie) => ({
    condition: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'condition' },
      { weight: 3, arbitrary: leaf },
      { weight: 1, arbitrary: fc.array(tie('condition'), { minLength: 1, maxLength: 4 }).map((all) => ({ all })) },
      { weight: 1, arbitrary: fc.array(tie('condition'), { minLength: 1, maxLength: 4 }).map((any) => ({ any })) },
      { weight: 1, arbitrary: tie('condition').map((not) => ({ not })) },
    ),
  }))
  return condition
}

let svc: Awaited<ReturnType<typeof startService>>
let program: Program
let persons: string[] = []
let nows: number[] = []
/** Profiles per `now`, by patient. */
const profiles: Array<Map<string, Profile>> = []
let clusterOf: (person: string) => string | null = () => null
let clusterIds: string[] = []

async function post(r: Request) {
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(r.key), 'content-type': 'application/json', 'user-agent': UA, ...(r.origin ? { origin: r.origin } : {}) },
    body: JSON.stringify({ batch: r.batch }),
  })
  expect(res.status, await res.clone().text()).toBe(200)
  expect(((await res.json()) as { rejected?: unknown[] }).rejected ?? []).toEqual([])
}

/** Posts requests eight at a time (the spool syncs concurrent appends together). */
async function postAll(requests: Request[]) {
  const queue = [...requests]
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = queue.shift(); r; r = queue.shift()) await post(r)
    }),
  )
}

async function drained() {
  await waitFor(() => svc.service.spool.depthBytes() === 0 && svc.service.profiles!.current(DEMO.program), 30_000, 'the writer and the profile store')
}

/** Every trace in a condition's trace tree: the condition's, then its parts', depth first. */
function* leaves(t: ConditionTrace): Generator<ConditionTrace> {
  yield t
  for (const p of t.parts ?? []) yield* leaves(p)
}

beforeAll(async () => {
  // Histories of over 400 days sent as they happened, from the browser and every channel's key.
  svc = await startService({ env: { ATTUNE_LIVE_WINDOW_DAYS: '1000', ATTUNE_IMPORT_WINDOW_DAYS: '1000', ATTUNE_IMPORT_MAX_MONTHS: '60' } })
  const loaded = svc.service.programs.find((p) => p.program.id === DEMO.program)!.program
  program = { ...loaded, rules: RULES }
  const base = Date.now() - 60_000
  const [specs] = fc.sample(populationArb(program, base), { seed: SEED, numRuns: 1 })
  const population = materialise([...specs!, ...edgeCases(base)], base)
  await postAll(population.phase1)
  await svc.service.spool.append(population.spoolRows)
  await drained()
  // Identities linked late: the anonymous histories above become the patients' now.
  await postAll(population.phase2)
  await drained()
  // Two clustering runs: the later one is the latest.
  await storeClustering(svc.service.db, await clusterNeeds(svc.service.db, program, { k: 3, minSize: 2, seed: 5, now: Date.now() - 3_600_000 }))
  const latest = await clusterNeeds(svc.service.db, program, { k: 5, minSize: 2, seed: 9 })
  await storeClustering(svc.service.db, latest)
  const stored = (await latestClustering(svc.service.db, DEMO.program))!
  expect(stored.runId).toBe(latest.runId)
  clusterOf = (person) => stored.members.get(person) ?? null
  clusterIds = stored.clusters.map((c) => c.id)

  const rows = await svc.service.db.query<{ person: string }>(
    'SELECT DISTINCT patient_id AS person FROM patients WHERE program = {program:String} ORDER BY person',
    { program: DEMO.program },
  )
  persons = rows.map((r) => r.person)
  expect(new Set(persons)).toEqual(population.patients)
  const now = Date.now()
  // Now, and a day and a half later: "today" moves, windows and decay with it.
  nows = [now, now + 1.5 * DAY_MS + 7_000]
  for (const at of nows) profiles.push(new Map(persons.map((p) => [p, svc.service.profiles!.read(program, p, at)!])))
}, 120_000)

afterAll(async () => {
  await svc?.stop()
})

describe('compiled audiences', () => {
  it('select exactly the patients evaluate() picks from their profiles, for generated conditions over every kind of leaf', async () => {
    const seen = new Map<string, { yes: number; no: number }>()
    let selected = 0
    let notSelected = 0
    await fc.assert(
      fc.asyncProperty(conditionArb(program, clusterIds), fc.constantFrom(0, 1), async (condition, which) => {
        const now = nows[which]!
        const { sql, params } = compileAudience(program, condition, { now })
        const audience = new Set((await svc.service.db.query<{ person: string }>(sql, params)).map((r) => r.person))
        const wrong: string[] = []
        for (const person of persons) {
          const trace = evaluate(condition, { program, profile: profiles[which]!.get(person)!, cluster: clusterOf(person), now })
          for (const t of leaves(trace)) {
            const k = seen.get(kindOf(t.condition)) ?? { yes: 0, no: 0 }
            if (t.result) k.yes++
            else k.no++
            seen.set(kindOf(t.condition), k)
          }
          if (trace.result) selected++
          else notSelected++
          if (trace.result !== audience.has(person))
            wrong.push(
              `${person}: evaluate ${trace.result}, SQL ${audience.has(person)}; leaves ${JSON.stringify([...leaves(trace)].filter((t) => !t.parts).map((t) => [t.condition, t.result, t.value]))}`,
            )
        }
        for (const id of audience) if (!persons.includes(id)) wrong.push(`${id} is selected but is no patient`)
        if (wrong.length) throw new Error(`${wrong.length} disagreements at now=${new Date(now).toISOString()}:\n${wrong.slice(0, 3).join('\n')}`)
      }),
      { seed: SEED, numRuns: RUNS },
    )
    // Not vacuous: every kind of condition was tested, and came out both ways.
    for (const kind of ALL_KINDS) {
      const k = seen.get(kind)
      expect(k, kind).toBeDefined()
      expect(k!.yes, `${kind} true`).toBeGreaterThan(0)
      expect(k!.no, `${kind} false`).toBeGreaterThan(0)
    }
    expect(selected).toBeGreaterThan(0)
    expect(notSelected).toBeGreaterThan(0)
  }, 120_000)

  it('passes EXPLAIN for a large condition that reads every part, and runs it with the same answer', async () => {
    const parts = fc.sample(conditionArb(program, clusterIds), { seed: SEED + 1, numRuns: 150 })
    const large: Condition = { any: [{ all: parts.slice(0, 50) }, { not: { any: parts.slice(50, 100) } }, { all: parts.slice(100) }] }
    const { sql, params } = compileAudience(program, large, { now: nows[0]! })
    for (const cte of ['need_scores', 'patterns', 'levels', 'stages', 'clusters', 'activity', 'goals', 'dates', 'consents', 'answers'])
      expect(sql).toContain(`${cte} AS (`)
    expect(Object.keys(params).length).toBeGreaterThan(300)
    const plan = await svc.service.db.query<{ explain: string }>(`EXPLAIN ${sql}`, params)
    expect(plan.length).toBeGreaterThan(0)
    const audience = new Set((await svc.service.db.query<{ person: string }>(sql, params)).map((r) => r.person))
    for (const person of persons)
      expect(audience.has(person), person).toBe(
        evaluate(large, { program, profile: profiles[0]!.get(person)!, cluster: clusterOf(person), now: nows[0]! }).result,
      )
  })
})
