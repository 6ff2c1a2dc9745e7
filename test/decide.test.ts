// POST /v1/decide on the embedded engine: explanations, decisions recorded as events and read back
// into caps and the profile, a browser's write key limited to its own ids and the web, consent
// withdrawn taking effect, stage transitions through the plan, and the default content when the
// profile cannot be read in time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { inProgramHoldout, inRuleHoldout, DAY_MS } from '../analytics/index.ts'
import { basic, DEMO, identityToken, ROOT, startService, waitFor } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc?.stop())

const ORIGIN = 'http://localhost:5173'
type Answer = {
  requestId: string
  person: { id: string; kind: string }
  profile: string
  stage: string | null
  stageChanges: unknown[]
  decisions: Array<{
    slot?: string
    outcome: string
    rule?: string
    class?: string
    content?: { id: string; text?: string; headline?: string }
    explanation?: { rule: string; when: { result: boolean; value?: unknown } }
    considered: Array<{ rule: string; outcome: string; reason?: string }>
  }>
}

async function decideAs(key: string, body: object, headers: Record<string, string> = {}) {
  return svc.service.app.request('/v1/decide', {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}
async function decideOk(key: string, body: object, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await decideAs(key, body, headers)
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as Answer
}
async function send(key: string, batch: object[], origin?: string) {
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: JSON.stringify({ batch }),
  })
  expect(res.status, await res.clone().text()).toBe(200)
}
const landed = () => waitFor(() => svc.service.spool.depthBytes() === 0 && (svc.service.profiles?.current(DEMO.program) ?? true), 20_000, 'events to land')
const PROGRAM_HOLDOUT = (JSON.parse(readFileSync(join(ROOT, 'programs', 'psoriasis-demo.json'), 'utf8')) as { contactPolicy: { programHoldout: number } })
  .contactPolicy.programHoldout
/** A patient id outside the program's holdout, and outside (or, with `held`, inside) the rule's. */
const patientFor = (prefix: string, rule: string, share: number, held = false) => {
  for (let i = 0; ; i++)
    if (!inProgramHoldout(`${prefix}-${i}`, DEMO.program, PROGRAM_HOLDOUT) && inRuleHoldout(`${prefix}-${i}`, rule, share) === held) return `${prefix}-${i}`
}

/** Seven slot requests in a row for one patient: the rule capped at five shows five times, then the next rule. */
async function capsInQuickSuccession(prefix: string) {
  const patient = patientFor(prefix, 'itch-hero', 0.1)
  await send(DEMO.secretKey, [{ type: 'track', userId: patient, event: 'print_magazine_read', properties: { content: ['itch-basics'] } }])
  await landed()
  const rules: string[] = []
  for (let i = 0; i < 7; i++) rules.push((await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })).decisions[0]!.rule!)
  expect(rules).toEqual(['itch-hero', 'itch-hero', 'itch-hero', 'itch-hero', 'itch-hero', 'best-fit-hero', 'best-fit-hero'])
  await landed()
  // Once landed, the profile's decisions hold the cap.
  expect((await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })).decisions[0]).toMatchObject({
    rule: 'best-fit-hero',
    considered: [
      { rule: 'itch-hero', outcome: 'capped', reason: 'cap' },
      { rule: 'best-fit-hero', outcome: 'shown' },
    ],
  })
  await landed()
  const [row] = await svc.service.db.query<{ n: string }>(
    "SELECT count() AS n FROM events WHERE event = 'decision' AND user_id = {p:String} AND JSONExtractString(properties, 'outcome') = 'capped'",
    { p: patient },
  )
  expect(Number(row?.n)).toBe(3)
}

