import { BROWSER_CONSENT_SCOPES, CONSENT_SCOPES, type ConsentScope } from '../../../analytics/index.ts'
import { questionnaireTicketValid } from '../identity-token.ts'
import type { Draft, Drop, RequestFacts } from './types.ts'

const SCOPES = new Set<string>(CONSENT_SCOPES)

/** Events only Attune itself writes (the decide endpoint, the dialogue plan): caps, holdouts and stages count them. */
export const SYSTEM_EVENTS = new Set(['decision', 'stage_changed'])
const DATE = /^\d{4}-\d{2}-\d{2}$/
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/

/**
 * A browser's answers to a questionnaire above level 0 count only with the ticket the collector
 * issued with the questionnaire to that browser, which it does only when the browser's level opens
 * it (GET /v1/questionnaires/:id). The ticket is never stored.
 */
function answers(d: Draft, facts: RequestFacts): Draft | Drop {
  const props = (d.msg as { properties?: Record<string, unknown> }).properties
  const ticket = props?.ticket
  if (ticket !== undefined) {
    const { ticket: _, ...rest } = JSON.parse(d.row.properties) as Record<string, unknown>
    d.row.properties = JSON.stringify(rest)
  }
  if (facts.key.kind !== 'write') return d
  const questionnaire = typeof props?.questionnaire === 'string' ? props.questionnaire : ''
  const level = facts.key.catalogue?.questionnaires?.[questionnaire] ?? 0
  if (level === 0) return d
  // The browser's id: its anonymous id, or a proven patient id when the message has no other.
  const t = { program: facts.key.program, questionnaire, anonymousId: d.row.anonymous_id || d.row.user_id }
  if (questionnaireTicketValid(ticket, t, facts.key.identitySecret, facts.receivedAt)) return d
  return {
    drop: 'questionnaire_locked',
    step: 'records',
    field: 'properties.ticket',
    message: `questionnaire ${questionnaire.slice(0, 100)} opens at level ${level}: a browser's answers need the ticket served with it to this browser`,
  }
}

/**
 * Step: events that carry records Attune acts on are checked, naming the field: Attune's own
 * events are refused from any key; an identify's `traits.dates` (the patient record's clinical
 * dates) must map names to YYYY-MM-DD; and a `consent_updated` event carries `properties.consent`, an object of scope → true/false,
 * which the consent model stores as each scope's latest record. A malformed one is refused naming
 * the field, since a consent record silently misread would contact someone who said no. Consent
 * for e-mail, SMS, calls, print or the app comes from a backend holding the legal record (secret
 * key); a write key may set only analytics and web personalisation.
 */
export function recordsStep(d: Draft, facts: RequestFacts): Draft | Drop {
  const drop = (field: string, message: string): Drop => ({ drop: 'invalid_schema', step: 'records', field, message })
  if (d.msg.type === 'identify') {
    const dates = (d.msg as { traits?: Record<string, unknown> }).traits?.dates
    if (dates === undefined) return d
    if (!dates || typeof dates !== 'object' || Array.isArray(dates))
      return drop('traits.dates', 'must be an object of date name → YYYY-MM-DD, e.g. {"therapy_start": "2026-10-01"}')
    for (const [name, value] of Object.entries(dates)) {
      if (!NAME.test(name)) return drop(`traits.dates.${name.slice(0, 50)}`, 'a date name is lower-case letters, digits, dashes and underscores (at most 64)')
      if (typeof value !== 'string' || !DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
        return drop(`traits.dates.${name}`, 'must be a date, YYYY-MM-DD')
    }
    return d
  }
  if (d.msg.type !== 'track') return d
  if (SYSTEM_EVENTS.has(d.row.event)) return drop('event', `"${d.row.event}" events are written by Attune itself and cannot be sent`)
  if (d.row.event === 'questionnaire_answered') return answers(d, facts)
  if (d.row.event !== 'consent_updated') return d
  const consent = (d.msg as { properties?: Record<string, unknown> }).properties?.consent
  if (!consent || typeof consent !== 'object' || Array.isArray(consent))
    return drop('properties.consent', 'must be an object of scope → true/false, e.g. {"email": true, "sms": false}')
  const entries = Object.entries(consent)
  if (entries.length === 0) return drop('properties.consent', 'names no scope')
  for (const [scope, granted] of entries) {
    if (!SCOPES.has(scope)) return drop(`properties.consent.${scope.slice(0, 50)}`, `is not a consent scope; scopes are ${CONSENT_SCOPES.join(', ')}`)
    if (typeof granted !== 'boolean') return drop(`properties.consent.${scope}`, 'must be true or false')
    if (facts.key.kind === 'write' && !BROWSER_CONSENT_SCOPES.has(scope as ConsentScope))
      return drop(`properties.consent.${scope}`, 'a write key sets only analytics and web consent; channel consent comes from a backend with the secret key')
    // A vendor's channel key records consent for its own channel only (a print house cannot opt a patient into SMS).
    if (facts.key.kind === 'secret' && facts.key.channel !== 'server' && scope !== facts.key.channel)
      return drop(`properties.consent.${scope}`, `key ${facts.key.id} records consent for the ${facts.key.channel} channel only`)
  }
  if (d.row.user_id === '' && d.row.anonymous_id === '') return drop('userId', 'consent needs the person it is for')
  return d
}
