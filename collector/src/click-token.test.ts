import fc from 'fast-check'
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MAX_CLICK_TOKEN_CHARS, safeEqual, signClickToken, verifyClickToken, type ClickClaims } from './click-token.ts'

const SECRET = 'test_link_secret_0123456789abcdef0123'
const NOW = Date.parse('2026-11-23T12:00:00.000Z')
const DAY = 86_400
const claims: ClickClaims = {
  program: 'psoriasis-demo',
  patient: 'p-000123',
  message: 'msg-1',
  campaign: 'itch-tips',
  channel: 'email',
  expires: NOW / 1000 + 30 * DAY,
}
const secretFor = (program: string) => (program === 'psoriasis-demo' ? SECRET : undefined)
const verify = (token: string, now = NOW) => verifyClickToken(token, secretFor, now)

/** A token for any payload, signed as the format says (written out here, not through the module). */
function forge(payload: unknown, secret = SECRET): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}
const payload = { v: 1, p: 'psoriasis-demo', u: 'p-000123', m: 'msg-1', c: 'itch-tips', ch: 'email', exp: NOW / 1000 + 30 * DAY }

describe('click tokens', () => {
  it('round-trips the claims, in the documented format', () => {
    const token = signClickToken(claims, SECRET, NOW)
    expect(verify(token)).toEqual({ valid: true, claims })
    expect(token).toBe(forge(payload))
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    // The SDK reads the payload without the secret.
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual(payload)
    expect(verify(signClickToken({ ...claims, channel: 'sms' }, SECRET, NOW))).toMatchObject({ valid: true, claims: { channel: 'sms' } })
  })

  it('malformed: not two base64url parts, too long, not JSON, not the exact shape', () => {
    const valid = forge(payload)
    const cases: Record<string, string> = {
      empty: '',
      'no dot': valid.replace('.', ''),
      'three parts': `${valid}.x`,
      'empty signature': `${valid.split('.')[0]}.`,
      'standard base64': valid.replace(/[-_]/g, '+').replace(/^[A-Za-z0-9]/, '/'),
      padding: `${valid}=`,
      'too long': forge({ ...payload, u: 'p'.repeat(MAX_CLICK_TOKEN_CHARS) }),
      'not JSON': `${Buffer.from('{"v":1,').toString('base64url')}.${valid.split('.')[1]}`,
      array: forge([1, 'psoriasis-demo']),
      'extra field': forge({ ...payload, admin: true }),
      'missing campaign': forge({ ...payload, c: undefined }),
      'channel call': forge({ ...payload, ch: 'call' }),
      'patient an e-mail address': forge({ ...payload, u: 'anna@example.org' }),
      'patient a phone number': forge({ ...payload, u: '+49 170 1234567' }),
      'message an e-mail address': forge({ ...payload, m: 'anna@example.org' }),
      'patient a number': forge({ ...payload, u: 123 }),
      'expiry in milliseconds as a fraction': forge({ ...payload, exp: payload.exp + 0.5 }),
      'expiry more than 180 days ahead': forge({ ...payload, exp: NOW / 1000 + 181 * DAY }),
    }
    for (const [name, token] of Object.entries(cases)) expect(verify(token), name).toEqual({ valid: false, failure: 'malformed' })
    expect(cases['too long']!.length).toBeGreaterThan(MAX_CLICK_TOKEN_CHARS)
    // The longest fields allowed still make a token within the limit.
    const longest = signClickToken(
      { ...claims, program: `p${'-'.repeat(62)}`, patient: 'u'.repeat(200), message: 'm'.repeat(100), campaign: 'c'.repeat(200) },
      SECRET,
      NOW,
    )
    expect(longest.length).toBeLessThanOrEqual(MAX_CLICK_TOKEN_CHARS)
    expect(verifyClickToken(longest, () => SECRET, NOW).valid).toBe(true)
    expect(verify(forge({ ...payload, exp: NOW / 1000 + 180 * DAY })).valid).toBe(true)
  })

  it('unknown_program, bad_signature, expired, wrong_version', () => {
    expect(verify(forge({ ...payload, p: 'eczema-demo' }))).toEqual({ valid: false, failure: 'unknown_program' })
    expect(verifyClickToken(forge(payload), () => undefined, NOW)).toEqual({ valid: false, failure: 'unknown_program' })
    expect(verify(forge(payload, 'another_secret_0123456789abcdef0123'))).toEqual({ valid: false, failure: 'bad_signature' })
    // Payload of one token, signature of another.
    expect(verify(`${forge({ ...payload, u: 'p-999' }).split('.')[0]}.${forge(payload).split('.')[1]}`)).toEqual({ valid: false, failure: 'bad_signature' })
    expect(verify(forge({ ...payload, exp: NOW / 1000 }))).toEqual({ valid: false, failure: 'expired' })
    expect(verify(forge(payload), (payload.exp + 1) * 1000)).toEqual({ valid: false, failure: 'expired' })
    expect(verify(forge({ ...payload, v: 2 }))).toEqual({ valid: false, failure: 'wrong_version' })
    expect(verify(forge({ v: 2, something: 'else' }))).toEqual({ valid: false, failure: 'wrong_version' })
    // A forged token is refused for its signature before its expiry is looked at.
    expect(verify(forge({ ...payload, exp: NOW / 1000 - DAY }, 'another_secret_0123456789abcdef0123'))).toEqual({ valid: false, failure: 'bad_signature' })
  })

  it('fails for any single-character change of a valid token', () => {
    const token = signClickToken(claims, SECRET, NOW)
    const anyChar = fc.oneof(
      fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %'),
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    )
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), anyChar, (i, c) => {
        fc.pre(token[i] !== c)
        expect(verify(token.slice(0, i) + c + token.slice(i + 1)).valid).toBe(false)
      }),
      { numRuns: 5000 },
    )
    // The last character of a base64url signature has spare bits that decoding ignores: every
    // other character there must still fail.
    for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
      if (c !== token.at(-1)) expect(verify(token.slice(0, -1) + c).valid, c).toBe(false)
    }
  })

  it('refuses to sign claims that would not verify', () => {
    expect(() => signClickToken({ ...claims, patient: 'anna@example.org' }, SECRET, NOW)).toThrow(/patient: must be a pseudonymous id/)
    expect(() => signClickToken({ ...claims, channel: 'call' as 'sms' }, SECRET, NOW)).toThrow(/channel/)
    expect(() => signClickToken({ ...claims, expires: NOW / 1000 + 181 * DAY }, SECRET, NOW)).toThrow(/more than 180 days/)
  })
})

describe('safeEqual', () => {
  it('compares without throwing on different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
    expect(safeEqual('', 'a')).toBe(false)
    expect(safeEqual('', '')).toBe(true)
    // Same number of characters, different bytes.
    expect(safeEqual('é', 'e')).toBe(false)
    expect(safeEqual('\ud800', '\udc00')).toBe(false)
    // Any UTF-16 code units, lone surrogates included.
    const units = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 8 }).map((c) => String.fromCharCode(...c))
    fc.assert(
      fc.property(units, units, (a, b) => {
        expect(safeEqual(a, b)).toBe(a === b)
      }),
    )
  })
})
