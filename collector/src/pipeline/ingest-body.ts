import { authenticateKey, basicUser, requireScope } from '../auth.ts'
import { ApiError, type ErrorCode } from '../errors.ts'
import type { KeyIndex } from '../keys.ts'
import { decodeJsonBody } from './decode-body.ts'
import { batchEnvelopeSchema, type IngestResponse } from '../schemas/segment.schema.ts'
import { payloadText } from '../spool/clickhouse-sink.ts'
import { encodeFrames } from '../spool/frame.ts'
import { processEvent } from './pipeline.ts'
import type { RequestFacts } from './types.ts'
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './limits.ts'
import { firstIssue, withoutNulls } from './validate.step.ts'
import { SCRUB_REASONS, type ScrubReason } from './personal-data.ts'

/** What ingestion needs of an HTTP request: plain data, so a worker thread can take it. */
export interface RawIngestRequest {
  body: Uint8Array
  contentEncoding: string
  authorization?: string
  origin?: string
  userAgent: string
  /** The peer (or forwarded) address, raw: only the ip step sees it. */
  ip: string
  receivedAt: number
  /** The type of a single-message endpoint (`/v1/track`), or none for a batch. */
  impliedType?: string
  /** How old events may be and how many months a request may touch (default: DEFAULT_INGEST_LIMITS). */
  limits?: IngestLimits
}

/** An event rejected in a request that was otherwise taken. */
export type Rejection = IngestResponse['rejected'][number]

/** What ingesting one request came to: an error for the whole request, or framed spool records. */
export interface IngestOutcome {
  error?: { status: 400 | 401 | 403 | 413 | 415; code: ErrorCode; message: string; field?: string; rejected?: Rejection[] }
  program?: string
  /** Spool records, framed and back to back, ready for Spool.appendFrames. */
  frames?: Uint8Array
  records: number
  rejected: Rejection[]
  /** Events that reached validation, and each drop's step and reason, for the metrics. */
  received: number
  drops: Array<{ step: string; reason: string }>
  /** Personal data the privacy step removed or masked in accepted events, by reason. */
  scrubbed: Record<ScrubReason, number>
}

/** The key value from HTTP Basic (user name, as Segment's libraries send it) or the body. */
function keyValue(authorization: string | undefined, body: unknown): string | undefined {
  const user = basicUser(authorization)
  if (user) return user
  if (body && typeof body === 'object' && typeof (body as { writeKey?: unknown }).writeKey === 'string') return (body as { writeKey: string }).writeKey
  return undefined
}

/**
 * Ingests one request: decode and parse the body, authenticate the key, run every event
 * through the pipeline, frame the accepted ones for the spool. Pure and synchronous, so it runs
 * inline for small bodies and in a worker thread for large ones with the same result.
 */
export function ingestBody(req: RawIngestRequest, keys: KeyIndex): IngestOutcome {
  const out: IngestOutcome = { records: 0, rejected: [], received: 0, drops: [], scrubbed: { personal_data_key: 0, email: 0, phone: 0 } }
  try {
    const read = decodeJsonBody(req.body, req.contentEncoding)
    const key = authenticateKey(keys, keyValue(req.authorization, read.json), req.origin, {
      field: 'writeKey',
      message: 'a write key (HTTP Basic user name or writeKey in the body) is required',
    })
    if (key.kind === 'secret') requireScope(key, 'ingest')
    const limits = req.limits ?? DEFAULT_INGEST_LIMITS
    const mayImport = limits.history === true || (key.kind === 'secret' && key.scopes.includes('import'))
    const facts: RequestFacts = {
      key,
      receivedAt: req.receivedAt,
      userAgent: req.userAgent,
      ip: req.ip,
      bodyBytes: read.bytes,
      mayContainContact: read.mayContainContact,
      mayImport,
      maxAgeDays: mayImport ? limits.importDays : limits.liveDays,
    }
    let events: unknown[]
    let prefix: (i: number) => string
    if (req.impliedType) {
      events = [read.json]
      prefix = () => ''
    } else {
      const env = batchEnvelopeSchema.safeParse(withoutNulls(read.json))
      if (!env.success) {
        const { field, message } = firstIssue('', env.error)
        throw new ApiError(400, 'invalid_body', message, { field })
      }
      events = env.data.batch
      facts.sentAt = env.data.sentAt
      facts.context = env.data.context
      prefix = (i) => `batch[${i}]`
    }
    out.received = events.length
    const payloads: string[] = []
    const months = new Set<string>()
    events.forEach((raw, index) => {
      const r = processEvent(raw, facts, prefix(index), req.impliedType)
      if ('drop' in r) {
        out.drops.push({ step: r.step, reason: r.drop })
        out.rejected.push({ index, reason: r.drop, field: r.field, message: r.message })
        return
      }
      const row = r.row
      for (const k of SCRUB_REASONS) out.scrubbed[k] += r.scrubbed[k]
      const month = row.ts.slice(0, 7)
      if (!months.has(month)) {
        if (months.size >= limits.maxMonths) {
          out.drops.push({ step: 'clock', reason: 'too_many_months' })
          out.rejected.push({
            index,
            reason: 'too_many_months',
            field: `${prefix(index) ? `${prefix(index)}.` : ''}timestamp`,
            message: `one request may hold events of at most ${limits.maxMonths} months; send ${month} in another request`,
          })
          return
        }
        months.add(month)
      }
      const linkedId = row.user_id === '' ? '' : row.type === 'alias' ? row.previous_id : row.anonymous_id
      const who = {
        userId: row.user_id,
        anonymousId: row.anonymous_id,
        linkedId,
        ...(linkedId ? { linkedAt: Date.parse(`${row.ts.replace(' ', 'T')}Z`) } : {}),
      }
      payloads.push(payloadText(row.ts.slice(0, 7).replace('-', ''), row.program, row.message_id, r.json, who))
    })
    if (payloads.length === 0) {
      const first = out.rejected[0]!
      throw new ApiError(400, 'no_valid_events', req.impliedType ? `${first.field}: ${first.message}` : 'no event in the batch is valid', {
        field: first.field,
        extra: { rejected: out.rejected },
      })
    }
    out.frames = encodeFrames(payloads)
    out.records = payloads.length
    out.program = key.program
    return out
  } catch (e) {
    if (!(e instanceof ApiError)) throw e
    out.error = {
      status: e.status as 400,
      code: e.code,
      message: e.message,
      ...(e.field ? { field: e.field } : {}),
      ...(e.extra.rejected ? { rejected: e.extra.rejected as Rejection[] } : {}),
    }
    return out
  }
}
