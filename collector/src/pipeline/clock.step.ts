import { chTime, DAY_MS } from '../../../analytics/index.ts'
import type { Draft, Drop, RequestFacts } from './types.ts'

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

/** The earliest time an event may have: the Unix epoch's first full day (ClickHouse's DateTime64 starts in 1900, the epoch is what clients mean by "no time"). */
const MIN_TS = Date.UTC(1970, 0, 2)
// DateTime64's upper end; a later year (Date.parse takes +010000-01-01) is text ClickHouse
// cannot parse, which would fail the whole insert and every retry of it.
const MAX_TS = Date.UTC(2299, 11, 31)

/**
 * Step 4: corrects the sender's clock. With `sentAt`, the event time is shifted by
 * `receivedAt - sentAt` (Segment's rule), so a device whose clock is hours off still lands
 * events at the right moment; without a timestamp the event happened when it arrived. A time
 * before 1970 or after 2299 is refused (never clamped); an event more than 24 h ahead, or older
 * than its key may send (the live window without the import scope), is refused naming the field.
 */
export function clockStep(d: Draft, facts: RequestFacts): Draft | Drop {
  const m = d.msg
  const originalField = m.timestamp !== undefined ? 'timestamp' : 'originalTimestamp'
  const originalText = m.timestamp ?? m.originalTimestamp
  const sentText = m.sentAt ?? facts.sentAt
  const original = originalText ? Date.parse(originalText) : facts.receivedAt
  const sent = sentText ? parseSent(sentText) : NaN
  if (original < MIN_TS || original > MAX_TS)
    return { drop: 'invalid_timestamp', step: 'clock', field: originalField, message: 'must be between 1970-01-02 and 2299-12-31' }
  if (sent < MIN_TS || sent > MAX_TS) return { drop: 'invalid_timestamp', step: 'clock', field: 'sentAt', message: 'must be between 1970-01-02 and 2299-12-31' }
  const ts = Number.isNaN(sent) || !originalText ? original : original + (facts.receivedAt - sent)
  if (ts - facts.receivedAt > MAX_FUTURE_MS) {
    return {
      drop: 'future_timestamp',
      step: 'clock',
      field: originalField,
      message: `is ${Math.round((ts - facts.receivedAt) / 3600_000)} h in the future after clock correction; at most 24 h is accepted`,
    }
  }
  const age = facts.receivedAt - ts
  if (facts.maxAgeDays !== undefined && age > facts.maxAgeDays * DAY_MS) {
    const why = facts.mayImport
      ? `at most ${facts.maxAgeDays} days are accepted`
      : `events older than ${facts.maxAgeDays} days need a secret key with the import scope`
    return { drop: 'too_old', step: 'clock', field: originalField, message: `is ${Math.floor(age / DAY_MS)} days old after clock correction; ${why}` }
  }
  if (ts < MIN_TS) return { drop: 'invalid_timestamp', step: 'clock', field: originalField, message: 'is before 1970-01-02 after clock correction' }
  d.row.ts = chTime(ts)
  d.row.original_ts = chTime(original)
  d.row.received_at = chTime(facts.receivedAt)
  d.row.sent_at = Number.isNaN(sent) ? null : chTime(sent)
  d.row.historical = age > HISTORICAL_AFTER_MS ? 1 : 0
  return d
}
