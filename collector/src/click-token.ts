import { CLICK_CHANNELS, DAY_MS } from '../../analytics/index.ts'
import { z } from 'zod'
import { isPseudonymousId, pseudonymousId } from './schemas/segment.schema.ts'
import { signToken, verifyToken, type TokenFailure } from './signed-token.ts'

// The token in the `atn` parameter of e-mail and SMS links:
//   base64url(payloadJson) + "." + base64url(HMAC-SHA256(linkSecret, base64url(payloadJson)))
// The browser SDK reads the payload without verifying it (to name its event); only the
// collector, which holds the program's link secret, trusts it.

/** Longest token accepted; ASCII fields of the greatest lengths allowed below make 882 characters. */
export const MAX_CLICK_TOKEN_CHARS = 1000
/** Furthest expiry accepted, in days after the moment of verification. */
export const MAX_CLICK_TOKEN_DAYS = 180
export { CLICK_CHANNELS }

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
export type ClickTokenFailure = TokenFailure

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
const CLAIM_NAMES: Record<string, string> = { p: 'program', u: 'patient', m: 'message', c: 'campaign', ch: 'channel', exp: 'expires' }

export { safeEqual } from './signed-token.ts'

/**
 * Signs claims into a click token; throws when they would not verify (a patient id that is an
 * e-mail address, an expiry more than 180 days ahead (guarantee K3) of `nowMs`).
 *
 * @example signClickToken({ program: 'psoriasis-demo', patient: 'p-000123', message: 'msg-1', campaign: 'itch-tips', channel: 'email', expires: 1798761600 }, secret)
 */
export function signClickToken(claims: ClickClaims, secret: string, nowMs = Date.now()): string {
  if (claims.expires * 1000 > nowMs + MAX_CLICK_TOKEN_DAYS * DAY_MS) throw new Error(`click token claims: expiry more than ${MAX_CLICK_TOKEN_DAYS} days ahead`)
  const payload = { v: 1 as const, p: claims.program, u: claims.patient, m: claims.message, c: claims.campaign, ch: claims.channel, exp: claims.expires }
  try {
    return signToken(payload, payloadSchema, secret, MAX_CLICK_TOKEN_CHARS, CLAIM_NAMES)
  } catch (e) {
    throw new Error(`click token claims: ${(e as Error).message}`)
  }
}

/**
 * Verifies a click token: its shape, its program's secret (from `secretFor`), its signature
 * (compared in constant time) and its expiry against `nowMs`.
 *
 * @example verifyClickToken(url.searchParams.get('atn') ?? '', (p) => secrets.get(p), Date.now())
 */
export function verifyClickToken(token: string, secretFor: (program: string) => string | undefined, nowMs: number): ClickTokenCheck {
  const check = verifyToken(token, payloadSchema, secretFor, nowMs, { maxChars: MAX_CLICK_TOKEN_CHARS, maxDays: MAX_CLICK_TOKEN_DAYS })
  if (!check.valid) return check
  const p = check.payload
  return { valid: true, claims: { program: p.p, patient: p.u, message: p.m, campaign: p.c, channel: p.ch, expires: p.exp } }
}
