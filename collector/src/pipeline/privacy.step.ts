import { classifyKey, CONTACT_HINT, maskContacts, SCRUB_REASONS, type ScrubReason } from './personal-data.ts'
import type { Draft, RequestFacts } from './types.ts'

// Context keys that are no contact detail there: Segment's context names things (library, app,
// campaign, device, os `name`), and the patient's address a backend forwards is reduced to a
// prefix by the ip step. Context traits are scrubbed as traits.
const CONTEXT_KEPT = new Set(['ip', 'name'])

/**
 * Removes personal-data keys (Attune's list, `PERSONAL_DATA_KEYS`, and the program's own) and
 * masks e-mail addresses and phone numbers (international, 00-prefixed and national formats) in
 * every string, counting each by reason. A key holding only yes or no (`consent: {email: true}`)
 * holds no contact detail and stays.
 */
class Scrubber {
  readonly counts: Record<ScrubReason, number> = { personal_data_key: 0, email: 0, phone: 0 }
  constructor(
    readonly extra: ReadonlySet<string> | null,
    /** Keys kept even though the list names them (`name` of a page or screen view). */
    readonly keep: ReadonlySet<string>,
    /** False when the request's text can hold no e-mail address or phone number: only keys are removed. */
    readonly mask: boolean,
  ) {}

  personal(key: string): boolean {
    const { normalised, personal } = classifyKey(key)
    return !this.keep.has(normalised) && (personal || (this.extra?.has(normalised) ?? false))
  }

  text(s: string): string {
    if (!this.mask || !CONTACT_HINT.test(s)) return s
    const m = maskContacts(s)
    this.counts.email += m.emails
    this.counts.phone += m.phones
    return m.text
  }

  // Nesting is bounded (32 levels, checked in the validate step), so recursion is safe here.
  value(v: unknown): unknown {
    if (typeof v === 'string') return this.text(v)
    if (Array.isArray(v)) return v.map((x) => this.value(x))
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== 'boolean' && x !== null && this.personal(k)) {
          this.counts.personal_data_key++
          continue
        }
        out[k] = this.value(x)
      }
      return out
    }
    return v
  }
}

const NO_KEEP: ReadonlySet<string> = new Set()
const VIEW_NAME: ReadonlySet<string> = new Set(['name'])

/** Step 2: personal data removed or masked from traits, properties, the view name and context; counted by reason on the draft. */
export function privacyStep(d: Draft, facts: RequestFacts): Draft {
  const m = d.msg as { type: string; traits?: Record<string, unknown>; properties?: Record<string, unknown>; name?: string }
  const extra = facts.key.catalogue?.personalDataKeys
  const extraSet = extra?.length ? new Set(extra) : null
  const mask = facts.mayContainContact !== false
  const all = new Scrubber(extraSet, NO_KEEP, mask)
  // A page or screen view's `name` (and `properties.name`, where Segment's libraries copy it) names the view.
  const props = m.type === 'page' || m.type === 'screen' ? new Scrubber(extraSet, VIEW_NAME, mask) : all
  if (m.traits) d.row.traits = JSON.stringify(all.value(m.traits))
  const traits = d.context.traits && typeof d.context.traits === 'object' ? all.value(d.context.traits) : undefined
  // The message itself is cleaned: later steps copy url, path and title into their own columns.
  if (m.properties) {
    m.properties = props.value(m.properties) as Record<string, unknown>
    d.row.properties = JSON.stringify(m.properties)
  }
  if (typeof m.name === 'string') m.name = all.text(m.name)
  // The identity token is read (and dropped) by the identity step; masking must not bend it.
  const token = d.context.identityToken
  const ctx = new Scrubber(extraSet, CONTEXT_KEPT, mask)
  d.context = ctx.value(d.context) as Record<string, unknown>
  if (traits !== undefined) d.context.traits = traits
  if (token !== undefined) d.context.identityToken = token
  const scrubbed = d.scrubbed
  for (const s of new Set([all, props, ctx])) for (const r of SCRUB_REASONS) scrubbed[r] += s.counts[r]
  return d
}
