import { Worker } from 'node:worker_threads'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { programKey, type ProgramKey } from '../../../analytics/index.ts'
import { signClickToken } from '../click-token.ts'
import { KeyIndex } from '../keys.ts'
import { ingestBody, type RawIngestRequest } from './ingest-body.ts'
import { IngestPool } from './ingest-pool.ts'

const LINK_SECRET = 'test_link_secret_0123456789abcdef0123'
const keys: ProgramKey[] = [
  programKey({ program: 'p1', kind: 'secret', id: 'be', key: 'sk_test_1234567', origins: [], channel: 'server', linkSecret: LINK_SECRET }),
]
const pool = new IngestPool(keys, 2)
afterAll(() => pool.close())

async function whenReady(p: IngestPool): Promise<void> {
  const end = Date.now() + 20_000
  while (!p.ready) {
    if (Date.now() > end) throw new Error('no ingestion worker became ready in 20 s')
    await new Promise((r) => setTimeout(r, 20))
  }
}

const request = (body: unknown, over: Partial<RawIngestRequest> = {}): RawIngestRequest => ({
  body: Buffer.from(JSON.stringify(body)),
  contentEncoding: '',
  authorization: `Basic ${Buffer.from('sk_test_1234567:').toString('base64')}`,
  userAgent: 'test',
  ip: '198.51.100.7',
  receivedAt: Date.parse('2026-11-23T12:00:00Z'),
  ...over,
})

describe('IngestPool', () => {
  it('takes nothing until a worker has loaded (the caller ingests inline meanwhile)', async () => {
    const fresh = new IngestPool(keys, 1)
    try {
      expect(fresh.ready).toBe(false)
      expect(fresh.run(request({ type: 'track', userId: 'u', event: 'x' }, { impliedType: 'track' }))).toBeNull()
      await whenReady(fresh)
      expect(await fresh.run(request({ type: 'track', userId: 'u', event: 'x' }, { impliedType: 'track' }))).toMatchObject({ records: 1 })
    } finally {
      await fresh.close()
    }
  })

  it('gives exactly what ingesting inline gives, for batches, errors and compressed bodies', async () => {
    await whenReady(pool)
    const batch = {
      batch: [
        ...Array.from({ length: 50 }, (_, i) => ({
          type: 'track',
          userId: `p-${i}`,
          event: 'diary_saved',
          messageId: `m-${i}`,
          properties: { pad: 'x'.repeat(300) },
        })),
        { type: 'track', userId: 'p' },
      ],
    }
    const cases: RawIngestRequest[] = [
      request(batch),
      request(batch, { contentEncoding: 'gzip', body: gzipSync(Buffer.from(JSON.stringify(batch))) }),
      request({ batch: [] }),
      request(batch, { authorization: undefined }),
      { ...request({}), body: Buffer.from('{not json') },
    ]
    const inline = new KeyIndex(keys)
    for (const req of cases) {
      const viaPool = await pool.run(req)!
      const here = ingestBody(req, inline)
      expect({ ...viaPool, frames: viaPool.frames && Buffer.from(viaPool.frames).toString('base64') }).toEqual({
        ...here,
        frames: here.frames && Buffer.from(here.frames).toString('base64'),
      })
    }
    const ok = await pool.run(cases[0]!)!
    expect(ok).toMatchObject({ records: 50, received: 51, program: 'p1', rejected: [{ index: 50, reason: 'invalid_schema', field: 'batch[50].event' }] })
  })

  it('verifies click tokens in the workers as inline (the link secret travels with the keys)', async () => {
    await whenReady(pool)
    const receivedAt = Date.parse('2026-11-23T12:00:00Z')
    const token = signClickToken(
      { program: 'p1', patient: 'p-7', message: 'msg-1', campaign: 'c', channel: 'sms', expires: receivedAt / 1000 + 86_400 },
      LINK_SECRET,
      receivedAt,
    )
    const req = request({ type: 'track', anonymousId: 'a', event: 'sms_click', messageId: 'k-1', properties: { token } }, { impliedType: 'track' })
    const viaPool = await pool.run(req)!
    const text = Buffer.from(viaPool.frames!).toString()
    expect(text).toContain('"token_status":"verified"')
    expect(text).toContain('"p-7"')
    expect(text).not.toContain(token)
    expect(text).toBe(Buffer.from(ingestBody(req, new KeyIndex(keys)).frames!).toString())
  })

  it('gives its workers new keys at once, and a worker that replaces a dead one starts with the latest keys', async () => {
    const p = new IngestPool(keys, 1)
    const as = (key: string) =>
      request({ type: 'track', userId: 'u', event: 'x' }, { impliedType: 'track', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` })
    try {
      await whenReady(p)
      expect(await p.run(as('sk_test_other_7654'))!).toMatchObject({ error: { status: 401, code: 'unknown_key' } })
      // The worker's own object, caught as the pool posts it the keys.
      const spy = vi.spyOn(Worker.prototype, 'postMessage')
      p.setKeys([programKey({ program: 'p2', kind: 'secret', id: 'be2', key: 'sk_test_other_7654', origins: [], channel: 'server' })])
      const worker = spy.mock.contexts[0] as Worker
      spy.mockRestore()
      expect(await p.run(as('sk_test_other_7654'))!).toMatchObject({ records: 1, program: 'p2' })
      expect(await p.run(as('sk_test_1234567'))!).toMatchObject({ error: { status: 401 } })
      // Ended as a crash would end it: the pool starts another, from workerData alone.
      await worker.terminate()
      expect(p.ready).toBe(false)
      await whenReady(p)
      expect(await p.run(as('sk_test_other_7654'))!).toMatchObject({ records: 1, program: 'p2' })
      expect(await p.run(as('sk_test_1234567'))!).toMatchObject({ error: { status: 401 } })
    } finally {
      await p.close()
    }
  })

  it('answers each of many concurrent requests (sent to a worker together)', async () => {
    await whenReady(pool)
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pool.run(request({ type: 'track', userId: `u-${i}`, event: 'x', messageId: `c-${i}` }, { impliedType: 'track' }))!),
    )
    expect(outcomes.map((o) => o.records)).toEqual(Array(40).fill(1))
  })
})
