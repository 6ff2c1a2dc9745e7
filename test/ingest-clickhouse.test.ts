// Events sent over HTTP, read back from the `events` table of the real embedded ClickHouse:
// clock correction (D9), channels, user agents, campaigns, privacy (P8) and de-duplication (D3).
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../collector/index.ts'
import { basic, DEMO, ROOT, startService, tempDir, waitFor } from './helpers.ts'

/** A second program, to show that de-duplication is per program. */
const OTHER = { program: 'eczema-demo', writeKey: 'pk_demo_eczema_0c1d2e3f', secretKey: 'sk_demo_eczema_9a8b7c6d5e' }

const programs = tempDir('attune-programs-')
let svc: Awaited<ReturnType<typeof startService>>
let service: Service

beforeAll(async () => {
  mkdirSync(programs.dir, { recursive: true })
  copyFileSync(join(ROOT, 'programs/psoriasis-demo.json'), join(programs.dir, 'psoriasis-demo.json'))
  writeFileSync(
    join(programs.dir, 'eczema-demo.json'),
    JSON.stringify({
      id: OTHER.program,
      name: 'Eczema demo',
      market: 'FR',
      timeZone: 'Europe/Paris',
      demo: true,
      keys: { write: [{ id: 'web-eczema', key: OTHER.writeKey, origins: ['http://localhost:*'] }], secret: [{ id: 'backend-eczema', key: OTHER.secretKey }] },
    }),
  )
  svc = await startService({ env: { ATTUNE_PROGRAMS: programs.dir } })
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
  programs.remove()
})

const CHROME_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1'
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'

