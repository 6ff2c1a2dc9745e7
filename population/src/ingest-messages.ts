import { ApiError, authenticateKey, CONTACT_HINT, type KeyIndex, processEvent, type Rejection, type RequestFacts } from '../../collector/index.ts'
import { HISTORY_LIMITS, type PopulationRequest } from './population.ts'

/** One accepted event: its `events` row as the collector spools it (a JSONCompactEachRow line), and where it goes. */
export interface IngestedRow {
  /** `YYYYMM` of the corrected time: the `events` partition. */
  partition: string
  program: string
  messageId: string
  json: string
}

/** What one request came to: the rows, the events refused one by one, or the whole request refused. */
export interface IngestedRequest {
  rows: IngestedRow[]
  rejected: Rejection[]
  refused?: { code: string; message: string }
}

/**
 * Whether the request's body as JSON text could hold an e-mail address or a phone number (an
 * `@`, a `+` or the start of a national number in any key, string or number): what the
 * collector's body decoder tells the privacy step, found on the objects instead of on text this
 * path never makes.
 */
export function mayHoldContact(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('@') || value.includes('+') || CONTACT_HINT.test(value)
  if (typeof value === 'number') return String(value).includes('+')
  if (Array.isArray(value)) return value.some(mayHoldContact)
  if (value && typeof value === 'object') {
    for (const k in value) if (k.includes('@') || k.includes('+') || mayHoldContact((value as Record<string, unknown>)[k])) return true
  }
  return false
}

/**
 * Runs a generated request through the collector's ingestion in-process, as `ingestBody` does
 * for the same request over HTTP — the key and origin checked, the request's facts, every event
 * through `processEvent` (validate → privacy → … → needs → ip) — but from the objects, with no
 * JSON text made and parsed again and no spool frames: the rows are the ones the collector
 * would spool for this request with {@link HISTORY_LIMITS}, received when the history arrives
 * (`req.arrivesAt`) unless told otherwise.
 */
export function ingestMessages(req: PopulationRequest, keys: KeyIndex, receivedAt = req.arrivesAt): IngestedRequest {
  let facts: RequestFacts
  try {
    const key = authenticateKey(keys, req.key, req.origin)
    facts = {
      key,
      receivedAt,
      userAgent: req.userAgent,
      ip: req.ip,
      mayContainContact: mayHoldContact(req.body),
      mayImport: true,
      maxAgeDays: HISTORY_LIMITS.importDays,
    }
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    return { rows: [], rejected: [], refused: { code: e.code, message: e.message } }
  }
  const rows: IngestedRow[] = []
  const rejected: Rejection[] = []
  const batch = req.body.batch
  for (let index = 0; index < batch.length; index++) {
    const r = processEvent(batch[index], facts, `batch[${index}]`)
    if ('drop' in r) {
      rejected.push({ index, reason: r.drop, field: r.field, message: r.message })
      continue
    }
    rows.push({ partition: r.row.ts.slice(0, 7).replace('-', ''), program: r.row.program, messageId: r.row.message_id, json: r.json })
  }
  return { rows, rejected }
}
