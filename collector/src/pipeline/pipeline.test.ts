import { describe, expect, it } from 'vitest'
import { programKey, type ProgramKey } from '../../../analytics/index.ts'
import { stripUrl } from './campaign.step.ts'
import { anonymiseIp } from './ip.step.ts'
import { processEvent, type Accepted } from './pipeline.ts'
import type { Drop, RequestFacts } from './types.ts'

const writeKey: ProgramKey = programKey({ program: 'p1', kind: 'write', id: 'web', key: 'pk_x', origins: ['http://localhost:*'], channel: 'web' })
const callKey: ProgramKey = programKey({ program: 'p1', kind: 'secret', id: 'nurse', key: 'sk_x', origins: [], channel: 'call' })
// A backend: trusted with the patient ids it sends (a write key needs an identity token for them).
const serverKey: ProgramKey = programKey({ program: 'p1', kind: 'secret', id: 'be', key: 'sk_server_1', origins: [], channel: 'server' })
const NOW = Date.parse('2026-11-23T12:00:00.000Z')
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({ key: writeKey, receivedAt: NOW, userAgent: CHROME, ip: '198.51.100.23', ...over })
const accepted = (r: Accepted | Drop): Accepted['row'] => {
  if ('drop' in r) throw new Error(`dropped: ${r.drop} ${r.field} ${r.message}`)
  return r.row
}

