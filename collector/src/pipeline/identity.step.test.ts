import { describe, expect, it } from 'vitest'
import { programKey, type EventRow } from '../../../analytics/index.ts'
import { signIdentityToken } from '../identity-token.ts'
import { processEvent } from './pipeline.ts'
import type { RequestFacts } from './types.ts'

const SECRET = 'identity_secret_for_tests_0123456789abcdef'
const NOW = Date.parse('2026-12-06T10:00:00Z')
const writeKey = programKey({
  program: 'p1',
  kind: 'write',
  id: 'web',
  key: 'pk_identity_test',
  origins: ['http://localhost:*'],
  channel: 'web',
  identitySecret: SECRET,
})
const backend = programKey({ program: 'p1', kind: 'secret', id: 'be', key: 'sk_identity_test', origins: [], channel: 'server', identitySecret: SECRET })
const facts = (key = writeKey): RequestFacts => ({ key, receivedAt: NOW, userAgent: '', ip: '' })
const token = (patient: string, over: { program?: string; expires?: number; secret?: string } = {}) =>
  signIdentityToken({ program: over.program ?? 'p1', patient, expires: over.expires ?? Math.floor(NOW / 1000) + 3600 }, over.secret ?? SECRET, NOW - 10_000)
const row = (r: ReturnType<typeof processEvent>): EventRow => {
  if ('drop' in r) throw new Error(`dropped: ${r.message}`)
  return r.row
}

describe('identity step', () => {
  it('keeps a write key’s userId only with a valid identity token for it', () => {
    const proven = row(processEvent({ type: 'identify', userId: 'p-7', anonymousId: 'a-1', context: { identityToken: token('p-7') } }, facts(), ''))
    expect(proven).toMatchObject({ user_id: 'p-7', anonymous_id: 'browser:a-1', claimed_user_id: '', identity_status: 'verified' })
    expect(proven.context).not.toContain('identityToken')
  })

  it('keeps a claim without proof as analytics of the anonymous id, saying why', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'missing'],
      [{ identityToken: token('p-8') }, 'user_mismatch'],
      [{ identityToken: token('p-7', { secret: 'another_secret_of_at_least_32_chars__' }) }, 'bad_signature'],
      [{ identityToken: token('p-7', { program: 'p2' }) }, 'unknown_program'],
      [{ identityToken: token('p-7', { expires: Math.floor(NOW / 1000) - 1 }) }, 'expired'],
      [{ identityToken: 'not-a-token' }, 'malformed'],
    ]
    for (const [context, status] of cases) {
      const r = row(processEvent({ type: 'track', event: 'goal_reached', userId: 'p-7', anonymousId: 'a-2', context, properties: { goal: 'x' } }, facts(), ''))
      expect(r, status).toMatchObject({ user_id: '', anonymous_id: 'browser:a-2', claimed_user_id: 'p-7', identity_status: status })
      expect(r.context).not.toContain('identityToken')
    }
  })

  it('keeps a browser’s anonymous id in its own namespace, so it can never be a patient’s id', () => {
    // The reported attack: the write key names the patient's id as its anonymous id.
    const r = row(processEvent({ type: 'track', event: 'consent_updated', anonymousId: 'p-7', properties: { consent: { web: false } } }, facts(), ''))
    expect(r).toMatchObject({ user_id: '', anonymous_id: 'browser:p-7' })
    // A proven patient cannot link another patient's id as their browser either.
    const linked = row(processEvent({ type: 'identify', userId: 'p-7', anonymousId: 'p-8', context: { identityToken: token('p-7') } }, facts(), ''))
    expect(linked).toMatchObject({ user_id: 'p-7', anonymous_id: 'browser:p-8' })
    // And no user id may take the namespace.
    expect(processEvent({ type: 'identify', userId: 'browser:x' }, facts(backend), '')).toMatchObject({ drop: 'invalid_schema', field: 'userId' })
  })

  it('refuses a claim with neither proof nor an anonymous id, and alias and group from a write key', () => {
    expect(processEvent({ type: 'track', event: 'x', userId: 'p-7' }, facts(), 'batch[0]')).toMatchObject({
      drop: 'identity_unproven',
      step: 'identity',
      field: 'batch[0].userId',
    })
    expect(processEvent({ type: 'alias', userId: 'p-7', previousId: 'a-3', context: { identityToken: token('p-7') } }, facts(), '')).toMatchObject({
      drop: 'not_allowed',
      field: 'type',
    })
    expect(processEvent({ type: 'group', anonymousId: 'a-3', groupId: 'clinic-1' }, facts(), '')).toMatchObject({ drop: 'not_allowed', field: 'type' })
  })

  it('lets a vendor’s channel key name its patient only: no alias, group or anonymous id beside the patient', () => {
    const print = programKey({ program: 'p1', kind: 'secret', id: 'print', key: 'sk_identity_print', origins: [], channel: 'print' })
    expect(processEvent({ type: 'alias', userId: 'p-7', previousId: 'browser:a-9' }, facts(print), '')).toMatchObject({ drop: 'not_allowed', field: 'type' })
    expect(processEvent({ type: 'identify', userId: 'p-7', anonymousId: 'browser:a-9' }, facts(print), '')).toMatchObject({
      drop: 'not_allowed',
      field: 'anonymousId',
    })
    expect(row(processEvent({ type: 'track', event: 'print_delivered', userId: 'p-7' }, facts(print), '')).user_id).toBe('p-7')
  })

  it('trusts a backend’s ids, and never stores a token it was sent', () => {
    const r = row(processEvent({ type: 'alias', userId: 'p-7', previousId: 'a-4', context: { identityToken: token('p-9') } }, facts(backend), ''))
    expect(r).toMatchObject({ user_id: 'p-7', previous_id: 'a-4', identity_status: '', claimed_user_id: '' })
    expect(r.context).not.toContain('identityToken')
  })

  it('leaves a proven patient to a click token of another patient as it was (user_mismatch), and lets a click token prove an unproven claim', async () => {
    const { signClickToken } = await import('../click-token.ts')
    const linkKey = programKey({ ...writeKey, key: 'pk_identity_test', linkSecret: 'link_secret_for_tests_0123456789abcdef' })
    const click = signClickToken(
      { program: 'p1', patient: 'p-5', message: 'm', campaign: 'c', channel: 'email', expires: Math.floor(NOW / 1000) + 3600 },
      'link_secret_for_tests_0123456789abcdef',
      NOW,
    )
    const claimed = row(
      processEvent({ type: 'track', event: 'email_click', userId: 'p-7', anonymousId: 'a-5', properties: { token: click } }, facts(linkKey), ''),
    )
    expect(claimed).toMatchObject({ user_id: 'p-5', claimed_user_id: 'p-7' })
    expect(JSON.parse(claimed.properties)).toMatchObject({ token_status: 'verified' })
  })
})
