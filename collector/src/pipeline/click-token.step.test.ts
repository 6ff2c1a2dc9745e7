import { describe, expect, it } from 'vitest'
import { programKey, type ProgramKey } from '../../../analytics/index.ts'
import { signClickToken, type ClickClaims } from '../click-token.ts'
import { processEvent, type Accepted } from './pipeline.ts'
import type { Drop, RequestFacts } from './types.ts'

const SECRET = 'test_link_secret_0123456789abcdef0123'
const writeKey: ProgramKey = programKey({
  program: 'p1',
  kind: 'write',
  id: 'web',
  key: 'pk_x',
  origins: ['http://localhost:*'],
  channel: 'web',
  linkSecret: SECRET,
})
const backendKey: ProgramKey = programKey({ program: 'p1', kind: 'secret', id: 'be', key: 'sk_x', origins: [], channel: 'server', linkSecret: SECRET })
const NOW = Date.parse('2026-11-23T12:00:00.000Z')
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({ key: writeKey, receivedAt: NOW, userAgent: CHROME, ip: '198.51.100.23', ...over })
const accepted = (r: Accepted | Drop): Accepted['row'] => {
  if ('drop' in r) throw new Error(`dropped: ${r.drop} ${r.field} ${r.message}`)
  return r.row
}
const claims: ClickClaims = { program: 'p1', patient: 'p-000123', message: 'msg-1', campaign: 'itch-tips', channel: 'email', expires: NOW / 1000 + 30 * 86_400 }
const token = (over: Partial<ClickClaims> = {}, secret = SECRET) => signClickToken({ ...claims, ...over }, secret, NOW)
const click = (tok: unknown, over: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'email_click',
  anonymousId: 'anon-1',
  properties: { token: tok, url: 'https://care.example/itch' },
  ...over,
})
const props = (row: Accepted['row']) => JSON.parse(row.properties) as Record<string, unknown>

describe('click token step', () => {
  it('links the browser to the token’s patient and records message and campaign; the token is not stored', () => {
    const t = token()
    const row = accepted(processEvent(click(t), facts(), ''))
    expect(row).toMatchObject({
      user_id: 'p-000123',
      anonymous_id: 'browser:anon-1',
      channel: 'email',
      utm_campaign: 'itch-tips',
      page_url: 'https://care.example/itch',
    })
    expect(props(row)).toEqual({ url: 'https://care.example/itch', attune_message: 'msg-1', attune_campaign: 'itch-tips', token_status: 'verified' })
    expect(JSON.stringify(row)).not.toContain(t)
    // The row's message id is the event's own.
    expect(row.message_id).not.toBe('msg-1')
  })

  it('takes the token’s channel over the event name’s, and keeps a campaign the event has', () => {
    const row = accepted(processEvent(click(token({ channel: 'sms' }), { context: { campaign: { name: 'winter' } } }), facts(), ''))
    expect(row).toMatchObject({ channel: 'sms', utm_campaign: 'winter', user_id: 'p-000123' })
    const sms = accepted(processEvent(click(token({ channel: 'sms' }), { event: 'sms_click' }), facts({ key: backendKey }), ''))
    expect(sms).toMatchObject({ channel: 'sms', user_id: 'p-000123' })
  })

  it('keeps the click but links nothing for an invalid token, and says why', () => {
    const t = token()
    const cases: Array<[string, unknown, RequestFacts, string]> = [
      ['tampered', `${t.slice(0, -2)}${t.at(-2) === 'A' ? 'B' : 'A'}${t.at(-1)}`, facts(), 'bad_signature'],
      ['another secret', token({}, 'another_secret_0123456789abcdef0123'), facts(), 'bad_signature'],
      ['expired', t, facts({ receivedAt: (claims.expires + 1) * 1000 }), 'expired'],
      ['another program', token({ program: 'p2' }), facts(), 'unknown_program'],
      ['no link secret', t, facts({ key: { ...writeKey, linkSecret: undefined } }), 'unknown_program'],
      ['not text', 42, facts(), 'malformed'],
      ['garbage', 'not-a-token', facts(), 'malformed'],
    ]
    for (const [name, tok, f, status] of cases) {
      const row = accepted(processEvent(click(tok), f, ''))
      expect({ user_id: row.user_id, channel: row.channel, utm_campaign: row.utm_campaign }, name).toEqual({ user_id: '', channel: 'email', utm_campaign: '' })
      expect(props(row), name).toEqual({ url: 'https://care.example/itch', token_status: status })
    }
  })

  it('keeps the event’s own (proven) userId when the token names another patient', () => {
    // A backend's user id is proven; a browser's needs an identity token (see the identity step).
    const other = accepted(processEvent(click(token(), { userId: 'p-999' }), facts({ key: backendKey }), ''))
    expect(other.user_id).toBe('p-999')
    expect(props(other).token_status).toBe('user_mismatch')
    const same = accepted(processEvent(click(token(), { userId: 'p-000123' }), facts(), ''))
    expect(same.user_id).toBe('p-000123')
    expect(props(same).token_status).toBe('verified')
  })

  it('removes the token from the click’s URLs too', () => {
    const t = token()
    const url = `https://care.example/itch?utm_source=newsletter&atn=${t}`
    const row = accepted(processEvent(click(t, { properties: { token: t, url }, context: { page: { url, referrer: url } } }), facts(), ''))
    expect(row.page_url).toBe('https://care.example/itch?utm_source=newsletter')
    expect(JSON.stringify(row)).not.toContain(t)
    expect(JSON.stringify(row)).not.toContain('atn=')
  })

  it('leaves other events and clicks without a token alone', () => {
    const plain = accepted(processEvent(click(undefined, { properties: { url: 'https://care.example/itch' } }), facts(), ''))
    expect(plain.user_id).toBe('')
    expect(props(plain)).toEqual({ url: 'https://care.example/itch' })
    const other = accepted(processEvent({ type: 'track', event: 'diary_downloaded', anonymousId: 'a', properties: { token: token() } }, facts(), ''))
    expect(other.user_id).toBe('')
    expect(props(other)).toHaveProperty('token')
    const page = accepted(processEvent({ type: 'page', name: 'email_click', anonymousId: 'a', properties: { token: token() } }, facts(), ''))
    expect(page.user_id).toBe('')
  })
})
