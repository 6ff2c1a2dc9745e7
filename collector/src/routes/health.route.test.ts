// /health and /metrics over in-process HTTP, on the real embedded ClickHouse (and, for the
// degraded answer, a ClickHouse server that is not there).
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { basic, DEMO, startService, tempDir, testConfig, waitFor } from '../../../test/helpers.ts'
import { createService, type Service } from '../service.ts'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

// The writer holds events until three are waiting (or a minute passed), so the spool's depth
// can be looked at before the insert.
beforeAll(async () => {
  svc = await startService({ env: { ATTUNE_BATCH_MAX_ROWS: '3', ATTUNE_BATCH_MAX_AGE_MS: '60000' } })
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

interface Health {
  status: string
  clickhouse: { mode: string; reachable: boolean; migrated: boolean; url?: string }
  spool: { depthBytes: number; maxBytes: number; segments: number; damagedStretches: number; accepting: boolean }
  writer: {
    running: boolean
    batches: number
    rows: number
    consecutiveFailures: number
    lastError: string | null
    lastErrorAt: string | null
    lastSuccessAt: string | null
  }
  events: { inserted: number; duplicates: number; quarantined: number }
}

async function health(s: Service = service): Promise<{ status: number; body: Health }> {
  const res = await s.app.request('/health')
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return { status: res.status, body: (await res.json()) as Health }
}

/** The metrics text and its samples by `name{labels}`. */
async function metrics(): Promise<{ text: string; samples: Map<string, number> }> {
  const res = await service.app.request('/metrics')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  const text = await res.text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line)
    if (m) samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]))
  }
  return { text, samples }
}

/** Bytes of the spool's segment files on disk. */
function spoolFileBytes(dir: string): number {
  const spoolDir = join(dir, 'spool')
  return readdirSync(spoolDir)
    .filter((f) => f.endsWith('.seg'))
    .reduce((n, f) => n + statSync(join(spoolDir, f)).size, 0)
}

const send = (body: unknown, path = '/v1/track', headers: Record<string, string> = {}) =>
  service.app.request(path, {
    method: 'POST',
    headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

const eventCount = async () => Number((await service.db.query<{ c: string }>('SELECT count() c FROM events'))[0]!.c)

describe('GET /health', () => {
  it('reports the embedded engine reachable and migrated, and an empty spool', async () => {
    expect(await health()).toEqual({
      status: 200,
      body: {
        status: 'ok',
        clickhouse: { mode: 'embedded', reachable: true, migrated: true },
        spool: { depthBytes: 0, maxBytes: 1024 ** 3, segments: 1, damagedStretches: 0, accepting: true },
        writer: { running: true, batches: 0, rows: 0, consecutiveFailures: 0, lastError: null, lastErrorAt: null, lastSuccessAt: null },
        events: { inserted: 0, duplicates: 0, quarantined: 0 },
        profiles: { store: 'memory', programs: expect.any(Array) },
      },
    })
  })

  it('reports degraded, still accepting, when ClickHouse is not there', async () => {
    const tmp = tempDir()
    // Nothing listens on port 1: the server is refused at once; migrations keep retrying.
    // The ClickHouse client logs every refused connection; keep the test output readable.
    const quiet = [vi.spyOn(console, 'warn').mockImplementation(() => {}), vi.spyOn(console, 'error').mockImplementation(() => {})]
    const down = await createService(testConfig(tmp.dir, { CLICKHOUSE_URL: 'http://127.0.0.1:1' }), { log: () => {} })
    try {
      const res = await down.app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'p-1', event: 'while_down' }),
      })
      expect(res.status).toBe(200)
      const { status, body } = await health(down)
      expect(status).toBe(200)
      expect(body.status).toBe('degraded')
      expect(body.clickhouse).toEqual({ mode: 'server', reachable: false, migrated: false, url: 'http://127.0.0.1:1' })
      expect(body.spool.accepting).toBe(true)
      expect(body.spool.depthBytes).toBe(spoolFileBytes(tmp.dir))
      expect(body.spool.depthBytes).toBeGreaterThan(0)
      expect(body.events).toEqual({ inserted: 0, duplicates: 0, quarantined: 0 })
    } finally {
      await down.close({ drain: false })
      tmp.remove()
      for (const q of quiet) q.mockRestore()
    }
  })
})

