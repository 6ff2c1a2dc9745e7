import { browserId } from '../browser-id.ts'
import { verifyIdentityToken } from '../identity-token.ts'
import type { Draft, Drop, RequestFacts } from './types.ts'

/**
 * Step 3b: a browser becomes a patient only by proof. A write-key message naming a `userId` keeps
 * it only with a valid identity token for that id in `context.identityToken` (signed by the
 * site's backend with the program's identity secret); otherwise it is kept as analytics of its
 * anonymous id, the claimed id recorded apart (`claimed_user_id`, with `identity_status` saying
 * why), so it never links the browser, counts goals, writes answers or consent, or decides for
 * the patient. A click token (a later step) is the other proof. A write key may not `alias` or
 * `group`, and its anonymous id is stored as `browser:<id>` (see browser-id.ts). Secret keys
 * (backends) are trusted with the ids they send. The token is never stored.
 */
export function identityStep(d: Draft, facts: RequestFacts): Draft | Drop {
  const token = d.context.identityToken
  if (token !== undefined) delete d.context.identityToken
  if (facts.key.kind !== 'write') return channelKeyIds(d, facts)
  const r = d.row
  // A browser's id lives in its own namespace: it can never be a patient's id.
  if (r.anonymous_id) r.anonymous_id = browserId(r.anonymous_id)
  const type = d.msg.type
  if (type === 'alias' || type === 'group') {
    return {
      drop: 'not_allowed',
      step: 'identity',
      field: 'type',
      message: `a write key may not send ${type}: a browser becomes a patient with an identity token, attune('identify', id, {token})`,
    }
  }
  if (!r.user_id) return d
  const key = facts.key
  const check = token === undefined ? null : verifyIdentityToken(token, (p) => (p === key.program ? key.identitySecret : undefined), facts.receivedAt)
  if (check?.valid && check.payload.patient === r.user_id) {
    r.identity_status = 'verified'
    return d
  }
  r.identity_status = !check ? 'missing' : check.valid ? 'user_mismatch' : check.failure
  r.claimed_user_id = r.user_id
  r.user_id = ''
  if (!r.anonymous_id)
    return {
      drop: 'identity_unproven',
      step: 'identity',
      field: 'userId',
      message: 'a write key may name a userId only with an identity token for it (context.identityToken), or beside an anonymousId',
    }
  return d
}

/**
 * A vendor's channel key (a print house's, a nurse line's: `channel` other than `server`) names the
 * patient its touch is for and nothing more: linking ids (`alias`, `group`, an anonymous id beside
 * the patient's) is the program's own backend's (a `server` key's), and a leaked vendor key must
 * not link a browser to a patient.
 */
function channelKeyIds(d: Draft, facts: RequestFacts): Draft | Drop {
  if (facts.key.channel === 'server') return d
  const type = d.msg.type
  if (type === 'alias' || type === 'group')
    return {
      drop: 'not_allowed',
      step: 'identity',
      field: 'type',
      message: `key ${facts.key.id} sends on the ${facts.key.channel} channel: ${type} is for the program's backend (a server key)`,
    }
  if (d.row.user_id && d.row.anonymous_id)
    return {
      drop: 'not_allowed',
      step: 'identity',
      field: 'anonymousId',
      message: `key ${facts.key.id} sends on the ${facts.key.channel} channel: it names the patient (userId) only; linking an anonymous id is for the program's backend`,
    }
  return d
}
