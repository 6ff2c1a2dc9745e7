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
  | 'body_too_large'
  | 'unsupported_encoding'
  | 'spool_full'
  | 'spool_unavailable'
  | 'not_found'
  | 'internal'

/** The JSON error shape of every failed request. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; rejected?: unknown[] }
}

/** An HTTP error with Attune's JSON body; thrown by handlers and middleware. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode
  readonly field: string | undefined
  readonly extra: Partial<ErrorBody['error']>
  readonly headers: Record<string, string>

  constructor(status: ContentfulStatusCode, code: ErrorCode, message: string, opts: { field?: string; extra?: Partial<ErrorBody['error']>; headers?: Record<string, string> } = {}) {
    super(status, { message })
    this.code = code
    this.field = opts.field
    this.extra = opts.extra ?? {}
    this.headers = opts.headers ?? {}
  }
}

/** Turns any error into the JSON error shape (the app's onError). */
export function errorHandler(onInternal: (err: Error) => void) {
  return function onError(err: Error, c: Context): Response {
    if (err instanceof ApiError) {
      const body: ErrorBody = { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra } }
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v)
      return c.json(body, err.status)
    }
    if (err instanceof HTTPException) {
      return c.json({ error: { code: 'invalid_body', message: err.message } } satisfies ErrorBody, err.status)
    }
    onInternal(err)
    return c.json({ error: { code: 'internal', message: 'internal error' } } satisfies ErrorBody, 500)
  }
}
