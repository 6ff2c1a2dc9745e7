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
  | 'internal'

/** The JSON error shape of every failed request. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; rejected?: unknown[]; issues?: Array<{ path: string; message: string }> }
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

/**
 * An error described without its data: ClickHouse quotes the offending row in a parse error,
 * and rows hold patient data, so logs and /health name only the error code (P13).
 */
export function describeError(e: unknown): string {
  const err = e as { type?: unknown; code?: unknown; name?: string; message?: string }
  if (typeof err.type === 'string') return `ClickHouse ${err.type}${err.code !== undefined ? ` (code ${String(err.code)})` : ''}`
  const first = String(err.message ?? e).split(/[:\n]/)[0]!.slice(0, 120)
  return `${err.name ?? 'Error'}${typeof err.code === 'string' ? ` ${err.code}` : ''}: ${first}`
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
