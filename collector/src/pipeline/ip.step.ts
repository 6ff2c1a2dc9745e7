import { isIPv4, isIPv6 } from 'node:net'
import type { Draft, RequestFacts } from './types.ts'

/**
 * An address with its host part removed: IPv4 keeps /24, IPv6 keeps /48 (the granularity
 * analytics products settle on: a region, not a household).
 */
export function anonymiseIp(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0`
  if (isIPv6(ip)) {
    const [head = '', tail = ''] = ip.split('::')
    const left = head ? head.split(':') : []
    const right = tail ? tail.split(':') : []
    const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
    return `${groups
      .slice(0, 3)
      .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':')}::`
  }
  return ''
}

// A request's events share their address; anonymising one costs a few microseconds.
const anonymised = new Map<string, string>()
function anonymiseCached(ip: string): string {
  let out = anonymised.get(ip)
  if (out === undefined) {
    out = anonymiseIp(ip)
    if (anonymised.size >= 4096) anonymised.clear()
    anonymised.set(ip, out)
  }
  return out
}

/** Step 10: the address is reduced to its network prefix; the raw address is never stored. Only a secret key may name it. */
export function ipStep(d: Draft, facts: RequestFacts): Draft {
  // A backend (secret key) forwards the patient's address in context.ip; a browser's is the peer
  // address, whatever its context says: a write key could otherwise plant any address prefix.
  const secret = facts.key.kind === 'secret'
  const forwarded = secret && typeof d.context.ip === 'string' ? d.context.ip : ''
  if (d.context.ip !== undefined) delete d.context.ip
  const raw = secret ? forwarded : facts.ip
  d.row.ip_prefix = raw ? anonymiseCached(raw) : ''
  return d
}
