import type { Draft, RequestFacts } from './types.ts'

// Contact details never enter events (DESIGN: they live in their own encrypted table).
// Trait and property keys that name them are removed; e-mail addresses anywhere are masked.
const CONTACT_KEYS = new Set(['email', 'e-mail', 'mail', 'phone', 'phonenumber', 'phone_number', 'mobile', 'tel', 'telephone', 'fax', 'address', 'street', 'postalcode', 'postal_code', 'zip', 'firstname', 'first_name', 'lastname', 'last_name', 'name', 'fullname', 'full_name', 'birthday', 'dateofbirth', 'date_of_birth', 'ip'])
// The look-behind starts a match only where a local part can start: without it a 30 KB run of
// local-part characters without an `@` costs about 1 s (quadratic backtracking), 20 s a body.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g
const EMAIL_TEST = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/

/** Counts what the privacy step removed since start. */
export const privacyCounters = { removedKeys: 0, maskedValues: 0 }

function scrub(value: unknown, dropContactKeys: boolean): unknown {
  if (typeof value === 'string') {
    if (!EMAIL_TEST.test(value)) return value
    privacyCounters.maskedValues++
    return value.replace(EMAIL, '[redacted]')
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, dropContactKeys))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (dropContactKeys && CONTACT_KEYS.has(k.toLowerCase())) {
        privacyCounters.removedKeys++
        continue
      }
      out[k] = scrub(v, dropContactKeys)
    }
    return out
  }
  return value
}

/** Step 2: traits lose contact details; e-mail addresses in properties and context are masked. */
export function privacyStep(d: Draft, facts: RequestFacts): Draft {
  const m = d.msg as { traits?: Record<string, unknown>; properties?: Record<string, unknown>; name?: string }
  if (m.traits) d.row.traits = JSON.stringify(scrub(m.traits, true))
  if (d.context.traits && typeof d.context.traits === 'object') d.context.traits = scrub(d.context.traits, true)
  if (facts.mayContainEmail === false) {
    // No `@` anywhere in the request: nothing to mask, only contact keys to drop (done above).
    if (m.properties) d.row.properties = JSON.stringify(m.properties)
    return d
  }
  if (m.properties) {
    const text = JSON.stringify(m.properties)
    // The message itself is masked: later steps copy url, path and title into their own columns.
    if (text.includes('@') && EMAIL_TEST.test(text)) {
      m.properties = scrub(m.properties, false) as Record<string, unknown>
      d.row.properties = JSON.stringify(m.properties)
    } else d.row.properties = text
  }
  if (typeof m.name === 'string') m.name = scrub(m.name, false) as string
  const ctx = JSON.stringify(d.context)
  if (ctx.includes('@') && EMAIL_TEST.test(ctx)) d.context = scrub(d.context, false) as Record<string, unknown>
  return d
}
