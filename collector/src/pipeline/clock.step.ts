import { chTime } from '../../../analytics/index.ts'
import type { Draft, Drop, RequestFacts } from './types.ts'

const DAY_MS = 24 * 3600 * 1000
/** Events dated further ahead than this (after correction) are refused. */
export const MAX_FUTURE_MS = DAY_MS
/** Events older than this on arrival are marked historical (imports, offline replays). */
export const HISTORICAL_AFTER_MS = DAY_MS

// A batch's events share their sentAt: parse it once.
let lastSent = { text: '', ms: NaN }
function parseSent(text: string): number {
  if (text !== lastSent.text) lastSent = { text, ms: Date.parse(text) }
  return lastSent.ms
}

const MIN_TS = Date.UTC(1970, 0, 2)
// DateTime64's upper end; a later year (Date.parse takes +010000-01-01) is text ClickHouse
// cannot parse, which would fail the whole insert and every retry of it.
const MAX_TS = Date.UTC(2299, 11, 31)
// Module-level, not a closure per call: the TypeScript loader names every closure it creates.
function storable(t: number): number {
  return Math.min(Math.max(t, MIN_TS), MAX_TS)
}

/**
 * Step 4: corrects the sender's clock. With `sentAt`, the event time is shifted by
 * `receivedAt - sentAt` (Segment's rule), so a device whose clock is hours off still lands
 * events at the right moment; without a timestamp the event happened when it arrived.
 */
export function clockStep(d: Draft, facts: RequestFacts): Draft | Drop {
  const m = d.msg
  const originalText = m.timestamp ?? m.originalTimestamp
  const sentText = m.sentAt ?? facts.sentAt
  const original = originalText ? Date.parse(originalText) : facts.receivedAt
  const sent = sentText ? parseSent(sentText) : NaN
  const ts = Number.isNaN(sent) || !originalText ? original : original + (facts.receivedAt - sent)
  if (ts - facts.receivedAt > MAX_FUTURE_MS) {
    const field = m.timestamp ? 'timestamp' : 'originalTimestamp'
    return { drop: 'future_timestamp', step: 'clock', field, message: `is ${Math.round((ts - facts.receivedAt) / 3600_000)} h in the future after clock correction; at most 24 h is accepted` }
  }
  const safeTs = Math.max(ts, MIN_TS)
  d.row.ts = chTime(safeTs)
  d.row.original_ts = chTime(storable(original))
  d.row.received_at = chTime(facts.receivedAt)
  d.row.sent_at = Number.isNaN(sent) ? null : chTime(storable(sent))
  d.row.historical = facts.receivedAt - safeTs > HISTORICAL_AFTER_MS ? 1 : 0
  return d
}
