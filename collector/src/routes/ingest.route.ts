import type { HttpBindings } from '@hono/node-server'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { ApiError } from '../errors.ts'
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

/**
 * A request header by lower-case name. On the Node server it comes from the request's own
 * header object: asking Hono builds a WHATWG Headers copy of every header first, which cost
 * about a tenth of a single-event request (measured). In-process requests (app.request) ask Hono.
 */
function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming
  if (!incoming) return c.req.header(name)
  const v = incoming.headers[name]
  return Array.isArray(v) ? v.join(', ') : v
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

  const preflight = cors({
    origin: (origin) => (keys.anyKeyAllows(origin) ? origin : null),
    allowMethods: ['POST', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization', 'Content-Encoding'],
    maxAge: 86400,
  })
  // hono's cors appends `Vary` after the handler, which turns @hono/node-server's lightweight
  // Response into a full WHATWG one on every request; headers set before the handler are merged
  // into the response it builds, at no cost.
  app.use('*', async function corsHeaders(c, next) {
    if (c.req.method === 'OPTIONS') return preflight(c, next)
    const origin = header(c, 'origin')
    if (origin && keys.anyKeyAllows(origin)) c.header('Access-Control-Allow-Origin', origin)
    c.header('Vary', 'Origin')
    return next()
  })
  const tooLarge = () => {
    throw new ApiError(413, 'body_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`)
  }
  const streamingLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge })
  // hono's bodyLimit reads c.req.raw.body, which makes @hono/node-server build a full WHATWG
  // Request (URL, Headers, ReadableStream, AbortSignal) and read the body through a web stream.
  // With a Content-Length, decodeJsonBody enforces the limit itself on the fast path.
  app.use('*', async function sizedBodyLimit(c, next) {
    const declared = header(c, 'content-length')
    if (declared !== undefined && header(c, 'transfer-encoding') === undefined) return Number(declared) > MAX_BODY_BYTES ? tooLarge() : next()
    return streamingLimit(c, next)
  })

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
      if (e instanceof SpoolFullError) throw new ApiError(503, 'spool_full', 'the collector is at its spool limit; retry later', { headers: { 'Retry-After': '5' } })
      throw new ApiError(500, 'spool_unavailable', 'the event could not be stored; retry', { headers: { 'Retry-After': '1' }, cause: e })
    }
    metrics.accepted.inc({ program: outcome.program! }, outcome.records)
    for (const [reason, n] of Object.entries(outcome.scrubbed)) if (n > 0) metrics.personalData.inc({ reason }, n)
    return c.json({ success: true, accepted: outcome.records, rejected: outcome.rejected } satisfies IngestResponse)
  }

  app.post('/batch', ingest())
  // Segment's Ruby library posts everything to /v1/import, its Java library to /v1/import/.
  app.post('/import', ingest())
  app.post('/import/', ingest())
  for (const t of MESSAGE_TYPES) app.post(`/${t}`, ingest(t))
  return app
}
