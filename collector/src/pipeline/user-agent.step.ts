import { UAParser } from 'ua-parser-js'
import type { Draft, RequestFacts } from './types.ts'

interface ParsedAgent {
  browser: string
  browser_version: string
  os: string
  os_version: string
  device_type: string
}

// A site sees few distinct user agents; parsing one costs tens of microseconds, a lookup less than one.
const cache = new Map<string, ParsedAgent>()
const CACHE_SIZE = 2000

function parse(ua: string): ParsedAgent {
  const hit = cache.get(ua)
  if (hit) return hit
  const r = new UAParser(ua).getResult()
  const parsed: ParsedAgent = {
    browser: r.browser.name ?? '',
    browser_version: r.browser.major ?? '',
    os: r.os.name ?? '',
    os_version: r.os.version ?? '',
    // ua-parser leaves desktops without a type.
    device_type: r.device.type ?? (r.os.name ? 'desktop' : ''),
  }
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!)
  cache.set(ua, parsed)
  return parsed
}

/**
 * The user agent of an event: for a browser (write key) its own `User-Agent` header, whatever its
 * context claims (a claimed agent would evade the bot flag); for a backend (secret key) the one
 * it forwards in `context.userAgent`, its own agent saying nothing about the patient.
 */
function agentOf(d: Draft, facts: RequestFacts): string {
  if (facts.key.kind === 'write') return facts.userAgent.slice(0, 1000)
  const fromContext = d.context.userAgent
  return typeof fromContext === 'string' ? fromContext.slice(0, 1000) : ''
}

/** Step 5: browser, OS and device from the user agent (ua-parser-js 1.x, MIT). */
export function userAgentStep(d: Draft, facts: RequestFacts): Draft {
  const ua = agentOf(d, facts)
  d.agent = ua
  delete d.context.userAgent
  delete d.context.userAgentData
  if (!ua) return d
  const p = parse(ua)
  d.row.browser = p.browser
  d.row.browser_version = p.browser_version
  d.row.os = p.os
  d.row.os_version = p.os_version
  d.row.device_type = p.device_type
  return d
}
