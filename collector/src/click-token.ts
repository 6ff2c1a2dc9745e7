import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { isPseudonymousId, pseudonymousId } from './schemas/segment.schema.ts'

// The token in the `atn` parameter of e-mail and SMS links:
//   base64url(payloadJson) + "." + base64url(HMAC-SHA256(linkSecret, base64url(payloadJson)))
// The browser SDK reads the payload without verifying it (to name its event); only the
// collector, which holds the program's link secret, trusts it.

/** Longest token accepted; ASCII fields of the greatest lengths allowed below make 882 characters. */
export const MAX_CLICK_TOKEN_CHARS = 1000
/** Furthest expiry accepted, in days after the moment of verification. */
export const MAX_CLICK_TOKEN_DAYS = 180
/** Channels whose links carry click tokens. */
export const CLICK_CHANNELS = ['email', 'sms'] as const

/** What a click token says: the patient, the message and campaign that carried the link, and until when. */
export interface ClickClaims {
  program: string
  /** The pseudonymous patient id. */
  patient: string
  message: string
  campaign: string
  channel: (typeof CLICK_CHANNELS)[number]
  /** Expiry as Unix seconds. */
  expires: number
}

/** Why a click token was not accepted: a closed set, stored with the event as `properties.token_status`. */
export type ClickTokenFailure = 'malformed' | 'unknown_program' | 'bad_signature' | 'expired' | 'wrong_version'

/** The outcome of verifying a click token. */
export type ClickTokenCheck = { valid: true; claims: ClickClaims } | { valid: false; failure: ClickTokenFailure }

// Message ids and campaign names are copied into stored properties after the privacy step has
// run, so they obey the same rule as patient ids: no e-mail address, no phone number.
const payloadSchema = z.strictObject({
  v: z.literal(1),
  p: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/),
  u: pseudonymousId,
  m: z.string().min(1).max(100).refine(isPseudonymousId),
  c: z.string().min(1).max(200).refine(isPseudonymousId),
  ch: z.enum(CLICK_CHANNELS),
  exp: z.number().int().positive(),
})

/** Payload fields by the claim names a sender knows them by. */
const CLAIM_NAMES: Record<string, keyof ClickClaims> = { p: 'program', u: 'patient', m: 'message', c: 'campaign', ch: 'channel', exp: 'expires' }

const BASE64URL = /^[A-Za-z0-9_-]+$/

const mac = (secret: string, payload: string): string => createHmac('sha256', secret).update(payload).digest('base64url')

/** Compares two strings in time that depends on their lengths only; strings of different lengths are unequal, never an exception. */
export function safeEqual(a: string, b: string): boolean {
  // UTF-16 code units as they are: UTF-8 would turn every lone surrogate into the same bytes.
  const x = Buffer.from(a, 'utf16le')
  const y = Buffer.from(b, 'utf16le')
  // timingSafeEqual throws on different lengths; comparing y with itself keeps the time alike.
  if (x.length !== y.length) return !timingSafeEqual(y, y)
  return timingSafeEqual(x, y)
}

/**
 * Signs claims into a click token; throws when they would not verify (a patient id that is an
 * e-mail address, an expiry more than 180 days ahead (RELIABILITY K3) of `nowMs`).
 *
 * @example signClickToken({ program: 'psoriasis-demo', patient: 'p-000123', message: 'msg-1', campaign: 'itch-tips', channel: 'email', expires: 1798761600 }, secret)
 */
export function signClickToken(claims: ClickClaims, secret: string, nowMs = Date.now()): string {
  const payload = { v: 1, p: claims.program, u: claims.patient, m: claims.message, c: claims.campaign, ch: claims.channel, exp: claims.expires }
  const parsed = payloadSchema.safeParse(payload)
  if (!parsed.success) throw new Error(`click token claims: ${parsed.error.issues.map((i) => `${CLAIM_NAMES[String(i.path[0])] ?? '(claims)'}: ${i.message}`).join('; ')}`)
  if (claims.expires * 1000 > nowMs + MAX_CLICK_TOKEN_DAYS * 86_400_000) throw new Error(`click token claims: expiry more than ${MAX_CLICK_TOKEN_DAYS} days ahead`)
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const token = `${body}.${mac(secret, body)}`
  if (token.length > MAX_CLICK_TOKEN_CHARS) throw new Error(`click token claims: the token would be longer than ${MAX_CLICK_TOKEN_CHARS} characters`)
  return token
}

const fail = (failure: ClickTokenFailure): ClickTokenCheck => ({ valid: false, failure })

/**
 * Verifies a click token: its shape, its program's secret (from `secretFor`), its signature
 * (compared in constant time) and its expiry against `nowMs`.
 *
 * @example verifyClickToken(url.searchParams.get('atn') ?? '', (p) => secrets.get(p), Date.now())
 */
export function verifyClickToken(token: string, secretFor: (program: string) => string | undefined, nowMs: number): ClickTokenCheck {
  if (typeof token !== 'string' || token.length > MAX_CLICK_TOKEN_CHARS) return fail('malformed')
  const dot = token.indexOf('.')
  const body = token.slice(0, dot)
  const signature = token.slice(dot + 1)
  if (dot < 0 || !BASE64URL.test(body) || !BASE64URL.test(signature)) return fail('malformed')
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return fail('malformed')
  }
  // Another version may have another shape and another signature: say which, not "malformed".
  if (json !== null && typeof json === 'object' && 'v' in json && json.v !== 1) return fail('wrong_version')
  const parsed = payloadSchema.safeParse(json)
  if (!parsed.success) return fail('malformed')
  const p = parsed.data
  const secret = secretFor(p.p)
  if (!secret) return fail('unknown_program')
  // The signature is compared as text: base64url decoding ignores the spare bits of the last
  // character, so comparing decoded bytes would accept a token with that character changed.
  if (!safeEqual(signature, mac(secret, body))) return fail('bad_signature')
  if (p.exp * 1000 <= nowMs) return fail('expired')
  // Signed, but no link of ours lives that long: a misconfigured sender or a leaked secret.
  if (p.exp * 1000 > nowMs + MAX_CLICK_TOKEN_DAYS * 86_400_000) return fail('malformed')
  return { valid: true, claims: { program: p.p, patient: p.u, message: p.m, campaign: p.c, channel: p.ch, expires: p.exp } }
}
