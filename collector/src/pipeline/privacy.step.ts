import type { Draft, RequestFacts } from './types.ts'

// Contact details never enter events (DESIGN: they live in their own encrypted table, P8).
// Keys that name them are removed (from traits all of these; from properties and context all
// but `name`, which names pages and screens); e-mail addresses and phone numbers in any value
// are masked.
const CONTACT_KEYS = new Set(['email', 'e-mail', 'mail', 'phone', 'phonenumber', 'phone_number', 'mobile', 'tel', 'telephone', 'fax', 'address', 'street', 'postalcode', 'postal_code', 'zip', 'firstname', 'first_name', 'lastname', 'last_name', 'name', 'fullname', 'full_name', 'birthday', 'dateofbirth', 'date_of_birth', 'ip'])
const PROPERTY_CONTACT_KEYS = new Set([...CONTACT_KEYS].filter((k) => k !== 'name'))
// context.ip is the patient's address forwarded by a backend: the ip step reduces it to a prefix.
const CONTEXT_CONTACT_KEYS = new Set([...PROPERTY_CONTACT_KEYS].filter((k) => k !== 'ip'))
// The look-behind starts a match only where a local part can start: without it a 30 KB run of
// local-part characters without an `@` costs about 1 s (quadratic backtracking), 20 s a body.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
// International numbers (+49 170 1234567, +1 (555) 010-0199); a time zone offset (+01:00) is not one.
const PHONE = /\+\d[\d ()./-]{6,}\d/g
const CONTACT_TEST = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\+\d[\d ()./-]{6,}\d/

function mask(text: string): string {
  return text.replace(EMAIL, '[redacted]').replace(PHONE, '[redacted]')
}

function scrub(value: unknown, dropKeys: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return CONTACT_TEST.test(value) ? mask(value) : value
  if (Array.isArray(value)) return value.map((v) => scrub(v, dropKeys))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    // A contact key with a yes/no value holds no contact detail (`consent: {email: true}`): it stays.
    for (const [k, v] of Object.entries(value)) if (typeof v === 'boolean' || v === null || !dropKeys.has(k.toLowerCase())) out[k] = scrub(v, dropKeys)
    return out
  }
  return value
}

function hasContactKey(value: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const k of Object.keys(value)) if (keys.has(k.toLowerCase())) return true
  return false
}

/** Step 2: contact-detail keys are removed and e-mail addresses and phone numbers masked, in traits, properties, the page name and context. */
export function privacyStep(d: Draft, facts: RequestFacts): Draft {
  const m = d.msg as { traits?: Record<string, unknown>; properties?: Record<string, unknown>; name?: string }
  if (m.traits) d.row.traits = JSON.stringify(scrub(m.traits, CONTACT_KEYS))
  if (d.context.traits && typeof d.context.traits === 'object') d.context.traits = scrub(d.context.traits, CONTACT_KEYS)
  // The message itself is cleaned: later steps copy url, path and title into their own columns.
  if (m.properties) {
    if (facts.mayContainContact !== false || hasContactKey(m.properties, PROPERTY_CONTACT_KEYS)) m.properties = scrub(m.properties, PROPERTY_CONTACT_KEYS) as Record<string, unknown>
    d.row.properties = JSON.stringify(m.properties)
  }
  if (facts.mayContainContact === false) return d
  if (typeof m.name === 'string') m.name = scrub(m.name, PROPERTY_CONTACT_KEYS) as string
  // The identity token is read (and dropped) by the identity step; masking must not bend it.
  const token = d.context.identityToken
  d.context = scrub(d.context, CONTEXT_CONTACT_KEYS) as Record<string, unknown>
  if (token !== undefined) d.context.identityToken = token
  return d
}
