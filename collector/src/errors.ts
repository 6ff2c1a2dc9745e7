import { randomUUID } from 'node:crypto'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Machine-readable error codes the API answers with. */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_body'
  | 'no_valid_events'
  | 'missing_key'
  | 'unknown_key'
  | 'origin_not_allowed'
  | 'secret_key_required'
  | 'wrong_program'
  | 'web_only'
  | 'body_too_large'
  | 'unsupported_encoding'
  | 'spool_full'
  | 'spool_unavailable'
  | 'not_found'
  | 'invalid_program'
  | 'storage_unavailable'
  | 'pattern_exists'
  | 'scope_required'
  | 'questionnaire_locked'
  | 'internal'

/**
 * The JSON error shape of every failed request: Attune's detail under `error`, and its code and
 * message again at the top level, where Segment's server libraries read them (analytics-python
 * raises on a missing `code`, and then retries a permanent 400 for ever).
 */
export interface ErrorBody {
  error: {
    code: ErrorCode
    message: string
    field?: string
    scope?: string
    requestId?: string
    rejected?: unknown[]
    issues?: Array<{ path: string; message: string }>
  }
  code: ErrorCode
  message: string
}

/** The error body for a code, message and detail. */
export function errorBody(code: ErrorCode, message: string, detail: Partial<ErrorBody['error']> = {}): ErrorBody {
  return { error: { code, message, ...detail }, code, message }
}

/** An HTTP error with Attune's JSON body; thrown by handlers and middleware. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode
  readonly field: string | undefined
  readonly extra: Partial<ErrorBody['error']>
  readonly headers: Record<string, string>

  constructor(
    status: ContentfulStatusCode,
    code: ErrorCode,
    message: string,
    opts: { field?: string; extra?: Partial<ErrorBody['error']>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(status, { message, ...(opts.cause !== undefined ? { cause: opts.cause } : {}) })
    this.code = code
    this.field = opts.field
    this.extra = opts.extra ?? {}
    this.headers = opts.headers ?? {}
  }
}

/**
 * An error described without its data: ClickHouse quotes the offending row in a parse error,
 * and rows hold patient data, so logs and /health name only the error code (P13).
 */
export function describeError(e: unknown): string {
  const err = e as { type?: unknown; code?: unknown; name?: string; message?: string }
  if (typeof err.type === 'string') return `ClickHouse ${err.type}${err.code !== undefined ? ` (code ${String(err.code)})` : ''}`
  const first = String(err.message ?? e)
    .split(/[:\n]/)[0]!
    .slice(0, 120)
  return `${err.name ?? 'Error'}${typeof err.code === 'string' ? ` ${err.code}` : ''}: ${first}`
}

const ABORT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'])

/**
 * Whether a request failed because its client went away (a reset socket, a body cut short): the
 * server did nothing wrong, and one log line per abort would let anyone flood the log.
 */
export function isClientAbort(err: unknown, c: Context): boolean {
  const incoming = (c.env as { incoming?: { destroyed?: boolean; aborted?: boolean; socket?: { destroyed?: boolean } | null } } | undefined)?.incoming
  if (incoming && (incoming.aborted || incoming.socket?.destroyed)) return true
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown }
  if (typeof e.code === 'string' && ABORT_CODES.has(e.code)) return true
  if (e.name === 'AbortError' || e.message === 'aborted') return true
  return e.cause !== undefined && e.cause !== err && isClientAbort(e.cause, { env: undefined } as Context)
}

/** What the error handler reports to: counts of refused requests and client aborts, and the log for server errors. */
export interface ErrorReporting {
  /** Every error answer, by its code (guarantee D11: every refused request is counted). */
  refused: (code: ErrorCode) => void
  clientAborted: () => void
  /** One line per 5xx answer, with its request id and no request data. */
  log: (msg: string) => void
}

/**
 * Turns any error into the JSON error shape (the app's onError). Every answer is counted by code;
 * every 5xx gets a request id (in the answer and the `X-Request-Id` header) and one log line
 * naming the route pattern (never the path, which may hold a patient id) and the error's kind;
 * a client that went away is counted, not logged.
 */
export function errorHandler(r: ErrorReporting) {
  return function onError(err: Error, c: Context): Response {
    let api: ApiError
    if (err instanceof ApiError) api = err
    else if (isClientAbort(err, c)) {
      r.clientAborted()
      return c.body(null, 400)
    } else if (err instanceof HTTPException) api = new ApiError(err.status as ContentfulStatusCode, 'invalid_body', err.message)
    else api = new ApiError(500, 'internal', 'internal error', { cause: err })
    r.refused(api.code)
    const detail: Partial<ErrorBody['error']> = { ...(api.field ? { field: api.field } : {}), ...api.extra }
    if (api.status >= 500) {
      const requestId = randomUUID()
      detail.requestId = requestId
      c.header('X-Request-Id', requestId)
      const cause = api.cause === undefined ? '' : `: ${describeError(api.cause)}`
      r.log(`${api.status} ${api.code} request ${requestId} ${c.req.method} ${c.req.routePath}${cause}`)
    }
    for (const [k, v] of Object.entries(api.headers)) c.header(k, v)
    return c.json(errorBody(api.code, api.message, detail), api.status)
  }
}
