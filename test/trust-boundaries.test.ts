// What a caller holding a key (the public write key above all) may do and what it is refused, on
// the real embedded engine: the findings of the trust-boundary review, each reproduced as it was
// reported and answered as it must be now.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../collector/index.ts'
import { basic, DEMO, startService, waitFor } from './helpers.ts'

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
async function post(path: string, body: unknown, key: string | null = DEMO.secretKey, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
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
      type, messageId: `null-ok-${i}`, userId: 'p-null-1', anonymousId: null, timestamp: '2026-12-06T04:00:00.123456+00:00', context: { library: { name: 'analytics-python', version: '2.3.3' } }, integrations: {},
      ...(type === 'track' ? { event: 'diary_downloaded', properties: {} } : {}), ...(type === 'identify' || type === 'group' ? { traits: {} } : {}), ...(type === 'group' ? { groupId: 'clinic-1' } : {}),
      ...(type === 'page' || type === 'screen' ? { name: null, category: null, properties: {} } : {}),
    }))
    const answer = await post('/v1/batch', { batch: [...batch, { type: 'alias', messageId: 'null-ok-alias', userId: 'p-null-1', previousId: 'a-null-1', anonymousId: null }], sentAt: null, context: null })
    expect(answer).toMatchObject({ status: 200, body: { success: true, accepted: 6, rejected: [] } })
  })

  it('reports a required field sent as null as missing, with the shape Segment clients read (code and message at the top level)', async () => {
    const answer = await post('/v1/batch', { batch: [{ type: 'track', userId: 'p-null-2', event: null }] })
    expect(answer.status).toBe(400)
    expect(answer.body).toMatchObject({ code: 'no_valid_events', message: expect.any(String), error: { code: 'no_valid_events', field: 'batch[0].event', rejected: [{ index: 0, reason: 'invalid_schema', field: 'batch[0].event' }] } })
  })
})

describe('nesting (finding 5)', () => {
  // As text: JSON.stringify itself overflows the stack on such values.
  const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)

  it('refuses an event of 12,000 nested arrays with 400 naming the field, and keeps the rest of its batch', async () => {
    const deep = await post('/v1/batch', `{"batch":[{"type":"track","userId":"p-deep-1","event":"x","messageId":"deep-1","properties":{"a":${nested(12_000)}}},{"type":"track","userId":"p-deep-1","event":"diary_downloaded","messageId":"deep-ok"}]}`)
    expect(deep.status).toBe(200)
    expect(deep.body.accepted).toBe(1)
    expect(deep.body.rejected).toEqual([{ index: 0, reason: 'too_deep', field: expect.stringMatching(/^batch\[0\]\.properties\.a\[0\]\[0\]/), message: 'is nested more than 32 levels deep; flatten the event' }])
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
    const conditions = '{"not":'.repeat(5_000) + '{"stage":["x"]}' + '}'.repeat(5_000)
    const doc = await service.app.request(`/v1/admin/programs/${DEMO.program}`, { method: 'PUT', headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' }, body: `{"id":"${DEMO.program}","rules":[{"when":${conditions}}]}` })
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
      ['admin', await service.app.request(`/v1/admin/programs/${DEMO.program}`, { method: 'PUT', headers: { authorization: basic(DEMO.printKey), 'content-type': 'application/json' }, body: '{}' })],
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
    expect(await post('/v1/track', { userId: 'p-scope-1', event: 'email_opened' }, DEMO.printKey)).toMatchObject({ status: 400, body: { error: { code: 'no_valid_events', rejected: [{ reason: 'channel_not_allowed', field: 'event' }] } } })
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
