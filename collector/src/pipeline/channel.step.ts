import { CHANNELS, type Channel } from '../../../analytics/index.ts'
import type { Draft, RequestFacts } from './types.ts'

const BY_PREFIX: Record<string, Channel> = { email: 'email', sms: 'sms', call: 'call', print: 'print' }
/** Channels a browser (write key) may claim; the rest need a secret key. */
const BROWSER_CHANNELS = new Set<Channel>(['web', 'email', 'sms', 'app'])

/**
 * Step 8: the touch point's channel: `context.channel` when valid for the key, else the
 * event name's prefix (`email_click`, `sms_click`, `call_completed`, `print_delivered`),
 * else the key's channel (web for a write key; the key's own for a secret key).
 */
export function channelStep(d: Draft, facts: RequestFacts): Draft {
  const claimed = d.context.channel
  let channel: Channel | undefined
  if (typeof claimed === 'string' && (CHANNELS as readonly string[]).includes(claimed)) channel = claimed as Channel
  if (!channel && d.row.event) channel = BY_PREFIX[d.row.event.split('_')[0]!]
  // A browser cannot speak for an offline channel, by context or by event name.
  if (channel && facts.key.kind === 'write' && !BROWSER_CHANNELS.has(channel)) channel = undefined
  d.row.channel = channel ?? facts.key.channel
  // Deleting a key that is not there would still turn the object into a slow dictionary.
  if (claimed !== undefined) delete d.context.channel
  return d
}