async function post(path: string, body: unknown, key: string = DEMO.secretKey, headers: Record<string, string> = {}): Promise<void> {
  const res = await service.app.request(path, {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const answer = (await res.json()) as { accepted?: number; rejected?: unknown[] }
  expect(res.status, JSON.stringify(answer)).toBe(200)
  expect(answer.rejected).toEqual([])
}

/** A stored row, times also as epoch milliseconds. */
type Row = Record<string, string | number | null> & { ts_ms: number; original_ms: number; received_ms: number; sent_ms: number | null }

/** Waits until every id has landed, then returns the rows by message id. */
async function landed(ids: string[], program: string = DEMO.program): Promise<Map<string, Row>> {
  const q = 'SELECT count() c FROM events WHERE program = {program:String} AND message_id IN {ids:Array(String)}'
  await waitFor(
    async () => {
      // A row ClickHouse refuses blocks every insert after it; say so at once.
      const w = service.writer.state
      if (w.consecutiveFailures >= 2) throw new Error(`inserts keep failing: ${w.lastError}`)
      return Number((await service.db.query<{ c: string }>(q, { program, ids }))[0]!.c) >= ids.length
    },
    20_000,
    `${ids.length} events in ClickHouse`,
  )
  const rows = await service.db.query<Row>(
    `SELECT *, toUnixTimestamp64Milli(ts) ts_ms, toUnixTimestamp64Milli(original_ts) original_ms, toUnixTimestamp64Milli(received_at) received_ms,
            if(isNull(sent_at), NULL, toUnixTimestamp64Milli(assumeNotNull(sent_at))) sent_ms
     FROM events WHERE program = {program:String} AND message_id IN {ids:Array(String)}`,
    { program, ids },
  )
  const out = new Map<string, Row>()
  for (const r of rows) {
    for (const k of ['ts_ms', 'original_ms', 'received_ms'] as const) r[k] = Number(r[k])
    if (r.sent_ms !== null) r.sent_ms = Number(r.sent_ms)
    out.set(r.message_id as string, r)
  }
  expect([...out.keys()].sort()).toEqual([...ids].sort())
  return out
}

const row = (m: Map<string, Row>, id: string): Row => m.get(id)!

describe('time (D9)', () => {
  it('corrects a clock that is 2 h off by receivedAt - sentAt, within 1 s, and stores the three times', async () => {
    const H2 = 2 * 3600_000
    const before = Date.now()
    const happened = before - 10_000
    // Each client stamps the event and the send by its own clock.
    const slow = {
      type: 'track',
      userId: 'p-1',
      event: 'slow_clock',
      messageId: 't-slow',
      timestamp: new Date(happened - H2).toISOString(),
      sentAt: new Date(before - H2).toISOString(),
    }
    const fast = { type: 'track', userId: 'p-1', event: 'fast_clock', messageId: 't-fast', timestamp: new Date(happened + H2).toISOString() }
    await post('/v1/batch', { batch: [slow] })
    await post('/v1/batch', { batch: [fast], sentAt: new Date(before + H2).toISOString() })
    await post('/v1/track', {
      userId: 'p-1',
      event: 'single',
      messageId: 't-single',
      timestamp: new Date(happened - H2).toISOString(),
      sentAt: new Date(before - H2).toISOString(),
    })
    const after = Date.now()
    const rows = await landed(['t-slow', 't-fast', 't-single'])
    for (const [id, offset] of [
      ['t-slow', -H2],
      ['t-fast', H2],
      ['t-single', -H2],
    ] as const) {
      const r = row(rows, id)
      expect(Math.abs(r.ts_ms - happened), id).toBeLessThanOrEqual(1000)
      expect(r.original_ms, id).toBe(happened + offset)
      expect(r.sent_ms, id).toBe(before + offset)
      expect(r.received_ms, id).toBeGreaterThanOrEqual(before)
      expect(r.received_ms, id).toBeLessThanOrEqual(after)
      // Exactly Segment's rule, to the millisecond.
      expect(r.ts_ms, id).toBe(r.original_ms + (r.received_ms - r.sent_ms!))
      expect(r.historical, id).toBe(0)
    }
  })

  it('marks events more than a day old as historical; an event without a timestamp happened on arrival', async () => {
    const now = Date.now()
    const sentAt = new Date(now).toISOString()
    await post('/v1/import', {
      sentAt,
      batch: [
        { type: 'track', userId: 'p-1', event: 'old', messageId: 't-3d', timestamp: new Date(now - 3 * 86400_000).toISOString() },
        { type: 'track', userId: 'p-1', event: 'recent', messageId: 't-23h', timestamp: new Date(now - 23 * 3600_000).toISOString() },
        { type: 'track', userId: 'p-1', event: 'untimed', messageId: 't-none' },
        // Event-level sentAt wins over the batch's.
        {
          type: 'track',
          userId: 'p-1',
          event: 'own_sent_at',
          messageId: 't-own',
          timestamp: new Date(now - 4 * 86400_000).toISOString(),
          sentAt: new Date(now - 4 * 86400_000 + 1000).toISOString(),
        },
      ],
    })
    const rows = await landed(['t-3d', 't-23h', 't-none', 't-own'])
    expect(row(rows, 't-3d').historical).toBe(1)
    expect(Math.abs(row(rows, 't-3d').ts_ms - (now - 3 * 86400_000))).toBeLessThanOrEqual(1000)
    expect(row(rows, 't-23h').historical).toBe(0)
    expect(row(rows, 't-none').ts_ms).toBe(row(rows, 't-none').received_ms)
    expect(row(rows, 't-none').original_ms).toBe(row(rows, 't-none').received_ms)
    expect(row(rows, 't-none').sent_ms).toBe(now)
    expect(row(rows, 't-own').historical).toBe(0)
    expect(Math.abs(row(rows, 't-own').ts_ms - (now - 1000))).toBeLessThanOrEqual(1000)
  })
})

describe('channel', () => {
  it('web for a write key, email/sms from the event name, the secret key’s own, and context.channel where the key may claim it', async () => {
    const t = (messageId: string, event: string, context?: Record<string, unknown>) => ({
      type: 'track',
      userId: 'p-1',
      anonymousId: 'a-1',
      event,
      messageId,
      ...(context ? { context } : {}),
    })
    await post(
      '/v1/batch',
      {
        batch: [
          t('c-web', 'diary_downloaded'),
          t('c-email', 'email_click'),
          t('c-sms', 'sms_click'),
          t('c-app', 'opened', { channel: 'app' }),
          t('c-claim-call', 'opened', { channel: 'call' }),
        ],
      },
      DEMO.writeKey,
    )
    // A channel key sends on its own channel only: the nurse line's e-mail click is refused.
    const patientOnly = (m: Record<string, unknown>) => ({ ...m, anonymousId: undefined })
    await post('/v1/batch', { batch: [patientOnly(t('c-call', 'note_taken'))] }, DEMO.callKey)
    const call = await service.app.request('/v1/batch', {
      method: 'POST',
      headers: { authorization: basic(DEMO.callKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [patientOnly(t('c-call-email', 'email_click'))] }),
    })
    expect(await call.json()).toMatchObject({
      error: { code: 'no_valid_events', rejected: [{ index: 0, reason: 'channel_not_allowed', field: 'batch[0].event' }] },
    })
    await post('/v1/batch', { batch: [patientOnly(t('c-print', 'letter_sent'))] }, DEMO.printKey)
    await post(
      '/v1/batch',
      {
        batch: [
          t('c-server', 'refill_due'),
          t('c-ctx-sms', 'reminder', { channel: 'sms' }),
          t('c-ctx-call', 'reminder', { channel: 'call' }),
          t('c-ctx-bad', 'reminder', { channel: 'pigeon' }),
        ],
      },
      DEMO.secretKey,
    )
    const rows = await landed(['c-web', 'c-email', 'c-sms', 'c-app', 'c-claim-call', 'c-call', 'c-print', 'c-server', 'c-ctx-sms', 'c-ctx-call', 'c-ctx-bad'])
    const channels = Object.fromEntries([...rows].map(([id, r]) => [id, r.channel]))
    expect(channels).toEqual({
      'c-web': 'web',
      'c-email': 'email',
      'c-sms': 'sms',
      'c-app': 'app',
      // A browser cannot claim to be the call centre.
      'c-claim-call': 'web',
      'c-call': 'call',
      'c-print': 'print',
      'c-server': 'server',
      'c-ctx-sms': 'sms',
      'c-ctx-call': 'call',
      'c-ctx-bad': 'server',
    })
    expect(row(rows, 'c-call').key_id).toBe('nurse-line-demo')
    for (const [id, r] of rows) expect(JSON.parse(r.context as string), id).not.toHaveProperty('channel')
  })
})

describe('user agent', () => {
  it('parses the browser’s User-Agent header for write keys and context.userAgent for any key; flags bots', async () => {
    await post('/v1/track', { anonymousId: 'a-1', event: 'ua', messageId: 'ua-header' }, DEMO.writeKey, { 'user-agent': CHROME_WIN })
    await post('/v1/track', { userId: 'p-1', event: 'ua', messageId: 'ua-context', context: { userAgent: SAFARI_IPHONE } }, DEMO.secretKey, {
      'user-agent': 'attune-backend/1.0',
    })
    // A backend's own agent says nothing about the patient.
    await post('/v1/track', { userId: 'p-1', event: 'ua', messageId: 'ua-backend' }, DEMO.secretKey, { 'user-agent': CHROME_WIN })
    await post('/v1/page', { anonymousId: 'a-1', messageId: 'ua-googlebot' }, DEMO.writeKey, { 'user-agent': GOOGLEBOT })
    await post('/v1/track', { userId: 'p-1', event: 'ua', messageId: 'ua-bot-context', context: { userAgent: GOOGLEBOT } })
    const rows = await landed(['ua-header', 'ua-context', 'ua-backend', 'ua-googlebot', 'ua-bot-context'])
    const pick = (id: string) => {
      const r = row(rows, id)
      return { browser: r.browser, browser_version: r.browser_version, os: r.os, os_version: r.os_version, device_type: r.device_type, is_bot: r.is_bot }
    }
    expect(pick('ua-header')).toEqual({ browser: 'Chrome', browser_version: '120', os: 'Windows', os_version: '10', device_type: 'desktop', is_bot: 0 })
    expect(pick('ua-context')).toEqual({ browser: 'Mobile Safari', browser_version: '17', os: 'iOS', os_version: '17.2', device_type: 'mobile', is_bot: 0 })
    expect(pick('ua-backend')).toEqual({ browser: '', browser_version: '', os: '', os_version: '', device_type: '', is_bot: 0 })
    expect(pick('ua-googlebot').is_bot).toBe(1)
    expect(pick('ua-bot-context').is_bot).toBe(1)
    expect(JSON.parse(row(rows, 'ua-context').context as string)).not.toHaveProperty('userAgent')
  })
})

describe('campaign and URLs', () => {
  it('takes UTM fields from the page URL and strips every other query parameter and the fragment', async () => {
    const url =
      'https://clearskin.example/diary/week-2?session=abc123&utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=itch&utm_content=hero&atn=tok_42&patient=p-9#section-3'
    const referrer = 'https://www.search.example/search?q=psoriasis+cream&client=x'
    await post(
      '/v1/page',
      {
        anonymousId: 'a-1',
        name: 'Diary',
        messageId: 'u-page',
        context: { page: { url, referrer, path: '/diary/week-2', search: '?session=abc123&patient=p-9', title: 'Diary' } },
      },
      DEMO.writeKey,
    )
    await post('/v1/track', { userId: 'p-1', event: 'video_played', messageId: 'u-props', properties: { url, referrer, search: '?session=abc123' } })
    await post(
      '/v1/page',
      {
        anonymousId: 'a-1',
        messageId: 'u-campaign',
        context: { page: { url: 'https://clearskin.example/start?session=zz' }, campaign: { source: 'clinic', medium: 'print', name: 'leaflet' } },
      },
      DEMO.writeKey,
    )
    const rows = await landed(['u-page', 'u-props', 'u-campaign'])
    const stripped =
      'https://clearskin.example/diary/week-2?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=itch&utm_content=hero&atn=tok_42'
    for (const id of ['u-page', 'u-props']) {
      const r = row(rows, id)
      expect(
        {
          page_url: r.page_url,
          page_path: r.page_path,
          referrer: r.referrer,
          utm_source: r.utm_source,
          utm_medium: r.utm_medium,
          utm_campaign: r.utm_campaign,
          utm_term: r.utm_term,
          utm_content: r.utm_content,
        },
        id,
      ).toEqual({
        page_url: stripped,
        page_path: '/diary/week-2',
        referrer: 'https://www.search.example/search',
        utm_source: 'newsletter',
        utm_medium: 'email',
        utm_campaign: 'spring',
        utm_term: 'itch',
        utm_content: 'hero',
      })
    }
    expect(row(rows, 'u-page').page_title).toBe('Diary')
    expect(JSON.parse(row(rows, 'u-page').context as string).page).toEqual({
      url: stripped,
      referrer: 'https://www.search.example/search',
      path: '/diary/week-2',
      title: 'Diary',
    })
    expect(JSON.parse(row(rows, 'u-props').properties as string)).toEqual({ url: stripped, referrer: 'https://www.search.example/search' })
    const c = row(rows, 'u-campaign')
    expect([c.page_url, c.utm_source, c.utm_medium, c.utm_campaign]).toEqual(['https://clearskin.example/start', 'clinic', 'print', 'leaflet'])
    // Nothing of the stripped query survives in any column.
    for (const [id, r] of rows) {
      for (const [col, v] of Object.entries(r)) {
        if (typeof v !== 'string') continue
        for (const secret of ['abc123', 'patient=', 'p-9', 'psoriasis+cream', 'client=x', 'section-3', 'session='])
          expect(v, `${id}.${col}`).not.toContain(secret)
      }
    }
  })
})

describe('privacy (P8)', () => {
  it('stores no raw IP address, only its prefix', async () => {
    const raw = '203.0.113.77'
    await post('/v1/track', { userId: 'p-1', event: 'ip', messageId: 'ip-context', context: { ip: raw } })
    await post('/v1/batch', {
      batch: [{ type: 'page', anonymousId: 'a-1', messageId: 'ip-batch', properties: { note: 'from the clinic' } }],
      context: { ip: raw },
    })
    await post('/v1/identify', { userId: 'p-1', messageId: 'ip-traits', traits: { ip: raw, plan: 'standard' }, context: { ip: raw, traits: { ip: raw } } })
    await post('/v1/track', { userId: 'p-1', event: 'ip', messageId: 'ip-v6', context: { ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348' } })
    await post('/v1/track', { userId: 'p-1', event: 'ip', messageId: 'ip-mapped', context: { ip: '::ffff:203.0.113.77' } })
    const rows = await landed(['ip-context', 'ip-batch', 'ip-traits', 'ip-v6', 'ip-mapped'])
    expect(Object.fromEntries([...rows].map(([id, r]) => [id, r.ip_prefix]))).toEqual({
      'ip-context': '203.0.113.0',
      'ip-batch': '203.0.113.0',
      'ip-traits': '203.0.113.0',
      'ip-v6': '2001:db8:85a3::',
      'ip-mapped': '203.0.113.0',
    })
    // Every String column of every row in the table, not only these.
    const all = await service.db.query<Record<string, unknown>>('SELECT * FROM events')
    for (const r of all) {
      for (const [col, v] of Object.entries(r)) {
        if (typeof v !== 'string') continue
        expect(v, `${String(r.message_id)}.${col}`).not.toContain(raw)
        expect(v, `${String(r.message_id)}.${col}`).not.toContain('1319:8a2e')
      }
    }
  })

  it('stores no e-mail address: traits lose it, properties, page fields and context mask it', async () => {
    const email = 'jane.doe@example.com'
    await post('/v1/identify', {
      userId: 'p-1',
      messageId: 'em-identify',
      traits: { email, Email: email, plan: 'standard' },
      context: { traits: { email, cohort: 'b' } },
    })
    await post('/v1/track', {
      userId: 'p-1',
      event: 'message_sent',
      messageId: 'em-track',
      properties: { note: `write to ${email} please`, list: [email, 'ok'], nested: { to: email } },
    })
    // The e-mail in a URL path and a title reaches the page columns only masked.
    await post('/v1/page', {
      anonymousId: 'a-1',
      name: `Profile of ${email}`,
      messageId: 'em-page',
      properties: { url: `https://clearskin.example/u/${email}/profile?email=${email}`, title: `Hi ${email}` },
    })
    await post(
      '/v1/page',
      {
        anonymousId: 'a-1',
        messageId: 'em-context',
        context: { page: { url: `https://clearskin.example/u/${email}`, title: email, referrer: `https://mail.example/?to=${email}` } },
      },
      DEMO.writeKey,
    )
    await post('/v1/screen', { userId: 'p-1', name: `Inbox of ${email}`, messageId: 'em-name' })
    const rows = await landed(['em-identify', 'em-track', 'em-page', 'em-context', 'em-name'])
    expect(row(rows, 'em-name').page_title).toBe('Inbox of [redacted]')
    expect(JSON.parse(row(rows, 'em-identify').traits as string)).toEqual({ plan: 'standard' })
    expect(JSON.parse(row(rows, 'em-identify').context as string).traits).toEqual({ cohort: 'b' })
    expect(JSON.parse(row(rows, 'em-track').properties as string)).toEqual({
      note: 'write to [redacted] please',
      list: ['[redacted]', 'ok'],
      nested: { to: '[redacted]' },
    })
    const page = row(rows, 'em-page')
    expect([page.page_url, page.page_path, page.page_title]).toEqual([
      'https://clearskin.example/u/[redacted]/profile',
      '/u/[redacted]/profile',
      'Hi [redacted]',
    ])
    const ctx = row(rows, 'em-context')
    expect([ctx.page_url, ctx.page_path, ctx.page_title, ctx.referrer]).toEqual([
      'https://clearskin.example/u/[redacted]',
      '/u/[redacted]',
      '[redacted]',
      'https://mail.example/',
    ])
    const pattern = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/
    const all = await service.db.query<Record<string, unknown>>('SELECT * FROM events')
    for (const r of all) {
      for (const [col, v] of Object.entries(r)) if (typeof v === 'string') expect(v, `${String(r.message_id)}.${col}`).not.toMatch(pattern)
    }
  })
})

describe('storable text', () => {
  it('stores events with half an emoji, refuses a far-future year, and stores the events after them', async () => {
    // Before the fix, ClickHouse refused these rows and the writer retried the insert forever.
    const body =
      '{"batch":[{"type":"track","userId":"p-\\ud83d","event":"cut\\udc00","messageId":"s-surrogate","properties":{"k\\ud800":"v"}},' +
      '{"type":"track","userId":"p-1","event":"far","messageId":"s-year","timestamp":"+010000-01-01T00:00:00Z","sentAt":"+010000-01-01T00:00:00Z"},' +
      '{"type":"track","userId":"p-1","event":"emoji 😀","messageId":"s-emoji"}]}'
    const res = await service.app.request('/v1/batch', { method: 'POST', headers: { authorization: basic(DEMO.secretKey) }, body })
    expect(res.status).toBe(200)
    // A time ClickHouse cannot store is refused with its reason, never clamped.
    expect(((await res.json()) as { rejected: unknown[] }).rejected).toEqual([
      { index: 1, reason: 'invalid_timestamp', field: 'batch[1].timestamp', message: 'must be between 1970-01-02 and 2299-12-31' },
    ])
    await post('/v1/track', { userId: 'p-1', event: 'after', messageId: 's-after' })
    const rows = await landed(['s-surrogate', 's-emoji', 's-after'])
    expect([row(rows, 's-surrogate').user_id, row(rows, 's-surrogate').event]).toEqual(['p-\ufffd', 'cut\ufffd'])
    expect(row(rows, 's-emoji').event).toBe('emoji 😀')
    expect(service.writer.state.consecutiveFailures).toBe(0)
  })
})

describe('de-duplication (D3)', () => {
  it('counts each (program, messageId) once: a batch sent again with another sentAt, and repeats inside a batch', async () => {
    const ids = ['d-1', 'd-2', 'd-3', 'd-4', 'd-5']
    const batch = ids.map((messageId, i) => ({
      type: 'track',
      userId: 'p-1',
      event: 'dose_logged',
      messageId,
      timestamp: new Date(Date.now() - (i + 1) * 60_000).toISOString(),
    }))
    const now = Date.now()
    await post('/v1/batch', { batch, sentAt: new Date(now).toISOString() })
    await landed(ids)
    // Resent after it landed (the writer finds the ids in ClickHouse) ...
    await post('/v1/batch', { batch, sentAt: new Date(now + 5 * 60_000).toISOString() })
    await post('/v1/batch', { batch: [...batch, batch[0], batch[0]], sentAt: new Date(now + 10 * 60_000).toISOString() })
    // ... and twice in a row, repeats inside one batch (the writer meets them in one read).
    const inBatch = { type: 'track', userId: 'p-1', event: 'dose_logged', messageId: 'd-6' }
    await Promise.all([
      post('/v1/batch', { batch: [inBatch, { ...inBatch, messageId: 'd-7' }, inBatch, inBatch], sentAt: new Date(now).toISOString() }),
      post('/v1/batch', { batch: [inBatch, { ...inBatch, messageId: 'd-7' }], sentAt: new Date(now - 3_600_000).toISOString() }),
    ])
    // The same ids in another program are other events.
    await post('/v1/batch', { batch: [...batch, inBatch, inBatch] }, OTHER.secretKey)
    // Without a messageId every event is its own.
    await post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'p-1', event: 'no_id_dedup' },
        { type: 'track', userId: 'p-1', event: 'no_id_dedup' },
      ],
    })
    await landed([...ids, 'd-6'], OTHER.program)
    await landed([...ids, 'd-6', 'd-7'])
    // Wait until the writer has consumed everything sent, then count.
    await waitFor(() => service.spool.stats().depthBytes === 0, 20_000, 'the spool to drain')
    const counts = await service.db.query<{ program: string; c: string; u: string }>(
      "SELECT program, count() c, uniqExact(message_id) u FROM events WHERE message_id LIKE 'd-%' GROUP BY program ORDER BY program",
    )
    expect(counts.map((r) => ({ program: r.program, c: Number(r.c), u: Number(r.u) }))).toEqual([
      { program: OTHER.program, c: 6, u: 6 },
      { program: DEMO.program, c: 7, u: 7 },
    ])
    const first = await service.db.query<{ c: string }>("SELECT count() c FROM events WHERE event = 'no_id_dedup'")
    expect(Number(first[0]!.c)).toBe(2)
    // The first copy is the one kept: its time comes from the first sentAt.
    const kept = await service.db.query<{ ms: string }>(
      "SELECT toUnixTimestamp64Milli(sent_at) ms FROM events WHERE program = {p:String} AND message_id = 'd-1'",
      { p: DEMO.program },
    )
    expect(kept.map((r) => Number(r.ms))).toEqual([now])
  })
})