describe('GET /metrics', () => {
  it('counts rejected events by step and reason, and refused requests by reason', async () => {
    const future = new Date(Date.now() + 30 * 3600_000).toISOString()
    expect(
      (
        await send(
          {
            batch: [
              { type: 'track', event: 'no_person' },
              { type: 'track', userId: 'p-1', event: 'big', properties: { x: 'x'.repeat(40_000) } },
              { type: 'track', userId: 'p-1', event: 'late', timestamp: future },
            ],
          },
          '/v1/batch',
        )
      ).status,
    ).toBe(400)
    expect((await send({ type: 'track', event: 'no_person' })).status).toBe(400)
    expect((await service.app.request('/v1/track', { method: 'POST', body: '{"userId":"p-1","event":"e"}' })).status).toBe(401)
    expect((await send({ userId: 'p-1', event: 'e' }, '/v1/track', { 'content-encoding': 'compress' })).status).toBe(415)
    const { text, samples } = await metrics()
    expect(text).toContain('# TYPE attune_events_rejected_total counter')
    expect(samples.get('attune_events_received_total')).toBe(4)
    expect(samples.get('attune_events_rejected_total{step="validate",reason="invalid_schema"}')).toBe(2)
    expect(samples.get('attune_events_rejected_total{step="validate",reason="event_too_large"}')).toBe(1)
    expect(samples.get('attune_events_rejected_total{step="clock",reason="future_timestamp"}')).toBe(1)
    expect(samples.get('attune_requests_rejected_total{reason="no_valid_events"}')).toBe(2)
    expect(samples.get('attune_requests_rejected_total{reason="missing_key"}')).toBe(1)
    expect(samples.get('attune_requests_rejected_total{reason="unsupported_encoding"}')).toBe(1)
    // Nothing was accepted: the counter has no sample for any program yet.
    expect([...samples.keys()].filter((k) => k.startsWith('attune_events_accepted_total'))).toEqual([])
  })

  it('shows the spool depth in bytes while events wait, matching /health and the files on disk', async () => {
    expect((await send({ userId: 'p-1', event: 'waiting_1', messageId: 'h-1' })).status).toBe(200)
    const { body } = await health()
    expect(body.spool.depthBytes).toBeGreaterThan(0)
    expect(body.spool.depthBytes).toBe(spoolFileBytes(svc.dir))
    expect(body.events.inserted).toBe(0)
    const { text, samples } = await metrics()
    expect(samples.get('attune_spool_bytes')).toBe(body.spool.depthBytes)
    expect(samples.get(`attune_events_accepted_total{program="${DEMO.program}"}`)).toBe(1)
    // No insert yet: the histogram is there, empty.
    expect(text).toContain('# TYPE attune_insert_duration_seconds histogram')
    expect(samples.get('attune_insert_duration_seconds_count')).toBe(0)
    expect(await eventCount()).toBe(0)
  })

  it('after an insert: insert latency histogram observed, inserted counted, spool back to zero', async () => {
    expect((await send({ userId: 'p-1', event: 'waiting_2', messageId: 'h-2' })).status).toBe(200)
    expect((await send({ userId: 'p-1', event: 'waiting_3', messageId: 'h-3' })).status).toBe(200)
    await waitFor(async () => (await eventCount()) === 3, 20_000, 'three events in ClickHouse')
    await waitFor(() => service.spool.stats().depthBytes === 0, 20_000, 'the spool checkpoint to move')
    const { samples } = await metrics()
    const batches = service.writer.state.batches
    expect(batches).toBeGreaterThanOrEqual(1)
    expect(samples.get('attune_insert_duration_seconds_count')).toBe(batches)
    expect(samples.get('attune_insert_duration_seconds_bucket{le="+Inf"}')).toBe(batches)
    expect(samples.get('attune_insert_duration_seconds_sum')).toBeGreaterThan(0)
    expect(samples.get('attune_insert_duration_seconds_bucket{le="10"}')).toBe(batches)
    expect(samples.get('attune_events_inserted_total')).toBe(3)
    expect(samples.get('attune_events_duplicate_total')).toBe(0)
    expect(samples.get('attune_spool_bytes')).toBe(0)
    expect(samples.get(`attune_events_accepted_total{program="${DEMO.program}"}`)).toBe(3)
    const { status, body } = await health()
    expect(status).toBe(200)
    expect(body.status).toBe('ok')
    expect(body.spool.depthBytes).toBe(0)
    expect(body.events).toEqual({ inserted: 3, duplicates: 0, quarantined: 0 })
    expect(body.writer).toMatchObject({ running: true, rows: 3, batches, consecutiveFailures: 0, lastError: null })
    expect(Date.parse(body.writer.lastSuccessAt!)).toBeGreaterThan(Date.now() - 60_000)
  })

  it('counts a resent event as a duplicate, not a second insert', async () => {
    for (const id of ['h-1', 'h-4', 'h-5']) expect((await send({ userId: 'p-1', event: 'again', messageId: id })).status).toBe(200)
    await waitFor(() => service.sink.inserted === 5, 20_000, 'the second batch')
    const { samples } = await metrics()
    expect(samples.get('attune_events_inserted_total')).toBe(5)
    expect(samples.get('attune_events_duplicate_total')).toBe(1)
    expect((await health()).body.events).toEqual({ inserted: 5, duplicates: 1, quarantined: 0 })
    expect(await eventCount()).toBe(5)
  })
})
