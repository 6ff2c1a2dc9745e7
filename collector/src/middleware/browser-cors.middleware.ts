import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'
import type { KeyIndex } from '../keys.ts'
import { header } from '../request-header.ts'

/**
 * CORS for the routes browsers call (ingestion, decide, questionnaires): an origin some write key
 * allows gets its own origin echoed (never `*`), and preflights are answered for it; the key's
 * own allowlist is checked again when the request names its key.
 *
 * @example app.use('/v1/decide', browserCors(keys, ['POST']))
 */
export function browserCors(keys: KeyIndex, methods: string[]): MiddlewareHandler {
  const preflight = cors({
    origin: (origin) => (keys.anyKeyAllows(origin) ? origin : null),
    allowMethods: [...methods, 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization', 'Content-Encoding'],
    maxAge: 86400,
  })
  // hono's cors appends `Vary` after the handler, which turns @hono/node-server's lightweight
  // Response into a full WHATWG one on every request; headers set before the handler are merged
  // into the response it builds, at no cost.
  return async function corsHeaders(c, next) {
    if (c.req.method === 'OPTIONS') return preflight(c, next)
    const origin = header(c, 'origin')
    if (origin && keys.anyKeyAllows(origin)) c.header('Access-Control-Allow-Origin', origin)
    c.header('Vary', 'Origin')
    return next()
  }
}
