import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ApiError } from '../errors.ts'
import { header } from '../request-header.ts'

/**
 * Refuses a body over `maxBytes` with 413 `body_too_large` before reading it when it declares its
 * length, and while reading it otherwise (chunked). The limit after decompression is the route's
 * own (decodeBytes).
 *
 * @example app.post('/batch', limitBody(MAX_BODY_BYTES, 'request body'), handler)
 */
export function limitBody(maxBytes: number, what: string): MiddlewareHandler {
  const tooLarge = () => {
    throw new ApiError(413, 'body_too_large', `${what} is larger than ${maxBytes} bytes`)
  }
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  // hono's bodyLimit reads c.req.raw.body, which makes @hono/node-server build a full WHATWG
  // Request (URL, Headers, ReadableStream, AbortSignal) and read the body through a web stream;
  // with a Content-Length the route reads the body itself, within the limit checked here.
  return async function sizedBodyLimit(c, next) {
    const declared = header(c, 'content-length')
    if (declared !== undefined && header(c, 'transfer-encoding') === undefined) return Number(declared) > maxBytes ? tooLarge() : next()
    return streaming(c, next)
  }
}
