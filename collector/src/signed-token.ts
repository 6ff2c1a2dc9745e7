import { createHmac, timingSafeEqual } from 'node:crypto'
import type { z } from 'zod'
import { DAY_MS } from '../../analytics/index.ts'

// Attune's signed tokens (click tokens in links, identity tokens from a site's backend,
// questionnaire tickets) share one form:
//   base64url(payloadJson) + "." + base64url(HMAC-SHA256(secret, base64url(payloadJson)))
// with a payload naming its version `v`, its program `p` and its expiry `exp` (Unix seconds).

/** Why a signed token was not accepted: a closed set, stored or answered as the reason. */
export type TokenFailure = 'malformed' | 'unknown_program' | 'bad_signature' | 'expired' | 'wrong_version'

/** The outcome of verifying a signed token. */
export type TokenCheck<T> = { valid: true; payload: T } | { valid: false; failure: TokenFailure }

/** What every signed payload carries. */
export interface SignedPayload {
  v: 1
  p: string
  exp: number
}

const BASE64URL = /^[A-Za-z0-9_-]+$/

/** HMAC-SHA256 of a token's payload part, base64url. */
export const mac = (secret: string, payload: string): string => createHmac('sha256', secret).update(payload).digest('base64url')

/** Compares two strings in time that depends on their lengths only; strings of different lengths are unequal, never an exception. */
export function safeEqual(a: string, b: string): boolean {
  // UTF-16 code units as they are: UTF-8 would turn every lone surrogate into the same bytes.
  const x = Buffer.from(a, 'utf16le')
  const y = Buffer.from(b, 'utf16le')
  // timingSafeEqual throws on different lengths; comparing y with itself keeps the time alike.
  if (x.length !== y.length) return !timingSafeEqual(y, y)
  return timingSafeEqual(x, y)
}

/** Signs a payload that `schema` accepts; throws naming the first field at fault otherwise, or when the token would be over `maxChars`. */
export function signToken<T extends SignedPayload>(
  payload: T,
  schema: z.ZodType<T>,
  secret: string,
  maxChars: number,
  names: Record<string, string> = {},
): string {
  const parsed = schema.safeParse(payload)
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${names[String(i.path[0])] ?? String(i.path[0] ?? '(payload)')}: ${i.message}`).join('; '))
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const token = `${body}.${mac(secret, body)}`
  if (token.length > maxChars) throw new Error(`the token would be longer than ${maxChars} characters`)
  return token
}

const fail = <T>(failure: TokenFailure): TokenCheck<T> => ({ valid: false, failure })

/**
 * Verifies a signed token: its length and shape, its program's secret (from `secretFor`), its
 * signature (compared in constant time), its expiry against `nowMs`, and an expiry no further
 * ahead than `maxDays` (no token of ours lives that long: a misconfigured signer or a leaked secret).
 */
export function verifyToken<T extends SignedPayload>(
  token: unknown,
  schema: z.ZodType<T>,
  secretFor: (program: string) => string | undefined,
  nowMs: number,
  limits: { maxChars: number; maxDays: number },
): TokenCheck<T> {
  if (typeof token !== 'string' || token.length > limits.maxChars) return fail('malformed')
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
  const parsed = schema.safeParse(json)
  if (!parsed.success) return fail('malformed')
  const p = parsed.data
  const secret = secretFor(p.p)
  if (!secret) return fail('unknown_program')
  // The signature is compared as text: base64url decoding ignores the spare bits of the last
  // character, so comparing decoded bytes would accept a token with that character changed.
  if (!safeEqual(signature, mac(secret, body))) return fail('bad_signature')
  if (p.exp * 1000 <= nowMs) return fail('expired')
  if (p.exp * 1000 > nowMs + limits.maxDays * DAY_MS) return fail('malformed')
  return { valid: true, payload: p }
}
