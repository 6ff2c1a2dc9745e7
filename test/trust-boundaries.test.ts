// What a caller holding a key (the public write key above all) may do and what it is refused, on
// the real embedded engine: the findings of the trust-boundary review, each reproduced as it was
// reported and answered as it must be now.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkedPatient, secretHash, DAY_MS } from '../analytics/index.ts'
import type { Service } from '../collector/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

beforeAll(async () => {
  svc = await startService()
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

/** POSTs JSON with a key (HTTP Basic), or a raw text body. */
async function post(
  path: string,
  body: unknown,
  key: string | null = DEMO.secretKey,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await service.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: basic(key) } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

async function rows(where: string, params: Record<string, unknown>): Promise<Array<Record<string, any>>> {
  return service.db.query(`SELECT * FROM events WHERE ${where} ORDER BY received_at`, params)
}

describe('Segment message shapes (finding 4)', () => {
  it('takes null for an optional field as absent: analytics-python sends "anonymousId": null with every userId', async () => {
    const batch = ['track', 'identify', 'page', 'screen', 'group'].map((type, i) => ({
      type,
      messageId: `null-ok-${i}`,
      userId: 'p-null-1',
      anonymousId: null,
      timestamp: '2026-12-06T04:00:00.123456+00:00',
      context: { library: { name: 'analytics-python', version: '2.3.3' } },
      integrations: {},
      ...(type === 'track' ? { event: 'diary_downloaded', properties: {} } : {}),
      ...(type === 'identify' || type === 'group' ? { traits: {} } : {}),
      ...(type === 'group' ? { groupId: 'clinic-1' } : {}),
      ...(type === 'page' || type === 'screen' ? { name: null, category: null, properties: {} } : {}),
    }))
    const answer = await post('/v1/batch', {
      batch: [...batch, { type: 'alias', messageId: 'null-ok-alias', userId: 'p-null-1', previousId: 'a-null-1', anonymousId: null }],
      sentAt: null,
      context: null,
    })
    expect(answer).toMatchObject({ status: 200, body: { success: true, accepted: 6, rejected: [] } })
  })

  it('reports a required field sent as null as missing, with the shape Segment clients read (code and message at the top level)', async () => {
    const answer = await post('/v1/batch', { batch: [{ type: 'track', userId: 'p-null-2', event: null }] })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({
      code: 'no_valid_events',
      message: expect.any(String),
      error: { code: 'no_valid_events', field: 'batch[0].event', rejected: [{ index: 0, reason: 'invalid_schema', field: 'batch[0].event' }] },
    })
  })
})

describe('nesting (finding 5)', () => {
  // As text: JSON.stringify itself overflows the stack on such values.
  const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)

  it('refuses an event of 12,000 nested arrays with 400 naming the field, and keeps the rest of its batch', async () => {
    const deep = await post(
      '/v1/batch',
      `{"batch":[{"type":"track","userId":"p-deep-1","event":"x","messageId":"deep-1","properties":{"a":${nested(12_000)}}},{"type":"track","userId":"p-deep-1","event":"diary_downloaded","messageId":"deep-ok"}]}`,
    )
    expect(deep.status).toBe(200)
    expect(deep.body.accepted).toBe(1)
    expect(deep.body.rejected).toEqual([
      {
        index: 0,
        reason: 'too_deep',
        field: expect.stringMatching(/^batch\[0\]\.properties\.a\[0\]\[0\]/),
        message: 'is nested more than 32 levels deep; flatten the event',
      },
    ])
    const alone = await post('/v1/track', `{"userId":"p-deep-1","event":"x","properties":{"a":${nested(12_000)}}}`)
    expect(alone.status).toBe(400)
    expect(alone.body.error).toMatchObject({ code: 'no_valid_events', field: expect.stringMatching(/^properties\.a\[0\]/) })
  })

  it('refuses deep nesting in a batch context, a decide body and a program document with 400, never 5xx', async () => {
    const ctx = await post('/v1/batch', `{"batch":[{"type":"track","userId":"p-deep-2","event":"x"}],"context":{"a":${nested(12_000)}}}`)
    expect(ctx.status).toBe(400)
    expect(ctx.body.error).toMatchObject({ code: 'invalid_body', field: expect.stringMatching(/^context\.a\[0\]/) })
    const decide = await post('/v1/decide', `{"userId":"p-deep-2","channel":"web","context":{"a":${nested(12_000)}}}`)
    expect(decide.status).toBe(400)
    expect(decide.body.error).toMatchObject({ code: 'invalid_body', field: expect.stringMatching(/^context\.a\[0\]/) })
    const conditions = `${'{"not":'.repeat(5_000)}{"stage":["x"]}${'}'.repeat(5_000)}`
    const doc = await service.app.request(`/v1/admin/programs/${DEMO.program}`, {
      method: 'PUT',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: `{"id":"${DEMO.program}","rules":[{"when":${conditions}}]}`,
    })
    expect(doc.status).toBe(400)
    expect(((await doc.json()) as any).error.code).toBe('invalid_body')
  })
})

describe('key scopes and secrets (finding 2)', () => {
  const get = (path: string, key: string) => service.app.request(path, { headers: { authorization: basic(key) } })

  it('refuses a vendor’s channel key everything but ingestion on its channel, naming the scope it lacks', async () => {
    const refusals: Array<[string, Response]> = [
      ['admin', await get(`/v1/admin/programs/${DEMO.program}`, DEMO.printKey)],
      ['admin', await get(`/v1/admin/programs/${DEMO.program}/versions`, DEMO.printKey)],
      [
        'admin',
        await service.app.request(`/v1/admin/programs/${DEMO.program}`, {
          method: 'PUT',
          headers: { authorization: basic(DEMO.printKey), 'content-type': 'application/json' },
          body: '{}',
        }),
      ],
      ['admin', await get(`/v1/admin/programs/${DEMO.program}/clusters`, DEMO.callKey)],
      ['profiles', await get('/v1/profiles/p-000080', DEMO.printKey)],
      ['profiles', await get('/v1/profiles/p-000080/timeline', DEMO.callKey)],
    ]
    for (const [scope, res] of refusals) {
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ code: 'scope_required', error: { code: 'scope_required', scope, field: 'authorization' } })
    }
    const decide = await post('/v1/decide', { userId: 'p-000080', channel: 'print' }, DEMO.printKey)
    expect(decide).toMatchObject({ status: 403, body: { error: { code: 'scope_required', scope: 'decide' } } })
    // Its own channel it may send on; another it may not.
    expect((await post('/v1/track', { userId: 'p-scope-1', event: 'print_delivered' }, DEMO.printKey)).status).toBe(200)
    expect(await post('/v1/track', { userId: 'p-scope-1', event: 'email_opened' }, DEMO.printKey)).toMatchObject({
      status: 400,
      body: { error: { code: 'no_valid_events', rejected: [{ reason: 'channel_not_allowed', field: 'event' }] } },
    })
  })

  it('answers and stores program documents with every key and secret as a hash, never in clear', async () => {
    const res = await get(`/v1/admin/programs/${DEMO.program}`, DEMO.secretKey)
    expect(res.status).toBe(200)
    const text = await res.text()
    const demo = service.programs.find((p) => p.program.id === DEMO.program)!
    const clear = [DEMO.writeKey, DEMO.secretKey, DEMO.callKey, DEMO.printKey, demo.linkSecret!, demo.identitySecret!]
    for (const value of clear) expect(text).not.toContain(value)
    expect(JSON.parse(text).document.linkSecret).toMatch(/^sha256:[0-9a-f]{64}$/)
    const stored = await service.db.query<{ document: string }>('SELECT document FROM program_versions')
    expect(stored.length).toBeGreaterThan(0)
    for (const { document } of stored) for (const value of clear) expect(document).not.toContain(value)
  })
})

