import { describe, expect, it } from 'vitest'
import { BROWSER_CHANNELS, CHANNEL_TABLE, CONSENT_SCOPES, DECISION_CHANNELS, OUTBOUND_CHANNELS, channelOfEvent } from './channels.ts'

describe('the channel table', () => {
  it('names an event’s channel only by a prefix that is an offline or message channel', () => {
    expect(channelOfEvent('email_opened')).toBe('email')
    expect(channelOfEvent('print_delivered')).toBe('print')
    expect(channelOfEvent('call_completed')).toBe('call')
    expect(channelOfEvent('web_vitals')).toBeUndefined()
    expect(channelOfEvent('server_sync')).toBeUndefined()
    expect(channelOfEvent('email')).toBeUndefined()
    expect(channelOfEvent('constructor_x')).toBeUndefined()
  })

  it('derives every list from the rows', () => {
    expect(DECISION_CHANNELS).toEqual(['web', 'email', 'sms', 'call', 'print'])
    expect(OUTBOUND_CHANNELS.every((c) => DECISION_CHANNELS.includes(c) && (c as string) !== 'web')).toBe(true)
    expect(CONSENT_SCOPES).toEqual(['analytics', ...Object.values(CHANNEL_TABLE).flatMap((r) => (r.consent ? [r.consent] : []))])
    expect([...BROWSER_CHANNELS].some((c) => c === 'call' || c === 'print' || c === 'server')).toBe(false)
  })
})
