import { randomUUID } from 'node:crypto'
import { blankEventRow, encodeEventRow, type EventRow } from '../../../analytics/index.ts'
import { botStep } from './bot.step.ts'
import { campaignStep } from './campaign.step.ts'
import { channelStep } from './channel.step.ts'
import { clickTokenStep } from './click-token.step.ts'
import { clockStep } from './clock.step.ts'
import { recordsStep } from './records.step.ts'
import { identityStep } from './identity.step.ts'
import { ipStep } from './ip.step.ts'
import { needsStep } from './needs.step.ts'
import { privacyStep } from './privacy.step.ts'
import { resolveProgramStep } from './resolve-program.step.ts'
import { isDrop, type Draft, type Drop, type RequestFacts, type Step, type StepName } from './types.ts'
import { userAgentStep } from './user-agent.step.ts'
import { validateEvent } from './validate.step.ts'

/** The steps after validation, in order, by name. */
const STEPS: ReadonlyArray<[StepName, Step]> = [
  ['privacy', privacyStep],
  ['resolve_program', resolveProgramStep],
  ['identity', identityStep],
  ['clock', clockStep],
  ['user_agent', userAgentStep],
  ['bot', botStep],
  ['campaign', campaignStep],
  ['channel', channelStep],
  // After channel and campaign: a verified token's channel and campaign are what it says.
  ['click_token', clickTokenStep],
  ['needs', needsStep],
  ['records', recordsStep],
  ['ip', ipStep],
]

// A lone UTF-16 surrogate (e.g. an emoji cut in half by a client) is escaped by JSON.stringify
// as \udXXX, which ClickHouse refuses, failing the whole insert and every retry of it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Text with every lone surrogate replaced by U+FFFD, as an event's text is stored: an id names the same person wherever it is used. */
export const wellFormed = (text: string): string => text.replace(LONE_SURROGATE, '\ufffd')

/** An event that made it through every step, and its row as the JSON line to spool. */
export interface Accepted {
  row: EventRow
  json: string
  /** What the privacy step removed or masked, by reason. */
  scrubbed: Draft['scrubbed']
}

/**
 * Runs one raw event through validate → privacy → resolve_program → identity → clock → user_agent → bot
 * → campaign → channel → click_token → needs → records → ip. Returns the row to spool, or the drop with its step and field.
 */
export function processEvent(raw: unknown, facts: RequestFacts, prefix: string, impliedType?: string): Accepted | Drop {
  const msg = validateEvent(raw, prefix, impliedType, facts.bodyBytes)
  if (isDrop(msg)) return msg
  const row = blankEventRow()
  row.message_id = msg.messageId ?? randomUUID()
  const context = facts.context ? { ...facts.context, ...msg.context } : { ...msg.context }
  let d: Draft = { msg, context, row, agent: '', scrubbed: { personal_data_key: 0, email: 0, phone: 0 } }
  for (const [name, step] of STEPS) {
    const r = step(d, facts)
    if (isDrop(r)) return { ...r, step: name, field: prefix ? `${prefix}.${r.field}` : r.field }
    d = r
  }
  d.row.context = JSON.stringify(d.context)
  let json = encodeEventRow(d.row)
  // JSON.stringify escapes only lone surrogates as \udXXX (pairs stay raw), so this cheap test
  // finds every row that needs repair (and a few with a literal backslash-u text, repaired harmlessly).
  if (json.includes('\\ud')) {
    const r = d.row as unknown as Record<string, unknown>
    for (const [k, v] of Object.entries(r)) if (typeof v === 'string') r[k] = wellFormed(v)
    json = encodeEventRow(d.row)
  }
  return { row: d.row, json, scrubbed: d.scrubbed }
}
