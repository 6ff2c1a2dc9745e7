import { createHmac } from 'node:crypto'
import { z } from 'zod'
import { pseudonymousId } from './schemas/segment.schema.ts'
import { signToken, verifyToken, type TokenCheck } from './signed-token.ts'
import { DAY_MS } from '../../analytics/index.ts'

// Identity tokens: what makes a browser a patient. The site's own backend, which knows who
// logged in, signs the patient id and an expiry with the program's identitySecret (like the
// signed-identify schemes of Intercom or Customer.io); the page hands the token to the SDK
// (`attune('identify', id, {token})`), which sends it with every message. A write-key message
// that names a userId without a valid token for that id stays anonymous analytics.
//   token = base64url({"v":1,"p":program,"u":patientId,"exp":unixSeconds}) + "." + base64url(HMAC-SHA256(identitySecret, that first part))

/** Longest identity token accepted. */
export const MAX_IDENTITY_TOKEN_CHARS = 600
/**
 * Furthest expiry accepted, in days: a logged-in page signs a fresh token on each load, so a token
 * need not live long, and one copied off a device (it is kept there) is worth a day at most.
 */
export const MAX_IDENTITY_TOKEN_DAYS = 1

const identitySchema = z.strictObject({
  v: z.literal(1),
  p: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/),
  u: pseudonymousId,
  exp: z.number().int().positive(),
})

/** Who an identity token names, and until when. */
export interface IdentityClaims {
  program: string
  patient: string
  /** Expiry as Unix seconds. */
  expires: number
}

/**
 * Signs an identity token: what a site's backend does when a patient logs in. Throws when the
 * claims would not verify (an id that is an e-mail address or phone number, an expiry more than
 * {@link MAX_IDENTITY_TOKEN_DAYS} days ahead).
 *
 * @example signIdentityToken({ program: 'psoriasis-demo', patient: 'p-000123', expires: Math.floor(Date.now() / 1000) + 86_400 }, process.env.PSORIASIS_IDENTITY_SECRET!)
 */
export function signIdentityToken(claims: IdentityClaims, secret: string, nowMs = Date.now()): string {
  if (claims.expires * 1000 > nowMs + MAX_IDENTITY_TOKEN_DAYS * DAY_MS)
    throw new Error(`identity token: expiry more than ${MAX_IDENTITY_TOKEN_DAYS} days ahead`)
  try {
    return signToken({ v: 1, p: claims.program, u: claims.patient, exp: claims.expires }, identitySchema, secret, MAX_IDENTITY_TOKEN_CHARS, {
      p: 'program',
      u: 'patient',
      exp: 'expires',
    })
  } catch (e) {
    throw new Error(`identity token: ${(e as Error).message}`)
  }
}

/** Verifies an identity token against its program's identity secret (from `secretFor`). */
export function verifyIdentityToken(token: unknown, secretFor: (program: string) => string | undefined, nowMs: number): TokenCheck<IdentityClaims> {
  const check = verifyToken(token, identitySchema, secretFor, nowMs, { maxChars: MAX_IDENTITY_TOKEN_CHARS, maxDays: MAX_IDENTITY_TOKEN_DAYS })
  return check.valid ? { valid: true, payload: { program: check.payload.p, patient: check.payload.u, expires: check.payload.exp } } : check
}

// Questionnaire tickets: a questionnaire above level 0 is served to a browser only when its
// level unlocks it, with a ticket naming the questionnaire and the browser; the browser's answers
// count only with that ticket. Signed with a key derived from the identity secret, so a ticket
// can never pass as an identity token.

/** How long a questionnaire ticket is valid: a questionnaire is answered in one visit. */
export const QUESTIONNAIRE_TICKET_DAYS = 1

const ticketSchema = z.strictObject({
  v: z.literal(1),
  p: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/),
  q: z.string().min(1).max(100),
  a: z.string().min(1).max(200),
  exp: z.number().int().positive(),
})

const ticketKey = (identitySecret: string): string => createHmac('sha256', identitySecret).update('attune questionnaire ticket v1').digest('base64url')

/** A ticket for one browser (`anonymousId`) to answer one questionnaire, valid for a day. */
export function signQuestionnaireTicket(
  t: { program: string; questionnaire: string; anonymousId: string },
  identitySecret: string,
  nowMs = Date.now(),
): string {
  return signToken(
    { v: 1, p: t.program, q: t.questionnaire, a: t.anonymousId, exp: Math.floor(nowMs / 1000) + QUESTIONNAIRE_TICKET_DAYS * 86_400 },
    ticketSchema,
    ticketKey(identitySecret),
    1000,
  )
}

/** Whether a ticket lets this browser answer this questionnaire of the program now. */
export function questionnaireTicketValid(
  ticket: unknown,
  t: { program: string; questionnaire: string; anonymousId: string },
  identitySecret: string | undefined,
  nowMs: number,
): boolean {
  if (!identitySecret) return false
  const check = verifyToken(ticket, ticketSchema, (p) => (p === t.program ? ticketKey(identitySecret) : undefined), nowMs, {
    maxChars: 1000,
    maxDays: QUESTIONNAIRE_TICKET_DAYS + 1,
  })
  return check.valid && check.payload.q === t.questionnaire && check.payload.a === t.anonymousId
}