describe('a write key cannot act as a patient (finding 1)', () => {
  const victim = 'p-tb-victim'
  const origin = { origin: 'http://localhost:5173' }
  const profile = async (id: string) =>
    (await (await service.app.request(`/v1/profiles/${id}`, { headers: { authorization: basic(DEMO.secretKey) } })).json()) as {
      ids: string[]
      answers: unknown[]
      goals: Array<{ goal: string }>
      consent: Record<string, unknown>
    }
  const settled = () => waitFor(() => service.spool.depthBytes() === 0 && (service.profiles?.current(DEMO.program) ?? true), 20_000, 'events to land')

  it('keeps a claimed patient id without proof as the browser’s own analytics, and answers its decisions with content only', async () => {
    // The patient, as the program's backend knows them.
    expect(
      (
        await post('/v1/batch', {
          batch: [
            {
              type: 'track',
              userId: victim,
              event: 'questionnaire_answered',
              properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'weighs-on-me' }] },
            },
          ],
        })
      ).status,
    ).toBe(200)
    // The reported attack: the public write key links a browser to the patient, then writes to and decides for them.
    const attack = await post(
      '/v1/batch',
      JSON.stringify({
        writeKey: DEMO.writeKey,
        batch: [
          { type: 'identify', userId: victim, anonymousId: 'attacker-1', messageId: 'tb-attack-1' },
          {
            type: 'track',
            userId: victim,
            anonymousId: 'attacker-1',
            event: 'questionnaire_answered',
            messageId: 'tb-attack-2',
            properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'coping' }] },
          },
          {
            type: 'track',
            userId: victim,
            anonymousId: 'attacker-1',
            event: 'goal_reached',
            messageId: 'tb-attack-3',
            properties: { goal: 'diary_downloaded' },
          },
          {
            type: 'track',
            userId: victim,
            anonymousId: 'attacker-1',
            event: 'consent_updated',
            messageId: 'tb-attack-4',
            properties: { consent: { web: false } },
          },
        ],
      }),
      null,
      { 'content-type': 'text/plain', ...origin },
    )
    expect(attack).toMatchObject({ status: 200, body: { accepted: 4, rejected: [] } })
    await settled()
    const stored = await rows("message_id LIKE 'tb-attack-%'", {})
    expect(stored.map((r) => [r.user_id, r.anonymous_id, r.claimed_user_id, r.identity_status])).toEqual(
      Array(4).fill(['', 'browser:attacker-1', victim, 'missing']),
    )
    const p = await profile(victim)
    expect(p.ids).toEqual([victim])
    expect(p.answers).toEqual([expect.objectContaining({ answer: 'weighs-on-me' })])
    expect(p.goals.map((g) => g.goal)).toEqual(['first_needs_answered'])
    expect(p.consent).toEqual({})
    const decided = await post(
      '/v1/decide',
      JSON.stringify({ writeKey: DEMO.writeKey, anonymousId: 'attacker-1', userId: victim, channel: 'web', slots: ['home-hero'] }),
      null,
      { 'content-type': 'text/plain', ...origin },
    )
    expect(decided.status).toBe(200)
    expect(Object.keys(decided.body).sort()).toEqual(['channel', 'decidedAt', 'decisions', 'program', 'requestId'])
    expect(JSON.stringify(decided.body)).not.toMatch(/weighs-on-me|p-tb-victim|considered|explanation|stage/)
  })

  it('keeps a browser’s anonymous id apart from every patient id: naming the patient’s id as its own writes and decides nothing for them', async () => {
    const target = 'p-tb-target'
    expect(
      (
        await post('/v1/track', {
          userId: target,
          event: 'questionnaire_answered',
          properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'weighs-on-me' }] },
        })
      ).status,
    ).toBe(200)
    // The write key sends the patient's id as its anonymous id; a proven patient links another patient's id as their browser.
    const attack = await post(
      '/v1/batch',
      {
        batch: [
          {
            type: 'track',
            anonymousId: target,
            event: 'questionnaire_answered',
            messageId: 'tb-anon-1',
            properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'coping' }] },
          },
          { type: 'track', anonymousId: target, event: 'consent_updated', messageId: 'tb-anon-2', properties: { consent: { web: false, analytics: false } } },
          {
            type: 'identify',
            userId: 'p-tb-other-patient',
            anonymousId: target,
            messageId: 'tb-anon-3',
            context: { identityToken: identityToken('p-tb-other-patient') },
          },
        ],
      },
      DEMO.writeKey,
      origin,
    )
    expect(attack).toMatchObject({ status: 200, body: { accepted: 3 } })
    await settled()
    const p = await profile(target)
    expect(p.ids).toEqual([target])
    expect(p.answers).toEqual([expect.objectContaining({ answer: 'weighs-on-me' })])
    expect(p.consent).toEqual({})
    expect((await profile('p-tb-other-patient')).ids).toEqual(['p-tb-other-patient', `browser:${target}`])
    // Decide for "its own browser" named as the patient decides for a browser, recorded for it.
    const decided = await post('/v1/decide', { writeKey: DEMO.writeKey, anonymousId: 'p-tb-nobody-linked', channel: 'web', slots: ['home-hero'] }, null, origin)
    let recorded: Array<Record<string, any>> = []
    await waitFor(
      async () =>
        (recorded = await rows("event = 'decision' AND JSONExtractString(properties, 'requestId') = {r:String}", { r: decided.body.requestId })).length > 0,
      20_000,
      'the decisions',
    )
    expect(new Set(recorded.map((r) => `${r.user_id}|${r.anonymous_id}`))).toEqual(new Set(['|browser:p-tb-nobody-linked']))
  })

  it('links a browser with an identity token the site’s backend signed, and refuses alias and group from a write key', async () => {
    const ok = await post(
      '/v1/identify',
      { userId: 'p-tb-proven', anonymousId: 'a-tb-proven', context: { identityToken: identityToken('p-tb-proven') } },
      DEMO.writeKey,
      origin,
    )
    expect(ok.status).toBe(200)
    // A token for another patient, or of another program's secret, proves nothing.
    await post(
      '/v1/identify',
      { userId: 'p-tb-other', anonymousId: 'a-tb-proven', context: { identityToken: identityToken('p-tb-proven') } },
      DEMO.writeKey,
      origin,
    )
    await post(
      '/v1/identify',
      {
        userId: 'p-tb-forged',
        anonymousId: 'a-tb-forged',
        context: { identityToken: identityToken('p-tb-forged', DEMO.program, 'a_guessed_secret_of_more_than_32_chars') },
      },
      DEMO.writeKey,
      origin,
    )
    await settled()
    expect((await profile('p-tb-proven')).ids).toEqual(['p-tb-proven', 'browser:a-tb-proven'])
    expect((await profile('p-tb-other')).ids).toEqual(['p-tb-other'])
    expect((await profile('p-tb-forged')).ids).toEqual(['p-tb-forged'])
    const statuses = await rows("anonymous_id IN ('browser:a-tb-proven', 'browser:a-tb-forged') AND type = 'identify'", {})
    expect(statuses.map((r) => r.identity_status).sort()).toEqual(['bad_signature', 'user_mismatch', 'verified'])
    for (const [type, body] of [
      ['alias', { userId: victim, previousId: 'attacker-2' }],
      ['group', { anonymousId: 'attacker-2', groupId: 'clinic-1' }],
    ] as const) {
      const res = await post(`/v1/${type}`, body, DEMO.writeKey, origin)
      expect(res).toMatchObject({ status: 400, body: { error: { code: 'no_valid_events', rejected: [{ reason: 'not_allowed', field: 'type' }] } } })
    }
  })

  it('serves a questionnaire above level 0 to a browser only at its level, with a ticket its answers need', async () => {
    const q = (id: string, anonymousId?: string) =>
      service.app.request(`/v1/questionnaires/${id}?writeKey=${DEMO.writeKey}${anonymousId ? `&anonymousId=${anonymousId}` : ''}`, { headers: origin })
    const answer = (anonymousId: string, ticket?: string, userId?: string) =>
      post(
        '/v1/track',
        {
          anonymousId,
          ...(userId ? { userId, context: { identityToken: identityToken(userId) } } : {}),
          event: 'questionnaire_answered',
          properties: { questionnaire: 'living-with-psoriasis', answers: [{ question: 'joints', answer: 'yes' }], ...(ticket ? { ticket } : {}) },
        },
        DEMO.writeKey,
        origin,
      )
    expect((await q('first-needs')).status).toBe(200)
    expect(await (await q('living-with-psoriasis')).json()).toMatchObject({ error: { code: 'invalid_body', field: 'anonymousId' } })
    const locked = await q('living-with-psoriasis', 'a-tb-q')
    expect(locked.status).toBe(403)
    expect(await locked.json()).toMatchObject({ error: { code: 'questionnaire_locked', field: 'id' } })
    expect(await answer('a-tb-q')).toMatchObject({
      status: 400,
      body: { error: { rejected: [{ reason: 'questionnaire_locked', field: 'properties.ticket' }] } },
    })
    // The patient reaches level 2 (60 points) through the program's backend; the browser logs in.
    const patient = 'p-tb-q'
    const goals = ['diary_downloaded', 'nurse_callback_requested', 'appointment_checklist_downloaded'].map((goal) => ({
      type: 'track',
      userId: patient,
      event: 'goal_reached',
      properties: { goal },
    }))
    const answered = {
      type: 'track',
      userId: patient,
      event: 'questionnaire_answered',
      properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'coping' }] },
    }
    const checkins = [1, 2].map((d) => ({
      type: 'track',
      userId: patient,
      event: 'medication_checkin',
      timestamp: new Date(Date.now() - d * DAY_MS).toISOString(),
    }))
    expect((await post('/v1/batch', { batch: [...goals, answered, ...checkins] })).status).toBe(200)
    await post('/v1/identify', { userId: patient, anonymousId: 'a-tb-q', context: { identityToken: identityToken(patient) } }, DEMO.writeKey, origin)
    await settled()
    const open = await q('living-with-psoriasis', 'a-tb-q')
    expect(open.status).toBe(200)
    expect(open.headers.get('cache-control')).toBe('private, no-store')
    const { ticket } = (await open.json()) as { ticket: string }
    expect(ticket).toEqual(expect.any(String))
    // Its own ticket opens it; the same ticket from another browser does not.
    expect((await answer('a-tb-q', ticket, patient)).status).toBe(200)
    expect(await answer('a-tb-elsewhere', ticket)).toMatchObject({ status: 400, body: { error: { rejected: [{ reason: 'questionnaire_locked' }] } } })
    await settled()
    const stored = await rows("event = 'questionnaire_answered' AND anonymous_id = 'browser:a-tb-q'", {})
    expect(stored).toHaveLength(1)
    expect(stored[0]!.properties).not.toContain('ticket')
  })
})

