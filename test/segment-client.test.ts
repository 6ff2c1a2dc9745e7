// Segment's own Node library (@segment/analytics-node 3) against the collector served over a
// real socket: what it sends must land in ClickHouse as the same messages.
import { serve, type ServerType } from '@hono/node-server'
import { Analytics } from '@segment/analytics-node'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../collector/index.ts'
import { DEMO, identityToken, startService, waitFor } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service
let server: ServerType
let host: string

beforeAll(async () => {
  svc = await startService()
  service = svc.service
  await new Promise<void>((resolve) => {
    server = serve({ fetch: service.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      host = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
})
afterAll(async () => {
  if (server) {
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
    })
  }
  await svc?.stop()
})

interface Sent {
  messageIds: string[]
  statuses: number[]
  errors: string[]
}

/** A client pointed at the collector, recording what it sent and what it was answered. */
function client(writeKey: string): { analytics: Analytics; sent: Sent } {
  const analytics = new Analytics({ writeKey, host, flushAt: 3, flushInterval: 200, maxRetries: 2 })
  const sent: Sent = { messageIds: [], statuses: [], errors: [] }
  analytics.on('http_request', (req) => {
    const body = JSON.parse(req.body as string) as { batch: Array<{ messageId: string }> }
    sent.messageIds.push(...body.batch.map((e) => e.messageId))
  })
  analytics.on('http_response', (res) => void sent.statuses.push(res.status))
  analytics.on('error', (e) => void sent.errors.push(String((e as { reason?: unknown }).reason ?? e.code)))
  return { analytics, sent }
}

interface Row {
  message_id: string
  type: string
  event: string
  user_id: string
  anonymous_id: string
  previous_id: string
  group_id: string
  channel: string
  key_id: string
  library_name: string
  library_version: string
  is_bot: number
  ip_prefix: string
  properties: string
  traits: string
  page_title: string
  ts_ms: string
}

async function landed(ids: string[]): Promise<Row[]> {
  const q = 'SELECT count() c FROM events WHERE message_id IN {ids:Array(String)}'
  await waitFor(async () => Number((await service.db.query<{ c: string }>(q, { ids }))[0]!.c) >= ids.length, 20_000, `${ids.length} events in ClickHouse`)
  return service.db.query<Row>(
    `SELECT message_id, type, event, user_id, anonymous_id, previous_id, group_id, channel, key_id, library_name, library_version, is_bot, ip_prefix,
            properties, traits, page_title, toUnixTimestamp64Milli(ts) ts_ms
     FROM events WHERE message_id IN {ids:Array(String)} ORDER BY ts, message_id`,
    { ids },
  )
}

describe('@segment/analytics-node against the collector', () => {
  it('delivers track, page, screen, identify, group and alias with the secret key; they land with their types and ids', async () => {
    const { analytics, sent } = client(DEMO.secretKey)
    const t0 = Date.now()
    analytics.identify({ userId: 'p-100', traits: { plan: 'standard', email: 'p100@example.com' } })
    analytics.track({ userId: 'p-100', event: 'injection_logged', properties: { dose: 2, site: 'thigh' } })
    analytics.page({ userId: 'p-100', name: 'Diary', category: 'Self-care', properties: { url: 'https://clearskin.example/diary?session=1&utm_source=sms' } })
    analytics.screen({ anonymousId: 'anon-7', name: 'Dose reminder' })
    analytics.group({ userId: 'p-100', groupId: 'clinic-berlin-3', traits: { size: 12 } })
    analytics.alias({ userId: 'p-100', previousId: 'anon-7' })
    analytics.track({ anonymousId: 'anon-7', event: 'email_click', properties: { link: 'refill' } })
    await analytics.closeAndFlush({ timeout: 20_000 })
    expect(sent.errors).toEqual([])
    expect(sent.statuses.length).toBeGreaterThan(0)
    expect(sent.statuses.every((s) => s === 200)).toBe(true)
    expect(new Set(sent.messageIds).size).toBe(7)

    const rows = await landed(sent.messageIds)
    const byType = rows.map((r) => ({
      type: r.type,
      event: r.event,
      user_id: r.user_id,
      anonymous_id: r.anonymous_id,
      previous_id: r.previous_id,
      group_id: r.group_id,
      channel: r.channel,
    }))
    expect(byType).toEqual(
      expect.arrayContaining([
        { type: 'identify', event: 'identify', user_id: 'p-100', anonymous_id: '', previous_id: '', group_id: '', channel: 'server' },
        { type: 'track', event: 'injection_logged', user_id: 'p-100', anonymous_id: '', previous_id: '', group_id: '', channel: 'server' },
        { type: 'page', event: 'page', user_id: 'p-100', anonymous_id: '', previous_id: '', group_id: '', channel: 'server' },
        { type: 'screen', event: 'screen', user_id: '', anonymous_id: 'anon-7', previous_id: '', group_id: '', channel: 'server' },
        { type: 'group', event: 'group', user_id: 'p-100', anonymous_id: '', previous_id: '', group_id: 'clinic-berlin-3', channel: 'server' },
        { type: 'alias', event: 'alias', user_id: 'p-100', anonymous_id: '', previous_id: 'anon-7', group_id: '', channel: 'server' },
        { type: 'track', event: 'email_click', user_id: '', anonymous_id: 'anon-7', previous_id: '', group_id: '', channel: 'email' },
      ]),
    )
    expect(rows).toHaveLength(7)
    const version = ((await import('@segment/analytics-node/package.json', { with: { type: 'json' } })) as { default: { version: string } }).default.version
    for (const r of rows) {
      expect(r.library_name, r.message_id).toBe('@segment/analytics-node')
      expect(r.library_version, r.message_id).toBe(version)
      expect(r.key_id).toBe('backend-demo')
      // A backend's agent and address are not the patient's.
      expect(r.is_bot).toBe(0)
      expect(r.ip_prefix).toBe('')
      expect(Number(r.ts_ms)).toBeGreaterThanOrEqual(t0 - 1000)
      expect(Number(r.ts_ms)).toBeLessThanOrEqual(Date.now() + 1000)
    }
    const track = rows.find((r) => r.event === 'injection_logged')!
    expect(JSON.parse(track.properties)).toEqual({ dose: 2, site: 'thigh' })
    const identify = rows.find((r) => r.type === 'identify')!
    expect(JSON.parse(identify.traits)).toEqual({ plan: 'standard' })
    expect(rows.find((r) => r.type === 'page')!.page_title).toBe('Diary')
  })

  it('with the write key over a real socket: channel web, address reduced to its prefix', async () => {
    const { analytics, sent } = client(DEMO.writeKey)
    // A write key's patient id counts only with the identity token the site's backend signed for it.
    analytics.track({ userId: 'p-200', event: 'diary_downloaded', context: { identityToken: identityToken('p-200') } })
    analytics.track({ userId: 'p-200', event: 'sms_click', context: { identityToken: identityToken('p-200') } })
    await analytics.closeAndFlush({ timeout: 20_000 })
    expect(sent.errors).toEqual([])
    const rows = await landed(sent.messageIds)
    expect(rows.map((r) => [r.event, r.user_id, r.channel, r.key_id, r.ip_prefix])).toEqual(
      expect.arrayContaining([
        ['diary_downloaded', 'p-200', 'web', 'web-demo', '127.0.0.0'],
        ['sms_click', 'p-200', 'sms', 'web-demo', '127.0.0.0'],
      ]),
    )
    expect(rows).toHaveLength(2)
  })

  it('an unknown key is refused with 401 and the client gives up without retrying; nothing lands', async () => {
    const before = Number((await service.db.query<{ c: string }>('SELECT count() c FROM events'))[0]!.c)
    const { analytics, sent } = client('sk_not_a_key_at_all')
    analytics.track({ userId: 'p-300', event: 'refused' })
    const t0 = Date.now()
    await analytics.closeAndFlush({ timeout: 20_000 })
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(sent.statuses).toEqual([401])
    expect(sent.errors).toHaveLength(1)
    expect(sent.errors[0]).toContain('401')
    await new Promise((r) => setTimeout(r, 300))
    expect(Number((await service.db.query<{ c: string }>("SELECT count() c FROM events WHERE event = 'refused'"))[0]!.c)).toBe(0)
    expect(Number((await service.db.query<{ c: string }>('SELECT count() c FROM events'))[0]!.c)).toBe(before)
  })
})
