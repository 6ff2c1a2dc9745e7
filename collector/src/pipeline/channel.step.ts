import { BROWSER_CHANNELS, CHANNELS, channelOfEvent, type Channel } from '../../../analytics/index.ts'
import type { Draft, Drop, RequestFacts } from './types.ts'

/**
 * Step 8: the touch point's channel: `context.channel` when valid for the key, else the
 * event name's prefix (`email_click`, `sms_click`, `call_completed`, `print_delivered`),
 * else the key's channel (web for a write key; the key's own for a secret key). A browser cannot
 * speak for an offline channel (it falls back to the web); a channel key (a print house's, a
 * nurse line's) sends on its own channel only, and an event on another one is refused.
 */
export function channelStep(d: Draft, facts: RequestFacts): Draft | Drop {
  const claimed = d.context.channel
  let channel: Channel | undefined
  if (typeof claimed === 'string' && (CHANNELS as readonly string[]).includes(claimed)) channel = claimed as Channel
  if (!channel && d.row.event) channel = channelOfEvent(d.row.event)
  const key = facts.key
  if (channel && key.kind === 'write' && !BROWSER_CHANNELS.has(channel)) channel = undefined
  if (channel && key.kind === 'secret' && key.channel !== 'server' && channel !== key.channel) {
    const field = typeof claimed === 'string' && claimed === channel ? 'context.channel' : 'event'
    return { drop: 'channel_not_allowed', step: 'channel', field, message: `key ${key.id} sends on the ${key.channel} channel only, not ${channel}` }
  }
  d.row.channel = channel ?? key.channel
  // Deleting a key that is not there would still turn the object into a slow dictionary.
  if (claimed !== undefined) delete d.context.channel
  return d
}
