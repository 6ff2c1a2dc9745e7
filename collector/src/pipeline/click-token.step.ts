import { verifyClickToken, type ClickTokenFailure } from '../click-token.ts'
import type { Draft, RequestFacts } from './types.ts'

/** Events the SDK sends on landing from a link, with the link's `atn` as `properties.token`. */
const CLICK_EVENTS = new Set(['email_click', 'sms_click'])

/** What became of an event's click token, stored as `properties.token_status`. */
export type TokenStatus = 'verified' | 'user_mismatch' | ClickTokenFailure

/** A URL without the click token: the token's content is stored in its own fields instead. */
function withoutToken(url: string): string {
  if (!url.includes('atn=')) return url
  try {
    const u = new URL(url)
    u.searchParams.delete('atn')
    return u.toString()
  } catch {
    return url
  }
}

function stripTokenFromUrls(holder: Record<string, unknown>): void {
  if (typeof holder.url === 'string') holder.url = withoutToken(holder.url)
  if (typeof holder.referrer === 'string') holder.referrer = withoutToken(holder.referrer)
}

/**
 * Step 9: an `email_click` or `sms_click` whose token is valid for the key's program links the
 * browser to the patient (`user_id`), takes the token's channel, and records its message and
 * campaign (`properties.attune_message`, `attune_campaign`; `utm_campaign` when the event has
 * none). Any other token leaves the ids alone and is recorded as `properties.token_status`.
 * The token itself is never stored.
 */
export function clickTokenStep(d: Draft, facts: RequestFacts): Draft {
  if (d.msg.type !== 'track' || !CLICK_EVENTS.has(d.row.event)) return d
  const token = d.msg.properties?.token
  const props = JSON.parse(d.row.properties) as Record<string, unknown>
  // The link's URL in the click's row carries the token too.
  d.row.page_url = withoutToken(d.row.page_url)
  d.row.referrer = withoutToken(d.row.referrer)
  stripTokenFromUrls(props)
  if (d.context.page && typeof d.context.page === 'object') {
    const page = { ...(d.context.page as Record<string, unknown>) }
    stripTokenFromUrls(page)
    d.context.page = page
  }
  if (token !== undefined) {
    delete props.token
    props.token_status = tokenStatus(d, facts, token, props)
  }
  d.row.properties = JSON.stringify(props)
  return d
}

function tokenStatus(d: Draft, facts: RequestFacts, token: unknown, props: Record<string, unknown>): TokenStatus {
  if (typeof token !== 'string') return 'malformed'
  // Only the key's own program can vouch for a token: another program's token is unknown here.
  const check = verifyClickToken(token, (program) => (program === facts.key.program ? facts.key.linkSecret : undefined), facts.receivedAt)
  if (!check.valid) return check.failure
  const { claims } = check
  d.row.channel = claims.channel
  props.attune_message = claims.message
  props.attune_campaign = claims.campaign
  if (!d.row.utm_campaign) d.row.utm_campaign = claims.campaign
  // An event that names its patient keeps it: a forwarded link must not relabel someone else's browser.
  if (d.row.user_id && d.row.user_id !== claims.patient) return 'user_mismatch'
  d.row.user_id = claims.patient
  // A browser's row says what proved its patient (an unproven claim stays recorded beside it).
  if (facts.key.kind === 'write') d.row.identity_status = 'click_token'
  return 'verified'
}