describe('POST /v1/decide', () => {
  it('answers a slot with the rule, its explanation and rendered content, and records the decision', async () => {
    const patient = patientFor('p-dec', 'itch-hero', 0.1)
    await send(DEMO.secretKey, [
      {
        type: 'track',
        userId: patient,
        event: 'questionnaire_answered',
        properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'weighs-on-me' }] },
      },
    ])
    await landed()
    const a = await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })
    // Everyone starts in the plan's first stage; the answered questionnaire moves them on at once.
    expect(a).toMatchObject({
      person: { id: patient, kind: 'patient' },
      profile: 'memory',
      stage: 'first-needs',
      stageChanges: [
        { from: null, to: 'welcome', reason: 'start' },
        { from: 'welcome', to: 'first-needs', reason: 'entry' },
      ],
    })
    expect(a.decisions[0]).toMatchObject({
      slot: 'home-hero',
      outcome: 'shown',
      rule: 'low-mood-support',
      class: 'service',
      content: { id: 'nurse-line', headline: expect.any(String), text: expect.any(String) },
    })
    expect(a.decisions[0]!.explanation).toMatchObject({ rule: 'low-mood-support', when: { result: true, value: 'weighs-on-me' } })
    await landed()
    const rows = await svc.service.db.query<{ outcome: string; rule: string; channel: string }>(
      "SELECT JSONExtractString(properties, 'outcome') AS outcome, JSONExtractString(properties, 'rule') AS rule, channel FROM events WHERE event = 'decision' AND user_id = {p:String}",
      { p: patient },
    )
    expect(rows).toEqual([{ outcome: 'shown', rule: 'low-mood-support', channel: 'web' }])
    const stages = await svc.service.db.query<{ stage: string }>(
      "SELECT JSONExtractString(properties, 'stage') AS stage FROM events WHERE event = 'stage_changed' AND user_id = {p:String} ORDER BY stage DESC",
      { p: patient },
    )
    expect(stages).toEqual([{ stage: 'welcome' }, { stage: 'first-needs' }])
    const profile = await (await svc.service.app.request(`/v1/profiles/${patient}`, { headers: { authorization: basic(DEMO.secretKey) } })).json()
    expect(profile).toMatchObject({ stage: { id: 'first-needs' }, decisions: [{ rule: 'low-mood-support', outcome: 'shown', channel: 'web', times: 1 }] })
    // Decisions are not the patient's touches.
    expect((profile as { channels: Array<{ channel: string; touches: number }> }).channels).toEqual([
      expect.objectContaining({ channel: 'server', touches: 1 }),
    ])
  })

  it('caps a rule across requests in quick succession, before the decisions have landed', async () => {
    await capsInQuickSuccession('p-cap')
  })

  it('caps the same way with profiles read from ClickHouse (the decision log remembers its own decisions until they land)', async () => {
    // One engine per process: the same data directory, restarted without the store, then with it.
    const dir = svc.dir
    await svc.stop({ keep: true })
    svc = await startService({ dir, env: { ATTUNE_PROFILE_STORE: '0', ATTUNE_DECIDE_PROFILE_TIMEOUT_MS: '10000' } })
    try {
      expect(svc.service.profiles).toBeNull()
      await capsInQuickSuccession('p-cap-ch')
    } finally {
      await svc.stop({ keep: true })
      svc = await startService({ dir })
      await waitFor(() => svc.service.profiles!.current(DEMO.program), 30_000, 'the store to load')
    }
  })

  it('decides for a browser’s own ids and the web only, with the write key, answering content only', async () => {
    const anon = 'a-dec-browser'
    const claimed = 'p-someone-else'
    /** Whom the decisions of an answer were recorded for: the patient, or the browser's own anonymous id. */
    const recordedFor = async (requestId: string) => {
      let rows: Array<{ user_id: string; anonymous_id: string }> = []
      await waitFor(
        async () =>
          (rows = await svc.service.db.query(
            "SELECT user_id, anonymous_id FROM events WHERE event = 'decision' AND JSONExtractString(properties, 'requestId') = {r:String}",
            { r: requestId },
          )).length > 0,
        20_000,
        'the decisions',
      )
      return rows[0]!.user_id || `anonymous ${rows[0]!.anonymous_id}`
    }
    // An unlinked browser naming a patient gets decisions for itself, and nothing of any profile.
    const a = await decideOk(
      DEMO.writeKey,
      { writeKey: DEMO.writeKey, anonymousId: anon, userId: claimed, channel: 'web', slots: ['home-hero'] },
      { origin: ORIGIN },
    )
    expect(Object.keys(a).sort()).toEqual(['channel', 'decidedAt', 'decisions', 'program', 'requestId'])
    for (const d of a.decisions as Array<Record<string, unknown>>)
      expect(Object.keys(d).filter((k) => !['slot', 'outcome', 'content', 'reason'].includes(k))).toEqual([])
    expect(await recordedFor(a.requestId)).toBe(`anonymous browser:${anon}`)
    expect((await decideAs(DEMO.writeKey, { anonymousId: anon, channel: 'email' }, { origin: ORIGIN })).status).toBe(403)
    expect((await decideAs(DEMO.writeKey, { userId: claimed, channel: 'web' }, { origin: ORIGIN })).status).toBe(400)
    expect((await decideAs(DEMO.writeKey, { anonymousId: anon, channel: 'web' }, { origin: 'https://evil.example' })).status).toBe(403)
    // An identify without an identity token links nothing.
    await send(DEMO.writeKey, [{ type: 'identify', anonymousId: anon, userId: 'p-dec-linked' }], ORIGIN)
    await landed()
    const b = await decideOk(DEMO.writeKey, { anonymousId: anon, channel: 'web', slots: ['home-hero'] }, { origin: ORIGIN })
    expect(await recordedFor(b.requestId)).toBe(`anonymous browser:${anon}`)
    // Linked by an identify with the token the site's backend signed: the browser gets its patient's decisions (content only still).
    await send(
      DEMO.writeKey,
      [{ type: 'identify', anonymousId: anon, userId: 'p-dec-linked', context: { identityToken: identityToken('p-dec-linked') } }],
      ORIGIN,
    )
    await landed()
    const c = await decideOk(DEMO.writeKey, { anonymousId: anon, channel: 'web', slots: ['home-hero'] }, { origin: ORIGIN })
    expect(c).not.toHaveProperty('person')
    expect(await recordedFor(c.requestId)).toBe('p-dec-linked')
    // Text bodies without a content type (what the SDK sends, no CORS preflight) are read as JSON too.
    const res = await svc.service.app.request('/v1/decide', {
      method: 'POST',
      headers: { origin: ORIGIN },
      body: JSON.stringify({ writeKey: DEMO.writeKey, anonymousId: anon, channel: 'web', slots: ['home-hero'] }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
  })

  it('refuses bad requests naming the field', async () => {
    const bad = async (body: unknown, field: string, status = 400) => {
      const res = await svc.service.app.request('/v1/decide', {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      expect(res.status, JSON.stringify(body)).toBe(status)
      if (field) expect(((await res.json()) as { error: { field?: string } }).error.field).toBe(field)
    }
    await bad('{nope', '')
    await bad({ userId: 'p-1', channel: 'fax' }, 'channel')
    await bad({ userId: 'p-1', channel: 'web', slots: ['Home Hero'] }, 'slots[0]')
    await bad({ channel: 'web' }, 'userId')
    await bad({ userId: 'p-1', channel: 'web', extra: 1 }, 'extra')
    await bad({ userId: 'p-1', channel: 'web', program: 'smoking-cessation-demo' }, 'program', 403)
    expect((await svc.service.app.request('/v1/decide', { method: 'POST', body: JSON.stringify({ userId: 'p-1', channel: 'web' }) })).status).toBe(401)
  })

  it('contacts by e-mail only with consent, and a withdrawal takes effect with the next request', async () => {
    const patient = patientFor('p-mail', 'joint-check-email', 0.1)
    // Joint health inferred from two reads of the joint check: the joint-check e-mail rule matches.
    await send(DEMO.secretKey, [
      { type: 'identify', userId: patient, traits: { dates: { enrolment: new Date(Date.now() - 20 * DAY_MS).toISOString().slice(0, 10) } } },
      { type: 'track', userId: patient, event: 'print_magazine_read', properties: { content: ['joint-check'] } },
    ])
    await landed()
    const reasons = (a: Answer) => Object.fromEntries(a.decisions[0]!.considered.map((c) => [c.rule, c.reason ?? c.outcome]))
    const noConsent = await decideOk(DEMO.secretKey, { userId: patient, channel: 'email' })
    expect(noConsent.decisions[0]!.outcome).toBe('none')
    expect(reasons(noConsent)).toEqual({ 'welcome.welcome-email': 'consent', 'welcome.diary-tip': 'consent', 'joint-check-email': 'consent' })
    await send(DEMO.secretKey, [{ type: 'track', userId: patient, event: 'consent_updated', properties: { consent: { email: true } } }])
    await landed()
    const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' }).format(new Date()))
    const quiet = hour >= 21 || hour < 8
    const withConsent = await decideOk(DEMO.secretKey, { userId: patient, channel: 'email' })
    // The plan's welcome e-mail (service) goes before the joint check (education); at night both wait for quiet hours.
    if (quiet) expect(reasons(withConsent)).toMatchObject({ 'welcome.welcome-email': 'quiet_hours', 'joint-check-email': 'quiet_hours' })
    else expect(withConsent.decisions[0]).toMatchObject({ outcome: 'shown', rule: 'welcome.welcome-email', content: { id: 'nurse-line' } })
    await send(DEMO.secretKey, [{ type: 'track', userId: patient, event: 'consent_updated', properties: { consent: { email: false } } }])
    await landed()
    const withdrawn = await decideOk(DEMO.secretKey, { userId: patient, channel: 'email' })
    expect(withdrawn.decisions[0]!.outcome).toBe('none')
    expect(reasons(withdrawn)['joint-check-email']).toBe('consent')
    expect(Object.values(reasons(withdrawn)).every((r) => r === 'consent')).toBe(true)
  })

  it('moves a patient on through the plan when an entry condition holds', async () => {
    const patient = 'p-plan-1'
    expect((await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })).stage).toBe('welcome')
    await send(DEMO.secretKey, [
      {
        type: 'track',
        userId: patient,
        event: 'questionnaire_answered',
        properties: { questionnaire: 'first-needs', answers: [{ question: 'main-concern', answer: 'itch' }] },
      },
    ])
    await landed()
    const moved = await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })
    expect(moved.stageChanges).toEqual([{ from: 'welcome', to: 'first-needs', reason: 'entry' }])
    // Before the change lands, the next request already sees the new stage.
    expect((await decideOk(DEMO.secretKey, { userId: patient, channel: 'web', slots: ['home-hero'] })).stageChanges).toEqual([])
  })
})

describe('POST /v1/decide without a profile in time', () => {
  it('gives the default content and says so', async () => {
    await svc.stop()
    svc = await startService({ env: { ATTUNE_PROFILE_STORE: '0', ATTUNE_DECIDE_PROFILE_TIMEOUT_MS: '1' } })
    const a = await decideOk(DEMO.secretKey, { userId: 'p-slow', channel: 'web', slots: ['home-hero', 'sidebar'] })
    expect(a.profile).toBe('unavailable')
    expect(a.decisions).toEqual([
      { slot: 'home-hero', channel: 'web', outcome: 'default', reason: 'profile_unavailable', considered: [] },
      { slot: 'sidebar', channel: 'web', outcome: 'default', reason: 'profile_unavailable', considered: [] },
    ])
  })
})
