import type { Sender } from '../core/types.ts'
import { nav, win } from './globals.ts'

/**
 * Sends a body as text/plain (a "simple" request: no CORS preflight, and the same for fetch and
 * sendBeacon); the write key rides in the body. `keepalive` lets a send outlive the page.
 */
export const send: Sender = async (url, body, beacon) => {
  if (beacon && nav?.sendBeacon) return { status: nav.sendBeacon(url, body) ? 202 : 0 }
  // keepalive requests share a 64 KB budget: a larger body goes without it rather than failing.
  const r = await win!.fetch(url, { method: 'POST', body, keepalive: body.length < 60_000 })
  return { status: r.status, retryAfter: Number(r.headers.get('retry-after')) || null }
}
