import { randomUUID } from 'node:crypto'
import type { EventRow } from '../../../analytics/index.ts'
import { botStep } from './bot.step.ts'
import { campaignStep } from './campaign.step.ts'
import { channelStep } from './channel.step.ts'
import { clockStep } from './clock.step.ts'
import { ipStep } from './ip.step.ts'
import { privacyStep } from './privacy.step.ts'
import { resolveProgramStep } from './resolve-program.step.ts'
import { isDrop, type Draft, type Drop, type RequestFacts, type Step, type StepName } from './types.ts'
import { userAgentStep } from './user-agent.step.ts'
import { validateEvent } from './validate.step.ts'

/** The steps after validation, in order, by name. */
const STEPS: ReadonlyArray<[StepName, Step]> = [
  ['privacy', privacyStep],
  ['resolve_program', resolveProgramStep],
  ['clock', clockStep],
  ['user_agent', userAgentStep],
  ['bot', botStep],
  ['campaign', campaignStep],
  ['channel', channelStep],
  ['ip', ipStep],
]

function emptyRow(): EventRow {
  return {
    message_id: '', program: '', type: '', event: '', channel: '', user_id: '', anonymous_id: '',
    ts: '', original_ts: '', received_at: '', sent_at: null, historical: 0, key_id: '',
    page_url: '', page_path: '', page_title: '', referrer: '',
    utm_source: '', utm_medium: '', utm_campaign: '', utm_term: '', utm_content: '',
    browser: '', browser_version: '', os: '', os_version: '', device_type: '', is_bot: 0, ip_prefix: '',
    library_name: '', library_version: '', previous_id: '', group_id: '',
    properties: '{}', traits: '{}', context: '{}',
  }
}

/** An event that made it through every step. */
export interface Accepted {
  row: EventRow
}

/**
 * Runs one raw event through validate → privacy → resolve_program → clock → user_agent → bot
 * → campaign → channel → ip. Returns the row to spool, or the drop with its step and field.
 */
export function processEvent(raw: unknown, facts: RequestFacts, prefix: string, impliedType?: string): Accepted | Drop {
  const msg = validateEvent(raw, prefix, impliedType)
  if (isDrop(msg)) return msg
  const row = emptyRow()
  row.message_id = msg.messageId ?? randomUUID()
  const context = { ...(facts.context ?? {}), ...(msg.context ?? {}) }
  let d: Draft = { msg, context, row, agent: '' }
  for (const [, step] of STEPS) {
    const r = step(d, facts)
    if (isDrop(r)) return { ...r, field: prefix ? `${prefix}.${r.field}` : r.field }
    d = r
  }
  d.row.context = JSON.stringify(d.context)
  return { row: d.row }
}
