// The collector behind @hono/node-server on a real socket: headers are read from Node's request
// object there (not through Hono's Headers copy), so origin checks, CORS answers, user agents,
// the peer and forwarded addresses and the body limit are shown over HTTP here.
import { serve, type ServerType } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basic, DEMO, startService, waitFor } from './helpers.ts'

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'

async function listen(env: Record<string, string>) {
  const svc = await startService({ env })
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: svc.service.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    svc,
    server,
    url,
    stop: async () => {
      await new Promise((r) => server.close(r))
      await svc.stop()
    },
  }
}

// One engine per process: the two servers run one after the other.
let direct: Awaited<ReturnType<typeof listen>>
let proxied: Awaited<ReturnType<typeof listen>>

async function stored(svc: typeof direct.svc, id: string) {
  const q = 'SELECT browser, os, device_type, ip_prefix, channel FROM events WHERE message_id = {id:String}'
  let rows: Array<Record<string, string>> = []
  await waitFor(async () => (rows = await svc.service.db.query(q, { id })).length > 0, 20_000, `event ${id}`)
  return rows[0]!
}

describe('collector on a Node HTTP server', () => {
  beforeAll(async () => {
    direct = await listen({})
  })
  afterAll(() => direct?.stop())

  it('takes a browser event from an allowed origin: CORS answer, parsed User-Agent, peer address prefix', async () => {
    const res = await fetch(`${direct.url}/v1/page`, {
      method: 'POST',
      headers: {
        authorization: basic(DEMO.writeKey),
        'content-type': 'application/json',
        origin: 'http://localhost:5173',
        'user-agent': CHROME,
        'x-forwarded-for': '198.51.100.23',
      },
      body: JSON.stringify({ anonymousId: 'a-node-1', messageId: 'node-page-1', properties: { path: '/itch' } }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect(res.headers.get('vary')).toContain('Origin')
    // Without ATTUNE_TRUST_PROXY the forwarded header is ignored: the peer is loopback.
    expect(await stored(direct.svc, 'node-page-1')).toEqual({
      browser: 'Chrome',
      os: 'Windows',
      device_type: 'desktop',
      ip_prefix: '127.0.0.0',
      channel: 'web',
    })
  })

  it('refuses a write key from an origin it does not allow, and gives no CORS grant', async () => {
    const res = await fetch(`${direct.url}/v1/page`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.writeKey), 'content-type': 'application/json', origin: 'https://elsewhere.example' },
      body: JSON.stringify({ anonymousId: 'a-node-2', messageId: 'node-page-2' }),
    })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { code: 'origin_not_allowed', field: 'origin' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const res = await fetch(`${direct.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: 'x'.repeat(500 * 1024 + 1),
    })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: { code: 'body_too_large' } })
  })
})

describe('collector behind a trusted proxy', () => {
  beforeAll(async () => {
    proxied = await listen({ ATTUNE_TRUST_PROXY: '1' })
  })
  afterAll(() => proxied?.stop())

  it('takes the first X-Forwarded-For address, as a prefix', async () => {
    const res = await fetch(`${proxied.url}/v1/track`, {
      method: 'POST',
      headers: {
        authorization: basic(DEMO.writeKey),
        'content-type': 'application/json',
        origin: 'http://localhost:5173',
        'x-forwarded-for': '198.51.100.23, 10.0.0.1',
      },
      body: JSON.stringify({ anonymousId: 'a-node-3', event: 'diary_saved', messageId: 'node-track-1' }),
    })
    expect(res.status).toBe(200)
    expect((await stored(proxied.svc, 'node-track-1')).ip_prefix).toBe('198.51.100.0')
  })
})
