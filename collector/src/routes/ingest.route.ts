import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import type { ProgramKey } from '../../../analytics/index.ts'
import { ApiError } from '../errors.ts'
import type { KeyIndex } from '../keys.ts'
import type { Metrics } from '../metrics.ts'
import { MAX_BODY_BYTES, readJsonBody } from '../middleware/json-body.ts'
import { processEvent } from '../pipeline/pipeline.ts'
import type { RequestFacts } from '../pipeline/types.ts'
import { firstIssue } from '../pipeline/validate.step.ts'
import { batchEnvelopeSchema, MESSAGE_TYPES, type IngestResponse } from '../schemas/segment.schema.ts'
import { encodePayload } from '../spool/clickhouse-sink.ts'
import { SpoolFullError, type Spool } from '../spool/spool.ts'

/** What the ingestion routes need. */
export interface IngestDeps {
  keys: KeyIndex
  spool: Spool
  metrics: Metrics
  trustProxy: boolean
}

/** The key value from HTTP Basic (user name, as Segment's libraries send it) or the body. */
function keyValue(c: Context, body: unknown): string | undefined {
  const auth = c.req.header('authorization')
  if (auth?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8')
    const user = decoded.split(':')[0]
    if (user) return user
  }
  if (body && typeof body === 'object' && typeof (body as { writeKey?: unknown }).writeKey === 'string') {
    return (body as { writeKey: string }).writeKey
  }
  return undefined
}

function peerAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = c.req.header('x-forwarded-for')
    if (xff) return xff.split(',')[0]!.trim()
  }
  try {
    return getConnInfo(c).remote.address ?? ''
  } catch {
    // In-process requests (app.request) have no socket.
    return ''
  }
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
    const origin = c.req.header('origin')
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
  // With a Content-Length, readJsonBody enforces the limit itself on the fast path.
  app.use('*', async function sizedBodyLimit(c, next) {
    const declared = c.req.header('content-length')
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) return Number(declared) > MAX_BODY_BYTES ? tooLarge() : next()
    return streamingLimit(c, next)
  })

  const authenticate = (c: Context, body: unknown): ProgramKey => {
    const value = keyValue(c, body)
    if (!value) throw new ApiError(401, 'missing_key', 'a write key (HTTP Basic user name or writeKey in the body) is required', { field: 'writeKey' })
    const key = keys.find(value)
    if (!key) throw new ApiError(401, 'unknown_key', 'the key is not known', { field: 'writeKey' })
    const origin = c.req.header('origin')
    if (key.kind === 'write' && origin && !keys.originAllowed(value, origin)) {
      throw new ApiError(403, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not allowed for this write key`, { field: 'origin' })
    }
    return key
  }

  const ingest = (impliedType?: string) => async (c: Context) => {
    let body: unknown
    try {
      const read = await readJsonBody(c)
      body = read.json
      const key = authenticate(c, body)
      const receivedAt = Date.now()
      const facts: RequestFacts = { key, receivedAt, userAgent: c.req.header('user-agent') ?? '', ip: peerAddress(c, deps.trustProxy), bodyBytes: read.bytes, mayContainContact: read.mayContainContact }
      let events: unknown[]
      let prefix: (i: number) => string
      if (impliedType) {
        events = [body]
        prefix = () => ''
      } else {
        const env = batchEnvelopeSchema.safeParse(body)
        if (!env.success) throw new ApiError(400, 'invalid_body', firstIssue('', env.error).message, { field: firstIssue('', env.error).field })
        events = env.data.batch
        facts.sentAt = env.data.sentAt
        facts.context = env.data.context
        prefix = (i) => `batch[${i}]`
      }
      metrics.received.inc(events.length)
      const payloads: Buffer[] = []
      const rejected: IngestResponse['rejected'] = []
      events.forEach((raw, index) => {
        const r = processEvent(raw, facts, prefix(index), impliedType)
        if ('drop' in r) {
          metrics.rejected.inc({ step: r.step, reason: r.drop })
          rejected.push({ index, reason: r.drop, field: r.field, message: r.message })
          return
        }
        const row = r.row
        payloads.push(encodePayload(row.ts.slice(0, 7).replace('-', ''), row.program, row.message_id, r.json))
      })
      if (payloads.length === 0) {
        const first = rejected[0]!
        throw new ApiError(400, 'no_valid_events', impliedType ? `${first.field}: ${first.message}` : 'no event in the batch is valid', { field: first.field, extra: { rejected } })
      }
      try {
        await spool.append(payloads)
      } catch (e) {
        metrics.rejected.inc({ step: 'spool', reason: e instanceof SpoolFullError ? 'spool_full' : 'spool_error' }, payloads.length)
        if (e instanceof SpoolFullError) throw new ApiError(503, 'spool_full', 'the collector is at its spool limit; retry later', { headers: { 'Retry-After': '5' } })
        throw new ApiError(500, 'spool_unavailable', 'the event could not be stored; retry', { headers: { 'Retry-After': '1' } })
      }
      metrics.accepted.inc({ program: key.program }, payloads.length)
      return c.json({ success: true, accepted: payloads.length, rejected } satisfies IngestResponse)
    } catch (e) {
      if (e instanceof ApiError && e.code !== 'spool_full' && e.code !== 'spool_unavailable') metrics.requestsRejected.inc({ reason: e.code })
      throw e
    }
  }

  app.post('/batch', ingest())
  app.post('/import', ingest())
  for (const t of MESSAGE_TYPES) app.post(`/${t}`, ingest(t))
  return app
}
