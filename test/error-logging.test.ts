// Logging and counting of failed requests on a real socket: a client that goes away mid-request is
// counted in /metrics and never logged (one line per abort would let anyone flood the log); every
// 5xx is logged exactly once, with a request id the answer carries too, and without request data.
import { serve, type ServerType } from '@hono/node-server'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpoolIo } from '../collector/index.ts'
import { basic, DEMO, startService, waitFor } from './helpers.ts'

let failSync = false
// The spool's disk, with fdatasync failing on demand: a real 500 (spool_unavailable).
const io: SpoolIo = {
  writev: async (fh, buffers) => (await fh.writev(buffers)).bytesWritten,
  datasync: async (fh) => {
    if (failSync) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
    await fh.datasync()
  },
}

let svc: Awaited<ReturnType<typeof startService>>
let server: ServerType
let port: number
beforeAll(async () => {
  svc = await startService({ hooks: { spoolIo: io, log: (m) => svc?.logs.push(m) } })
  server = await new Promise((resolve) => {
    const s = serve({ fetch: svc.service.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  port = (server.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise((r) => server?.close(r))
  await svc?.stop()
})

async function metric(name: string, label = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  let n = 0
  for (const line of text.split('\n')) if (line.startsWith(name) && line.includes(label)) n += Number(line.split(' ').pop())
  return n
}

/** Sends headers promising a body, a part of it, then resets the connection. */
function abortMidBody(path: string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(DEMO.secretKey)}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"batch":[`,
      )
      setTimeout(() => s.resetAndDestroy(), 30)
    })
    s.on('close', () => resolve())
    s.on('error', () => {})
  })
}

describe('failed requests', () => {
  it('counts client aborts in /metrics and logs none of them', async () => {
    const before = await metric('attune_client_aborts_total')
    const logged = svc.logs.length
    for (let i = 0; i < 20; i++) await abortMidBody(i % 2 ? '/v1/batch' : '/v1/decide')
    await waitFor(async () => (await metric('attune_client_aborts_total')) >= before + 20, 10_000, 'twenty aborts counted')
    expect(svc.logs.slice(logged).filter((l) => !l.startsWith('profile store'))).toEqual([])
  })

  it('logs every 5xx once with the request id it answers with, the route pattern and no request data', async () => {
    failSync = true
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch: [{ type: 'track', userId: 'p-log-secret-77', event: 'diary_downloaded', messageId: 'log-5xx-1' }] }),
      })
      expect(res.status).toBe(500)
      const body = (await res.json()) as { code: string; error: { code: string; requestId: string } }
      expect(body.code).toBe('spool_unavailable')
      expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/)
      expect(res.headers.get('x-request-id')).toBe(body.error.requestId)
      const lines = svc.logs.filter((l) => l.includes(body.error.requestId))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^500 spool_unavailable request [0-9a-f-]{36} POST \/v1\/batch: /)
      expect(svc.logs.join('\n')).not.toContain('p-log-secret-77')
      expect(await metric('attune_requests_rejected_total', 'reason="spool_unavailable"')).toBeGreaterThanOrEqual(1)
    } finally {
      failSync = false
    }
  })

  it('counts every refused request by its code, also those refused before the body is read', async () => {
    const before = await metric('attune_requests_rejected_total', 'reason="body_too_large"')
    const notFound = await metric('attune_requests_rejected_total', 'reason="not_found"')
    // Refused on its Content-Length alone, before any byte of the body is read.
    const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: 'x'.repeat(600 * 1024),
    })
    expect(res.status).toBe(413)
    expect((await fetch(`http://127.0.0.1:${port}/v1/nothing-here`)).status).toBe(404)
    expect(await metric('attune_requests_rejected_total', 'reason="body_too_large"')).toBe(before + 1)
    expect(await metric('attune_requests_rejected_total', 'reason="not_found"')).toBe(notFound + 1)
  })
})
