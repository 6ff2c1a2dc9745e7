import type { ContentItem } from './program-sections.ts'
import { localDay } from '../util/zone-time.ts'

/**
 * Whether a content item may be chosen: approved for the market, and its approval not lapsed
 * (`validUntil` is the last day it covers, in `timeZone`, default UTC; pass the program's).
 *
 * @example isContentUsable(item, { market: program.market, now: new Date(), timeZone: program.timeZone })
 */
export function isContentUsable(content: Pick<ContentItem, 'markets' | 'approval'>, at: { market: string; now: Date; timeZone?: string }): boolean {
  if (!content.markets.includes(at.market)) return false
  return localDay(at.now.getTime(), at.timeZone ?? 'UTC') <= content.approval.validUntil
}

const compiled = new Map<string, RegExp>()

/**
 * A content URL pattern as an anchored regular expression (RE2-compatible, so ClickHouse's
 * `match()` takes its source): `*` matches within one path segment, `**` across segments, and
 * a trailing slash is insignificant (`/demo/` and `/demo` match each other).
 */
export function urlPatternToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern)
  if (re) return re
  const body = trimSlash(pattern)
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('')
  re = new RegExp(body.endsWith('/') ? `^${body}$` : `^${body}/?$`)
  compiled.set(pattern, re)
  return re
}

/** Whether a page path (without query or fragment) matches a content URL pattern. */
export function matchesUrlPattern(pattern: string, path: string): boolean {
  return urlPatternToRegExp(pattern).test(path)
}

function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
}
