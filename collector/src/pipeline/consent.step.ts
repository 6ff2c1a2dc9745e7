import type { Draft, Drop, RequestFacts } from './types.ts'

/** What consent can be given for: each outbound channel, personalised web content, and analytics. */
export const CONSENT_SCOPES = ['analytics', 'web', 'email', 'sms', 'call', 'print', 'app'] as const
/** The scopes a browser's write key may set: the site's own consent banner covers no more. */
const BROWSER_SCOPES = new Set<string>(['analytics', 'web'])
const SCOPES = new Set<string>(CONSENT_SCOPES)

/**
 * Step: a `consent_updated` event carries `properties.consent`, an object of scope → true/false,
 * which the consent model stores as each scope's latest record. A malformed one is refused naming
 * the field, since a consent record silently misread would contact someone who said no. Consent
 * for e-mail, SMS, calls, print or the app comes from a backend holding the legal record (secret
 * key); a write key may set only analytics and web personalisation.
 */
export function consentStep(d: Draft, facts: RequestFacts): Draft | Drop {
  if (d.row.event !== 'consent_updated') return d
  const consent = (d.msg as { properties?: Record<string, unknown> }).properties?.consent
  const drop = (field: string, message: string): Drop => ({ drop: 'invalid_schema', step: 'consent', field, message })
  if (!consent || typeof consent !== 'object' || Array.isArray(consent)) return drop('properties.consent', 'must be an object of scope → true/false, e.g. {"email": true, "sms": false}')
  const entries = Object.entries(consent)
  if (entries.length === 0) return drop('properties.consent', 'names no scope')
  for (const [scope, granted] of entries) {
    if (!SCOPES.has(scope)) return drop(`properties.consent.${scope.slice(0, 50)}`, `is not a consent scope; scopes are ${CONSENT_SCOPES.join(', ')}`)
    if (typeof granted !== 'boolean') return drop(`properties.consent.${scope}`, 'must be true or false')
    if (facts.key.kind === 'write' && !BROWSER_SCOPES.has(scope)) return drop(`properties.consent.${scope}`, 'a write key sets only analytics and web consent; channel consent comes from a backend with the secret key')
  }
  if (d.row.user_id === '' && d.row.anonymous_id === '') return drop('userId', 'consent needs the person it is for')
  return d
}
