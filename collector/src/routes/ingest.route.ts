import type { HttpBindings } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import { ApiError } from '../errors.ts'
import { limitBody } from '../middleware/body-limit.middleware.ts'
import { header } from '../request-header.ts'
import type { KeyIndex } from '../keys.ts'
import type { Metrics } from '../metrics.ts'
import { isEncoded, MAX_BODY_BYTES } from '../pipeline/decode-body.ts'
import { ingestBody, type IngestOutcome, type RawIngestRequest } from '../pipeline/ingest-body.ts'
import type { IngestPool } from '../pipeline/ingest-pool.ts'
import type { IngestLimits } from '../pipeline/limits.ts'
import { MESSAGE_TYPES, type IngestResponse } from '../schemas/segment.schema.ts'
import { SpoolFullError, type Spool } from '../spool/spool.ts'

/** What the ingestion routes need. */
export interface IngestDeps {
  keys: KeyIndex
  spool: Spool
  metrics: Metrics
  trustProxy: boolean
  /** Worker threads for large bodies, or null to ingest everything on the event loop. */
  pool: IngestPool | null
  /** Bodies from this size (and every compressed one) go to the pool. */
  poolMinBytes: number
  /** How old events may be and how many months one request may touch. */
  ingestLimits: IngestLimits
}

function peerAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = header(c, 'x-forwarded-for')
    if (xff) return xff.split(',')[0]!.trim()
  }
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
  // In-process requests (app.request) have no socket.
  return incoming?.socket.remoteAddress ?? ''
}

/** The Segment tracking API: `/v1/batch`, `/v1/import` and one route per message type. */
export function ingestRoutes(deps: IngestDeps): Hono {
  const { keys, spool, metrics } = deps
  const app = new Hono()

  const ingest = (impliedType?: string) => async (c: Context) => {
    const body = new Uint8Array(await c.req.arrayBuffer())
    const req: RawIngestRequest = {
      body,
      contentEncoding: header(c, 'content-encoding') ?? '',
      authorization: header(c, 'authorization'),
      origin: header(c, 'origin'),
      userAgent: header(c, 'user-agent') ?? '',
      ip: peerAddress(c, deps.trustProxy),
      receivedAt: Date.now(),
      impliedType,
      limits: deps.ingestLimits,
    }
    // Bodies go to a worker thread (from ATTUNE_INGEST_WORKER_MIN_BYTES; compressed ones always),
    // or are ingested here while no worker is ready.
    const offload = deps.pool && (body.length >= deps.poolMinBytes || isEncoded(req.contentEncoding))
    let outcome: IngestOutcome
    try {
      const queued = offload ? deps.pool!.run(req) : null
      outcome = queued ? await queued : ingestBody(req, keys)
    } catch (e) {
      throw new ApiError(500, 'internal', 'the request could not be processed; retry', { headers: { 'Retry-After': '1' }, cause: e })
    }
    metrics.received.inc(outcome.received)
    for (const d of outcome.drops) metrics.rejected.inc({ step: d.step, reason: d.reason })
    if (outcome.error) {
      const e = outcome.error
      throw new ApiError(e.status, e.code, e.message, { ...(e.field ? { field: e.field } : {}), ...(e.rejected ? { extra: { rejected: e.rejected } } : {}) })
    }
    const frames = Buffer.from(outcome.frames!.buffer, outcome.frames!.byteOffset, outcome.frames!.byteLength)
    try {
      await spool.appendFrames(frames, outcome.records)
    } catch (e) {
      metrics.rejected.inc({ step: 'spool', reason: e instanceof SpoolFullError ? 'spool_full' : 'spool_error' }, outcome.records)
      if (e instanceof SpoolFullError)
        throw new ApiError(503, 'spool_full', 'the collector is at its spool limit; retry later', { headers: { 'Retry-After': '5' } })
      throw new ApiError(500, 'spool_unavailable', 'the event could not be stored; retry', { headers: { 'Retry-After': '1' }, cause: e })
    }
    metrics.accepted.inc({ program: outcome.program! }, outcome.records)
    for (const [reason, n] of Object.entries(outcome.scrubbed)) if (n > 0) metrics.personalData.inc({ reason }, n)
    return c.json({ success: true, accepted: outcome.records, rejected: outcome.rejected } satisfies IngestResponse)
  }

  const limit = limitBody(MAX_BODY_BYTES, 'request body')
  app.post('/batch', limit, ingest())
  // Segment's Ruby library posts everything to /v1/import, its Java library to /v1/import/.
  app.post('/import', limit, ingest())
  app.post('/import/', limit, ingest())
  for (const t of MESSAGE_TYPES) app.post(`/${t}`, limit, ingest(t))
  return app
}