describe('historical events (finding 3)', () => {
  it('refuses a write key’s events older than the live window, and bounds the months an import may touch', async () => {
    const month = (i: number) => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - i, 15)).toISOString()
    const spread = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        type: 'track',
        anonymousId: 'a-tb-hist',
        event: 'x',
        messageId: `${tag}-${i}`,
        timestamp: i === 0 ? new Date().toISOString() : month(i),
      }))
    const web = await post('/v1/batch', { batch: spread('tb-hist-web', 500) }, DEMO.writeKey, { origin: 'http://localhost:5173' })
    expect(web.body.accepted).toBe(1)
    expect(new Set(web.body.rejected.map((r: { reason: string }) => r.reason))).toEqual(new Set(['too_old']))
    expect(web.body.rejected.find((r: { reason: string }) => r.reason === 'too_old').message).toMatch(/need a secret key with the import scope/)
    // The backend's key has the import scope: five years, at most 12 months a request.
    const batch = spread('tb-hist-imp', 100)
    const within = batch.filter((m) => Date.now() - Date.parse(m.timestamp) <= 1827 * DAY_MS).length
    const imported = await post('/v1/batch', { batch })
    expect(imported.body.accepted).toBe(12)
    const reasons = imported.body.rejected.map((r: { reason: string }) => r.reason)
    expect(reasons.filter((r: string) => r === 'too_many_months')).toHaveLength(within - 12)
    expect(reasons.filter((r: string) => r === 'too_old')).toHaveLength(100 - within)
    // A vendor's channel key has no import scope.
    const print = await post('/v1/track', { userId: 'p-tb-hist', event: 'print_delivered', timestamp: month(2) }, DEMO.printKey)
    expect(print.body.error.rejected[0]).toMatchObject({ reason: 'too_old' })
    // What was accepted landed in 13 partitions at most, and an event sent now still lands.
    const started = Date.now()
    await post('/v1/track', { userId: 'p-tb-hist', event: 'after_history', messageId: 'tb-hist-after' })
    await waitFor(async () => (await rows("message_id = 'tb-hist-after'", {})).length === 1, 10_000, 'the event after the import')
    console.log(`finding 3: an event sent after a 12-month import landed after ${Date.now() - started} ms`)
    const [parts] = await service.db.query<{ n: string }>("SELECT uniqExact(toYYYYMM(ts)) AS n FROM events WHERE message_id LIKE 'tb-hist-%'")
    expect(Number(parts!.n)).toBeLessThanOrEqual(13)
  })
})