describe('clock step', () => {
  it('shifts the event time by receivedAt - sentAt (a device clock 2 h fast)', () => {
    const row = accepted(
      processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-23T13:59:00.000Z', sentAt: '2026-11-23T14:00:00.000Z' }, facts(), ''),
    )
    expect(row.ts).toBe('2026-11-23 11:59:00.000')
    expect(row.original_ts).toBe('2026-11-23 13:59:00.000')
    expect(row.sent_at).toBe('2026-11-23 14:00:00.000')
    expect(row.received_at).toBe('2026-11-23 12:00:00.000')
    expect(row.historical).toBe(0)
  })

  it('uses the batch sentAt when the event has none', () => {
    const row = accepted(
      processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-23T09:00:00.000Z' }, facts({ sentAt: '2026-11-23T09:00:10.000Z' }), ''),
    )
    expect(row.ts).toBe('2026-11-23 11:59:50.000')
  })

  it('takes the arrival time when no timestamp is given, and the timestamp as is without sentAt', () => {
    expect(accepted(processEvent({ type: 'track', event: 'x', anonymousId: 'a' }, facts(), '')).ts).toBe('2026-11-23 12:00:00.000')
    expect(accepted(processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-20T08:00:00Z' }, facts(), '')).ts).toBe(
      '2026-11-20 08:00:00.000',
    )
  })

  it('marks events older than a day as historical', () => {
    expect(accepted(processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-20T08:00:00Z' }, facts(), '')).historical).toBe(1)
  })

  it('refuses events more than 24 h in the future after correction', () => {
    const r = processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-25T12:00:00Z' }, facts(), 'batch[2]')
    expect(r).toMatchObject({ drop: 'future_timestamp', step: 'clock', field: 'batch[2].timestamp' })
    // 30 h ahead, but sent with a clock 30 h fast: corrected to now, accepted.
    const ok = processEvent({ type: 'track', event: 'x', anonymousId: 'a', timestamp: '2026-11-24T18:00:00Z', sentAt: '2026-11-24T18:00:00Z' }, facts(), '')
    expect(accepted(ok).ts).toBe('2026-11-23 12:00:00.000')
  })
})

describe('validate step', () => {
  it('names the field and the reason', () => {
    expect(processEvent({ type: 'track', anonymousId: 'a' }, facts(), 'batch[0]')).toMatchObject({ drop: 'invalid_schema', field: 'batch[0].event' })
    expect(processEvent({ type: 'track', event: 'x' }, facts(), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'userId',
      message: 'userId or anonymousId is required',
    })
    expect(processEvent({ type: 'track', event: 'x', userId: 'u', timestamp: 'yesterday' }, facts(), '')).toMatchObject({
      field: 'timestamp',
      message: 'must be an ISO 8601 date-time',
    })
    expect(processEvent({ type: 'nope', userId: 'u' }, facts(), 'batch[1]')).toMatchObject({ drop: 'invalid_schema', field: 'batch[1].type' })
    expect(processEvent({ type: 'alias', userId: 'u' }, facts(), '')).toMatchObject({ field: 'previousId' })
  })

  it('refuses an event over 32 KB', () => {
    const r = processEvent({ type: 'track', event: 'x', userId: 'u', properties: { blob: 'x'.repeat(33 * 1024) } }, facts(), 'batch[4]')
    expect(r).toMatchObject({ drop: 'event_too_large', field: 'batch[4]' })
  })

  it('takes the type from a single-event endpoint and refuses a contradicting one', () => {
    expect(accepted(processEvent({ event: 'x', userId: 'u' }, facts({ key: serverKey }), '', 'track')).type).toBe('track')
    expect(processEvent({ type: 'page', userId: 'u' }, facts(), '', 'track')).toMatchObject({ field: 'type', message: 'must be "track" on this endpoint' })
  })

  it('refuses ids that are contact details (pseudonymous ids only)', () => {
    expect(processEvent({ type: 'identify', userId: 'anna@example.org' }, facts({ key: serverKey }), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'userId',
      message: 'must be a pseudonymous id, not an e-mail address or phone number',
    })
    expect(processEvent({ type: 'track', event: 'x', anonymousId: '+49 170 1234567' }, facts(), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'anonymousId',
    })
    expect(processEvent({ type: 'track', event: 'anna@example.org', userId: 'u' }, facts({ key: serverKey }), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'event',
    })
    expect(accepted(processEvent({ type: 'identify', userId: 'pt-4711' }, facts({ key: serverKey }), '')).user_id).toBe('pt-4711')
  })

  it('stores numeric ids as text', () => {
    const row = accepted(processEvent({ type: 'identify', userId: 12345 }, facts({ key: serverKey }), ''))
    expect(row.user_id).toBe('12345')
  })
})

describe('user agent and bot steps', () => {
  it('parses the browser header for write-key requests', () => {
    const row = accepted(processEvent({ type: 'page', anonymousId: 'a' }, facts(), ''))
    expect(row).toMatchObject({ browser: 'Chrome', browser_version: '131', os: 'Mac OS', device_type: 'desktop', is_bot: 0 })
    expect(row.context).not.toContain('Mozilla')
  })

  it('ignores a backend’s own agent but uses a forwarded one', () => {
    const own = accepted(processEvent({ type: 'track', event: 'x', userId: 'u' }, facts({ key: callKey, userAgent: 'analytics-node/3' }), ''))
    expect(own).toMatchObject({ browser: '', os: '', is_bot: 0 })
    const fwd = accepted(
      processEvent(
        {
          type: 'track',
          event: 'x',
          userId: 'u',
          context: {
            userAgent:
              'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
          },
        },
        facts({ key: callKey }),
        '',
      ),
    )
    expect(fwd).toMatchObject({ browser: 'Mobile Safari', os: 'iOS', device_type: 'mobile' })
  })

  it('flags bots', () => {
    const row = accepted(
      processEvent({ type: 'page', anonymousId: 'a' }, facts({ userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }), ''),
    )
    expect(row.is_bot).toBe(1)
  })

  it('takes a write key’s agent from its header only: a claimed context.userAgent cannot evade the bot flag', () => {
    const claimed = {
      type: 'page',
      anonymousId: 'a',
      context: {
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
      },
    }
    const row = accepted(processEvent(claimed, facts({ userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }), ''))
    expect(row).toMatchObject({ is_bot: 1, os: '' })
    expect(row.context).not.toContain('iPhone')
  })
})

describe('campaign step', () => {
  it('takes UTM fields from the page URL and strips other query parameters', () => {
    const row = accepted(
      processEvent(
        {
          type: 'page',
          anonymousId: 'a',
          name: 'Itch relief',
          context: {
            page: {
              url: 'https://care.example/itch?utm_source=newsletter&utm_medium=email&utm_campaign=winter&token=secret&atn=t1#top',
              referrer: 'https://search.example/?q=psoriasis+flare',
              search: '?token=secret',
            },
          },
        },
        facts(),
        '',
      ),
    )
    expect(row).toMatchObject({
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_campaign: 'winter',
      page_path: '/itch',
      page_title: 'Itch relief',
      referrer: 'https://search.example/',
    })
    expect(row.page_url).toBe('https://care.example/itch?utm_source=newsletter&utm_medium=email&utm_campaign=winter&atn=t1')
    expect(row.context).not.toContain('secret')
    expect(row.context).not.toContain('psoriasis+flare')
  })

  it('falls back to context.campaign and strips URLs in properties', () => {
    const row = accepted(
      processEvent(
        {
          type: 'page',
          anonymousId: 'a',
          properties: { url: 'https://care.example/a?email=x', search: '?email=x' },
          context: { campaign: { source: 'sms', name: 'refill' } },
        },
        facts(),
        '',
      ),
    )
    expect(row).toMatchObject({ utm_source: 'sms', utm_campaign: 'refill', page_url: 'https://care.example/a' })
    expect(JSON.parse(row.properties)).toEqual({ url: 'https://care.example/a' })
  })

  it('keeps only the path of a relative URL', () => {
    expect(stripUrl('/diary?patient=123')).toBe('/diary')
  })
})

describe('channel step', () => {
  it('is web for a write key, the prefix for email and SMS events, the key’s channel for a secret key', () => {
    expect(accepted(processEvent({ type: 'page', anonymousId: 'a' }, facts(), '')).channel).toBe('web')
    expect(accepted(processEvent({ type: 'track', event: 'email_click', anonymousId: 'a' }, facts(), '')).channel).toBe('email')
    expect(accepted(processEvent({ type: 'track', event: 'sms_click', anonymousId: 'a' }, facts(), '')).channel).toBe('sms')
    expect(accepted(processEvent({ type: 'track', event: 'call_completed', userId: 'u' }, facts({ key: callKey }), '')).channel).toBe('call')
    expect(accepted(processEvent({ type: 'track', event: 'x', userId: 'u', context: { channel: 'print' } }, facts({ key: serverKey }), '')).channel).toBe(
      'print',
    )
  })

  it('refuses an event on another channel from a channel key (a nurse line cannot send print or e-mail touches)', () => {
    expect(processEvent({ type: 'track', event: 'x', userId: 'u', context: { channel: 'print' } }, facts({ key: callKey }), 'batch[1]')).toMatchObject({
      drop: 'channel_not_allowed',
      step: 'channel',
      field: 'batch[1].context.channel',
      message: 'key nurse sends on the call channel only, not print',
    })
    expect(processEvent({ type: 'track', event: 'email_opened', userId: 'u' }, facts({ key: callKey }), '')).toMatchObject({
      drop: 'channel_not_allowed',
      field: 'event',
    })
    expect(accepted(processEvent({ type: 'track', event: 'x', userId: 'u', context: { channel: 'call' } }, facts({ key: callKey }), '')).channel).toBe('call')
  })

  it('does not let a browser claim an offline channel', () => {
    expect(accepted(processEvent({ type: 'track', event: 'x', anonymousId: 'a', context: { channel: 'call' } }, facts(), '')).channel).toBe('web')
    expect(accepted(processEvent({ type: 'track', event: 'call_done', anonymousId: 'a' }, facts(), '')).channel).toBe('web')
    expect(accepted(processEvent({ type: 'track', event: 'print_delivered', anonymousId: 'a' }, facts(), '')).channel).toBe('web')
  })
})

describe('ip step', () => {
  it('keeps a network prefix only', () => {
    expect(anonymiseIp('198.51.100.23')).toBe('198.51.100.0')
    expect(anonymiseIp('::ffff:198.51.100.23')).toBe('198.51.100.0')
    expect(anonymiseIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::')
    expect(anonymiseIp('2001:db8::1')).toBe('2001:db8:0::')
    expect(anonymiseIp('not an ip')).toBe('')
  })

  it('never stores the raw address, forwarded or peer', () => {
    const peer = accepted(processEvent({ type: 'page', anonymousId: 'a' }, facts(), ''))
    expect(peer.ip_prefix).toBe('198.51.100.0')
    const fwd = accepted(processEvent({ type: 'track', event: 'x', userId: 'u', context: { ip: '203.0.113.77' } }, facts({ key: callKey }), ''))
    expect(fwd.ip_prefix).toBe('203.0.113.0')
    expect(JSON.stringify(fwd)).not.toContain('203.0.113.77')
    // A backend request's own address is not the patient's.
    expect(accepted(processEvent({ type: 'track', event: 'x', userId: 'u' }, facts({ key: callKey }), '')).ip_prefix).toBe('')
  })

  it('uses the peer address for a write key, whatever context.ip claims', () => {
    const row = accepted(processEvent({ type: 'page', anonymousId: 'a', context: { ip: '203.0.113.77' } }, facts(), ''))
    expect(row.ip_prefix).toBe('198.51.100.0')
    expect(JSON.stringify(row)).not.toContain('203.0.113')
  })
})

describe('privacy step', () => {
  it('removes contact details from traits and masks e-mail addresses anywhere', () => {
    const row = accepted(
      processEvent(
        {
          type: 'identify',
          userId: 'pt-9',
          traits: { email: 'anna@example.org', phone: '+49 170 1234567', firstName: 'Anna', therapy: 'biologic', note: 'write to anna@example.org' },
          context: { traits: { email: 'anna@example.org' } },
        },
        facts({ key: serverKey }),
        '',
      ),
    )
    expect(JSON.parse(row.traits)).toEqual({ therapy: 'biologic', note: 'write to [redacted]' })
    expect(JSON.stringify(row)).not.toMatch(/anna@|1234567|Anna/)
  })

  it('drops contact keys from properties, masks phone numbers, keeps page names and time zones', () => {
    const row = accepted(
      processEvent(
        {
          type: 'page',
          anonymousId: 'a',
          name: 'Call +49 170 1234567',
          properties: { name: 'Flare diary', phone: '+49 170 1234567', ip: '203.0.113.7', note: 'ring +1 (555) 010-0199', tz: '2026-11-23T10:00:00+01:00' },
          context: { locale: 'de-DE', note: 'ring +44 20 7946 0958' },
        },
        facts(),
        '',
      ),
    )
    expect(JSON.parse(row.properties)).toEqual({ name: 'Flare diary', note: 'ring [redacted]', tz: '2026-11-23T10:00:00+01:00' })
    expect(row.page_title).toBe('Call [redacted]')
    expect(JSON.stringify(row)).not.toMatch(/1234567|010-0199|7946|203\.0\.113\.7/)
  })

  it('drops contact keys even from a request that cannot hold an address or number', () => {
    const row = accepted(
      processEvent(
        { type: 'track', event: 'x', userId: 'u', properties: { email: 'none', therapy: 'topical' } },
        facts({ key: serverKey, mayContainContact: false }),
        '',
      ),
    )
    expect(JSON.parse(row.properties)).toEqual({ therapy: 'topical' })
  })

  it('masks phone numbers in national and 00-prefixed formats, but not dates, times, versions or uuids', () => {
    const note =
      'call 0170 1234567, 0049 170 1234567 or 030/1234567; seen 2026-11-23T10:00:00+01:00, on 01.12.2026 10:30, v0.1.0, id 03621187-3425-4a2b-8c1d-0123456789ab'
    const r = processEvent({ type: 'track', event: 'x', userId: 'u', properties: { note } }, facts({ key: serverKey }), '')
    if ('drop' in r) throw new Error(r.message)
    expect(JSON.parse(r.row.properties).note).toBe(
      'call [redacted], [redacted] or [redacted]; seen 2026-11-23T10:00:00+01:00, on 01.12.2026 10:30, v0.1.0, id 03621187-3425-4a2b-8c1d-0123456789ab',
    )
    expect(r.scrubbed).toEqual({ personal_data_key: 0, email: 0, phone: 3 })
  })

  it('masks what the review got past it: numbers after a colon or underscore, spaced US numbers, fullwidth forms, percent-encoding; refuses such an event name', () => {
    const props = {
      a: 'Telefon:01701234567',
      b: 'ref_01701234567',
      c: '555 010 0199',
      d: '＋４９ １７０ １２３４５６７',
      e: 'jane＠example.com',
      f: '?email=jane%40example.com',
      g: 'at 10:05:01 on 2026-11-23',
    }
    const r = processEvent({ type: 'track', event: 'x', userId: 'u', properties: props }, facts({ key: serverKey }), '')
    if ('drop' in r) throw new Error(r.message)
    expect(JSON.parse(r.row.properties)).toEqual({
      a: 'Telefon:[redacted]',
      b: 'ref_[redacted]',
      c: '[redacted]',
      d: '[redacted]',
      e: '[redacted]',
      f: '?email=[redacted]',
      g: 'at 10:05:01 on 2026-11-23',
    })
    // A digit written as a JSON escape still reaches the scan (the body decoder's shortcut sees the escape).
    expect(processEvent({ type: 'track', event: 'called 0170 1234567', userId: 'u' }, facts({ key: serverKey }), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'event',
    })
    expect(processEvent({ type: 'identify', userId: 'tel:+491701234567' }, facts({ key: serverKey }), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'userId',
    })
    expect(
      JSON.parse(
        accepted(
          processEvent(
            { type: 'track', event: 'x', userId: 'u', properties: { customer_email: 'j', patient_name: 'A B', campaign_name: 'winter' } },
            facts({ key: serverKey }),
            '',
          ),
        ).properties,
      ),
    ).toEqual({ campaign_name: 'winter' })
  })

  it('removes personal-data keys in any spelling, the program’s own too, keeping a view’s name', () => {
    const key = programKey({
      program: 'p1',
      kind: 'secret',
      id: 'be2',
      key: 'sk_server_2',
      origins: [],
      channel: 'server',
      catalogue: { needs: {}, pages: [], goals: [], personalDataKeys: ['patientnumber'] },
    })
    const r = processEvent(
      {
        type: 'track',
        event: 'x',
        userId: 'u',
        properties: {
          name: 'Anna Muster',
          dob: '1980-02-03',
          address_line: 'Main St 1',
          'Insurance-Number': 'A123456789',
          patient_number: '4711',
          therapy: 'topical',
        },
      },
      facts({ key }),
      '',
    )
    if ('drop' in r) throw new Error(r.message)
    expect(JSON.parse(r.row.properties)).toEqual({ therapy: 'topical' })
    expect(r.scrubbed.personal_data_key).toBe(5)
    expect(JSON.parse(accepted(processEvent({ type: 'page', anonymousId: 'a', properties: { name: 'Flare diary' } }, facts(), '')).properties)).toEqual({
      name: 'Flare diary',
    })
    // Context names things (library, campaign): those stay.
    expect(
      accepted(
        processEvent(
          { type: 'track', event: 'x', userId: 'u', context: { campaign: { name: 'winter' }, library: { name: 'lib', version: '1' } } },
          facts({ key }),
          '',
        ),
      ).utm_campaign,
    ).toBe('winter')
  })

  it('refuses an id that is a phone number in any format', () => {
    for (const id of ['00491701234567', '0170 1234567', '+49 170 1234567', '(555) 010-0199']) {
      expect(processEvent({ type: 'identify', userId: id }, facts({ key: serverKey }), ''), id).toMatchObject({
        drop: 'invalid_schema',
        field: 'userId',
        message: 'must be a pseudonymous id, not an e-mail address or phone number',
      })
    }
    expect(accepted(processEvent({ type: 'identify', userId: 'p-000080' }, facts({ key: serverKey }), '')).user_id).toBe('p-000080')
  })

  it('refuses a messageId that is an e-mail address', () => {
    expect(processEvent({ type: 'track', event: 'x', userId: 'u', messageId: 'anna@example.org' }, facts(), '')).toMatchObject({
      drop: 'invalid_schema',
      field: 'messageId',
    })
  })
})

describe('resolve program step', () => {
  it('sets program, key, ids and library', () => {
    const row = accepted(
      processEvent(
        { type: 'alias', userId: 'pt-1', previousId: 'anon-1', messageId: 'm-9', context: { library: { name: 'attune.js', version: '0.1.0' } } },
        facts({ key: serverKey }),
        '',
      ),
    )
    expect(row).toMatchObject({
      program: 'p1',
      key_id: 'be',
      message_id: 'm-9',
      type: 'alias',
      event: 'alias',
      user_id: 'pt-1',
      previous_id: 'anon-1',
      library_name: 'attune.js',
      library_version: '0.1.0',
    })
    expect(accepted(processEvent({ type: 'group', userId: 'pt-1', groupId: 'clinic-7' }, facts({ key: serverKey }), '')).group_id).toBe('clinic-7')
  })
})

describe('records step', () => {
  it('refuses Attune’s own events from any key, and clinical dates that are not YYYY-MM-DD', () => {
    expect(
      processEvent({ type: 'track', event: 'decision', userId: 'p-1', properties: { rule: 'x', outcome: 'shown' } }, facts({ key: callKey }), ''),
    ).toMatchObject({ step: 'records', field: 'event' })
    expect(processEvent({ type: 'track', event: 'stage_changed', anonymousId: 'a', properties: { stage: 'engaged' } }, facts(), '')).toMatchObject({
      step: 'records',
      field: 'event',
    })
    const identify = (dates: unknown) => processEvent({ type: 'identify', userId: 'p-1', traits: { dates } }, facts({ key: callKey }), '')
    expect(JSON.parse(accepted(identify({ therapy_start: '2026-10-01', quit_date: '2026-12-31' })).traits)).toEqual({
      dates: { therapy_start: '2026-10-01', quit_date: '2026-12-31' },
    })
    expect(identify({ therapy_start: '01.10.2026' })).toMatchObject({ step: 'records', field: 'traits.dates.therapy_start' })
    expect(identify({ therapy_start: '2026-13-45' })).toMatchObject({ step: 'records', field: 'traits.dates.therapy_start' })
    expect(identify({ 'Therapy Start': '2026-10-01' })).toMatchObject({ step: 'records', field: 'traits.dates.Therapy Start' })
    expect(identify(['2026-10-01'])).toMatchObject({ step: 'records', field: 'traits.dates' })
  })
})

describe('consent (records step)', () => {
  const consent = (c: unknown, key: ProgramKey = serverKey) =>
    processEvent(
      { type: 'track', event: 'consent_updated', userId: 'p-1', ...(key.kind === 'write' ? { anonymousId: 'a-1' } : {}), properties: { consent: c } },
      facts({ key }),
      'batch[2]',
    )
  it('accepts scope → true/false from a backend, and analytics/web from a browser', () => {
    // The privacy step drops contact keys such as `email`, but not one that holds only yes or no.
    expect(JSON.parse(accepted(consent({ email: true, sms: false, call: true, print: false })).properties)).toEqual({
      consent: { email: true, sms: false, call: true, print: false },
    })
    expect(accepted(consent({ analytics: true, web: false }, writeKey)).event).toBe('consent_updated')
  })
  it('refuses malformed records naming the field, and channel consent from a write key', () => {
    const drop = (r: Accepted | Drop) => ('drop' in r ? { step: r.step, field: r.field } : null)
    expect(drop(consent('yes'))).toEqual({ step: 'records', field: 'batch[2].properties.consent' })
    expect(drop(consent({}))).toEqual({ step: 'records', field: 'batch[2].properties.consent' })
    expect(drop(consent({ newsletter: true }))).toEqual({ step: 'records', field: 'batch[2].properties.consent.newsletter' })
    expect(drop(consent({ sms: 'yes' }))).toEqual({ step: 'records', field: 'batch[2].properties.consent.sms' })
    expect(drop(consent({ analytics: true, email: true }, writeKey))).toEqual({ step: 'records', field: 'batch[2].properties.consent.email' })
    expect(consent({ sms: true }, writeKey)).toMatchObject({ message: expect.stringMatching(/secret key/) })
    // A vendor's channel key records its own channel's consent only.
    expect(accepted(consent({ call: true }, callKey)).event).toBe('consent_updated')
    expect(consent({ call: true, sms: true }, callKey)).toMatchObject({
      drop: 'invalid_schema',
      field: 'batch[2].properties.consent.sms',
      message: 'key nurse records consent for the call channel only',
    })
  })
})