describe('contact details (finding 6)', () => {
  it('masks national phone numbers, drops personal-data keys, refuses phone-number ids, and counts each by reason', async () => {
    const metric = async (reason: string) => {
      const text = await (await service.app.request('/metrics')).text()
      return Number(new RegExp(`attune_personal_data_removed_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0)
    }
    const before = { key: await metric('personal_data_key'), phone: await metric('phone') }
    const res = await post('/v1/track', {
      userId: 'p-tb-contact',
      event: 'note_taken',
      messageId: 'tb-contact-1',
      properties: {
        note: 'call back on 0170 1234567 or 0049 170 1234567',
        name: 'Anna Muster',
        dob: '1980-02-03',
        address_line: 'Main St 1',
        insurance_number: 'A123456789',
      },
    })
    expect(res.status).toBe(200)
    await waitFor(async () => (await rows("message_id = 'tb-contact-1'", {})).length === 1, 20_000, 'the event')
    const [row] = await rows("message_id = 'tb-contact-1'", {})
    expect(JSON.parse(row!.properties)).toEqual({ note: 'call back on [redacted] or [redacted]' })
    expect(await metric('personal_data_key')).toBe(before.key + 4)
    expect(await metric('phone')).toBe(before.phone + 2)
    expect(await post('/v1/identify', { userId: '00491701234567' })).toMatchObject({
      status: 400,
      body: { error: { field: 'userId', message: 'userId: must be a pseudonymous id, not an e-mail address or phone number' } },
    })
    // A number spelled with JSON escapes is masked too (the body's text holds no digit run).
    const escaped = await post(
      '/v1/track',
      '{"userId":"p-tb-contact","event":"note_taken","messageId":"tb-contact-2","properties":{"note":"call me on \\u00301701234567"}}',
    )
    expect(escaped.status).toBe(200)
    await waitFor(async () => (await rows("message_id = 'tb-contact-2'", {})).length === 1, 20_000, 'the escaped event')
    expect(JSON.parse((await rows("message_id = 'tb-contact-2'", {}))[0]!.properties)).toEqual({ note: 'call me on [redacted]' })
  })
})

describe('a browser shared by two patients (finding 10)', () => {
  it('belongs to the patient who logged in last: decisions for it go to them, never to the first', async () => {
    const origin = { origin: 'http://localhost:5173' }
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString()
    await post(
      '/v1/identify',
      { userId: 'p-tb-first', anonymousId: 'a-tb-shared', timestamp: at(30), context: { identityToken: identityToken('p-tb-first') } },
      DEMO.writeKey,
      origin,
    )
    await post(
      '/v1/identify',
      { userId: 'p-tb-second', anonymousId: 'a-tb-shared', timestamp: at(5), context: { identityToken: identityToken('p-tb-second') } },
      DEMO.writeKey,
      origin,
    )
    await waitFor(() => service.spool.depthBytes() === 0 && (service.profiles?.current(DEMO.program) ?? true), 20_000, 'events to land')
    // The store and ClickHouse agree on whom the browser is now.
    expect(service.profiles!.personOf(DEMO.program, 'browser:a-tb-shared')).toEqual({ person: 'p-tb-second', linked: true })
    expect(await linkedPatient(service.db, DEMO.program, 'browser:a-tb-shared')).toBe('p-tb-second')
    const decided = await post('/v1/decide', { writeKey: DEMO.writeKey, anonymousId: 'a-tb-shared', channel: 'web', slots: ['home-hero'] }, null, origin)
    expect(decided.status).toBe(200)
    let recorded: Array<Record<string, any>> = []
    await waitFor(
      async () =>
        (recorded = await rows("event = 'decision' AND JSONExtractString(properties, 'requestId') = {r:String}", { r: decided.body.requestId })).length > 0,
      20_000,
      'the decisions',
    )
    expect(new Set(recorded.map((r) => r.user_id))).toEqual(new Set(['p-tb-second']))
  })
})

describe('smaller findings (10)', () => {
  it('refuses a timestamp before 1970 with its reason instead of clamping it', async () => {
    const res = await post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'p-tb-old', event: 'x', timestamp: '1969-07-20T20:17:40Z' },
        { type: 'track', userId: 'p-tb-old', event: 'x', timestamp: new Date().toISOString(), sentAt: '1960-01-01T00:00:00Z' },
      ],
    })
    expect(res.body.error.rejected).toEqual([
      { index: 0, reason: 'invalid_timestamp', field: 'batch[0].timestamp', message: 'must be between 1970-01-02 and 2299-12-31' },
      { index: 1, reason: 'invalid_timestamp', field: 'batch[1].sentAt', message: 'must be between 1970-01-02 and 2299-12-31' },
    ])
  })

  it('decodes a decide or program body by its Content-Encoding, and answers 415 for one it does not know', async () => {
    const { gzipSync, brotliCompressSync } = await import('node:zlib')
    const decide = (body: Buffer | string, encoding: string) =>
      service.app.request('/v1/decide', {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      })
    const json = JSON.stringify({ userId: 'p-tb-enc', channel: 'web', slots: ['home-hero'] })
    expect((await decide(gzipSync(json), 'gzip')).status).toBe(200)
    expect((await decide(brotliCompressSync(json), 'br')).status).toBe(200)
    const unknown = await decide(json, 'compress')
    expect(unknown.status).toBe(415)
    expect(((await unknown.json()) as any).error.code).toBe('unsupported_encoding')
    expect(((await (await decide('not gzip at all', 'gzip')).json()) as any).error.code).toBe('invalid_body')
    // 64 KB after decompression, however small the compressed body.
    const bomb = await decide(gzipSync(JSON.stringify({ userId: 'p-tb-enc', channel: 'web', context: { pad: 'x'.repeat(200_000) } })), 'gzip')
    expect(bomb.status).toBe(413)
    const current = (await (await service.app.request(`/v1/admin/programs/${DEMO.program}`, { headers: { authorization: basic(DEMO.secretKey) } })).json()) as {
      version: number
      document: unknown
    }
    const put = await service.app.request(`/v1/admin/programs/${DEMO.program}`, {
      method: 'PUT',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(current.document)),
    })
    expect(put.status).toBe(200)
    expect(((await put.json()) as { version: number }).version).toBe(current.version)
  })
})

describe('keys through the admin API (review)', () => {
  it('takes a new key in clear outside a demo and keeps only its hash; refuses a secret in clear and a secret of another program named by hash', async () => {
    const admin = { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' }
    const current = (await (await service.app.request(`/v1/admin/programs/${DEMO.program}`, { headers: admin })).json()) as { document: Record<string, any> }
    const doc = structuredClone(current.document)
    doc.demo = false
    const rotated = 'sk_rotated_backend_key_0123456789'
    doc.keys.secret.push({ id: 'rotated-backend', key: rotated, channel: 'server', scopes: ['profiles'] })
    const put = (d: unknown) => service.app.request(`/v1/admin/programs/${DEMO.program}`, { method: 'PUT', headers: admin, body: JSON.stringify(d) })
    const ok = await put(doc)
    expect(ok.status, await ok.clone().text()).toBe(200)
    expect((await service.app.request('/v1/profiles/p-tb-rotation', { headers: { authorization: basic(rotated) } })).status).toBe(200)
    const stored = await service.db.query<{ document: string }>('SELECT document FROM program_versions')
    for (const { document } of stored) expect(document).not.toContain(rotated)
    // A short key, a secret in clear, and a secret named by another program's (or a key's) hash are refused.
    const refused = async (d: Record<string, any>, field: string) => {
      const res = await put(d)
      expect(res.status).toBe(400)
      expect(((await res.json()) as any).error.field).toBe(field)
    }
    await refused(
      { ...doc, keys: { ...doc.keys, secret: [...doc.keys.secret, { id: 'short', key: 'sk_short_key_1' }] } },
      `keys.secret.${doc.keys.secret.length}.key`,
    )
    await refused({ ...doc, identitySecret: 'a_new_identity_secret_in_clear_0123456789' }, 'identitySecret')
    const quit = service.programs.find((p) => p.program.id === 'smoking-cessation-demo')!
    await refused({ ...doc, linkSecret: `sha256:${secretHash(quit.linkSecret!)}` }, 'linkSecret')
    await refused({ ...doc, identitySecret: `sha256:${secretHash(DEMO.writeKey)}` }, 'identitySecret')
  })
})
