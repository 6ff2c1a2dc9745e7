// guarantee D1, D2, D5, D6, D7 on the real parts: the server as a child process killed with
// SIGKILL, the in-process service with faults injected around the real ClickHouse sink and
// the spool's disk writes, and the embedded ClickHouse opened afterwards to count what landed.
import { rmSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createDb, type Db } from '../analytics/index.ts'
import type { SpoolIo } from '../collector/index.ts'
import { basic, DEMO, startServerProcess, startService, tempDir, waitFor, type ServerProcess } from './helpers.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A temp data dir removed after the test. */
function dataDir(): string {
  const t = tempDir('attune-durability-')
  cleanups.push(t.remove)
  return t.dir
}

/** Kills a child still running when the test ends (a failed assertion must not leak it). */
function track(p: ServerProcess): ServerProcess {
  cleanups.push(async () => {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL')
      await p.exited
    }
  })
  return p
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function batchInit(ids: readonly string[]): RequestInit {
  return {
    method: 'POST',
    headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: ids.map((id, k) => ({ type: 'track', userId: `p-${k % 37}`, event: 'dose_logged', messageId: id, properties: { n: id } })) }),
  }
}

/** POSTs a batch over HTTP; the status, or 0 when the connection failed (no answer). */
async function postBatch(url: string, ids: readonly string[]): Promise<number> {
  try {
    const res = await fetch(`${url}/v1/batch`, { ...batchInit(ids), signal: AbortSignal.timeout(10_000) })
    await res.arrayBuffer()
    return res.status
  } catch {
    return 0
  }
}

/** Opens the embedded ClickHouse of a data dir; only when no other process has it open. */
function openDb(dir: string): Db {
  const db = createDb({ mode: 'embedded', path: join(dir, 'clickhouse') })
  cleanups.push(() => db.close())
  return db
}

/** Message ids in `events` with a prefix, and how many rows they take. */
async function landed(db: Db, prefix: string): Promise<{ rows: number; unique: number; ids: Set<string> }> {
  const [c] = await db.query<{ rows: string | number; uniq: string | number }>(
    'SELECT count() AS rows, uniqExact(message_id) AS uniq FROM events WHERE program = {program:String} AND startsWith(message_id, {prefix:String})',
    { program: DEMO.program, prefix },
  )
  const ids = await db.query<{ message_id: string }>(
    'SELECT message_id FROM events WHERE program = {program:String} AND startsWith(message_id, {prefix:String})',
    {
      program: DEMO.program,
      prefix,
    },
  )
  return { rows: Number(c!.rows), unique: Number(c!.uniq), ids: new Set(ids.map((r) => r.message_id)) }
}

/** Asserts exactly-once delivery: no duplicate rows, every acknowledged id landed, nothing invented. */
function expectExactlyOnce(l: { rows: number; unique: number; ids: Set<string> }, acked: Set<string>, sent: Set<string>): void {
  expect(l.rows).toBe(l.unique)
  const lost = [...acked].filter((id) => !l.ids.has(id))
  expect(lost.slice(0, 10), `${lost.length} acknowledged events lost`).toEqual([])
  const invented = [...l.ids].filter((id) => !sent.has(id))
  expect(invented.slice(0, 10)).toEqual([])
}

/** Health of a server process. */
async function health(url: string): Promise<{
  status: string
  clickhouse: { reachable: boolean }
  spool: { depthBytes: number }
  events: { inserted: number; duplicates: number }
  writer: { lastError: string | null; consecutiveFailures: number }
}> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })
  return (await res.json()) as never
}

/** Real file writes and syncs, with a switch to make fdatasync fail. */
function faultyIo(): { io: SpoolIo; failSync: { on: boolean; count: number } } {
  const failSync = { on: false, count: 0 }
  const io: SpoolIo = {
    async writev(fh: FileHandle, buffers: Buffer[]) {
      let written = 0
      const total = buffers.reduce((n, b) => n + b.length, 0)
      let rest = Buffer.concat(buffers)
      while (written < total) {
        const { bytesWritten } = await fh.write(rest)
        written += bytesWritten
        rest = rest.subarray(bytesWritten)
      }
      return written
    },
    async datasync(fh: FileHandle) {
      if (failSync.on) {
        failSync.count++
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
      }
      await fh.datasync()
    },
  }
  return { io, failSync }
}

describe('durability', () => {
  // D2 (and D7 as it happens): kill -9 at random moments under load, restart on the same data
  // directory, and finally count what landed. 10 kills, each after at least 2,000 numbered
  // events were sent in that round.
  it('D2: no acknowledged event is lost over 10 SIGKILLs at random moments', { timeout: 150_000 }, async () => {
    const KILLS = 10
    const PER_ROUND = 2000
    const dir = dataDir()
    const env = { ATTUNE_DATA: dir, ATTUNE_BATCH_MAX_AGE_MS: '20', ATTUNE_SPOOL_SEGMENT_BYTES: String(256 * 1024) }
    const sent = new Set<string>()
    const acked = new Set<string>()
    let next = 0
    let unanswered = 0
    const other: number[] = []
    const perRound: number[] = []
    let duplicatesSeen = 0

    const round = async (url: string, until: () => boolean) => {
      let stop = false
      const sender = async () => {
        for (let guard = 0; guard < 10_000 && !stop; guard++) {
          const ids = Array.from({ length: 50 }, () => `d2-${next++}`)
          for (const id of ids) sent.add(id)
          const status = await postBatch(url, ids)
          if (status >= 200 && status < 300) for (const id of ids) acked.add(id)
          else if (status === 0) {
            unanswered++
            await sleep(10)
          } else other.push(status)
          if (until()) stop = true
        }
      }
      return { run: Promise.all([sender(), sender(), sender(), sender()]), stop: () => (stop = true) }
    }

    for (let k = 0; k < KILLS; k++) {
      const proc = track(await startServerProcess(env))
      const start = next
      const threshold = start + PER_ROUND + Math.floor(Math.random() * 1500)
      const r = await round(proc.url, () => false)
      await waitFor(() => next >= threshold, 30_000, `round ${k} to send ${PER_ROUND} events`)
      // A random moment: requests in flight, groups being synced, inserts running.
      await sleep(Math.random() * 25)
      const h = await health(proc.url).catch(() => null)
      duplicatesSeen += h?.events.duplicates ?? 0
      proc.child.kill('SIGKILL')
      expect(await proc.exited).toBe('SIGKILL')
      r.stop()
      await r.run
      expect(next - start).toBeGreaterThanOrEqual(PER_ROUND)
      perRound.push(next - start)
    }

    // A last start delivers what the kills left in the spool; a SIGTERM under load (keep-alive
    // senders still sending) drains everything and exits cleanly.
    const last = track(await startServerProcess(env))
    const lastStart = next
    const r = await round(last.url, () => false)
    await waitFor(() => next >= lastStart + 500, 30_000, 'the last round to send')
    last.child.kill('SIGTERM')
    const t0 = Date.now()
    expect(await last.exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(15_000)
    r.stop()
    await r.run
    expect(last.output()).toMatch(/stopped cleanly; 0 bytes left in the spool/)

    expect(other).toEqual([])
    expect(acked.size).toBeGreaterThanOrEqual(KILLS * PER_ROUND * 0.9)
    const db = openDb(dir)
    const l = await landed(db, 'd2-')
    expectExactlyOnce(l, acked, sent)
    console.log(
      `D2: ${KILLS} kills after ${perRound.join(', ')} events sent, ${sent.size} in all, ${acked.size} acknowledged, ${l.unique} landed once each, ` +
        `${unanswered} requests cut by a kill, ${duplicatesSeen} re-read events dropped as duplicates (D7)`,
    )
  })

  // D7: die exactly between ClickHouse confirming an insert and the checkpoint moving.
  it('D7: killed between a confirmed insert and the checkpoint, the batch lands exactly once after restart', { timeout: 60_000 }, async () => {
    const dir = dataDir()
    const env = { ATTUNE_DATA: dir, ATTUNE_BATCH_MAX_AGE_MS: '100' }
    const crashing = track(await startServerProcess({ ...env, CRASH_AFTER_INSERTS: '1' }, 'test/fixtures/crash-after-insert.ts'))
    const sent = new Set<string>()
    const acked = new Set<string>()
    for (let b = 0; b < 40 && crashing.child.exitCode === null && crashing.child.signalCode === null; b++) {
      const ids = Array.from({ length: 50 }, (_, i) => `d7-${b}-${i}`)
      for (const id of ids) sent.add(id)
      if ((await postBatch(crashing.url, ids)) === 200) for (const id of ids) acked.add(id)
      await sleep(10)
    }
    expect(await crashing.exited).toBe('SIGKILL')
    expect(crashing.output()).toMatch(/crashing after insert 1 of \d+ rows/)
    const insertedRows = Number(/after insert 1 of (\d+) rows/.exec(crashing.output())![1])
    expect(acked.size).toBeGreaterThanOrEqual(insertedRows)

    const proc = track(await startServerProcess(env))
    await waitFor(async () => (await health(proc.url)).spool.depthBytes === 0, 20_000, 'the spool to drain')
    const h = await health(proc.url)
    // The batch inserted before the crash was read again and dropped as already landed.
    expect(h.events.duplicates).toBeGreaterThanOrEqual(insertedRows)
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expectExactlyOnce(await landed(openDb(dir), 'd7-'), acked, sent)
  })

  // D5: ClickHouse failing, then hanging past the insert timeout (with inserts that landed but
  // were never confirmed), then back: requests keep being accepted and everything lands once.
  it('D5: during an outage requests keep getting 2xx and the spool grows; afterwards all lands exactly once', { timeout: 60_000 }, async () => {
    let mode: 'fail' | 'hang' | 'hang-after-insert' | 'up' = 'fail'
    let hung = 0
    const { service, stop } = await startService({
      env: { ATTUNE_INSERT_TIMEOUT_MS: '400' },
      hooks: {
        wrapSink: (sink) => async (payloads) => {
          if (mode === 'fail') throw new Error('connect ECONNREFUSED 127.0.0.1:8123 (injected)')
          if (mode === 'hang') await new Promise(() => {})
          if (mode === 'hang-after-insert') {
            await sink(payloads)
            hung++
            await new Promise(() => {})
          }
          await sink(payloads)
        },
      },
    })
    cleanups.push(() => stop())
    const sent = new Set<string>()
    const acked = new Set<string>()
    const statuses: number[] = []
    const latencies: number[] = []
    let n = 0
    const load = async (ms: number) => {
      const end = Date.now() + ms
      const sender = async () => {
        for (let guard = 0; guard < 100_000 && Date.now() < end; guard++) {
          const ids = Array.from({ length: 10 }, () => `d5-${n++}`)
          for (const id of ids) sent.add(id)
          const t0 = performance.now()
          const res = await service.app.request('/v1/batch', batchInit(ids))
          latencies.push(performance.now() - t0)
          statuses.push(res.status)
          if (res.ok) for (const id of ids) acked.add(id)
        }
      }
      await Promise.all([sender(), sender(), sender(), sender()])
    }

    await load(700)
    // On a loaded machine the senders can keep the writer from its first attempt for a while.
    await waitFor(() => service.writer.state.consecutiveFailures > 0, 10_000, 'the first failed insert')
    const depthDuringFailure = service.spool.depthBytes()
    expect(depthDuringFailure).toBeGreaterThan(0)
    const h = await service.app.request('/health')
    expect(h.status).toBe(200)
    const hb = (await h.json()) as { writer: { lastError: string; consecutiveFailures: number }; spool: { accepting: boolean } }
    expect(hb.writer.lastError).toMatch(/ECONNREFUSED/)
    expect(hb.writer.consecutiveFailures).toBeGreaterThan(0)
    expect(hb.spool.accepting).toBe(true)

    mode = 'hang'
    const hanging = load(600)
    await waitFor(() => /did not answer within 400 ms/.test(service.writer.state.lastError ?? ''), 5_000, 'an insert to time out')
    await hanging
    expect(service.spool.depthBytes()).toBeGreaterThan(depthDuringFailure)

    mode = 'hang-after-insert'
    await waitFor(() => hung >= 2, 10_000, 'two inserts that landed without an answer')
    mode = 'up'
    await load(300)
    await waitFor(() => service.spool.depthBytes() === 0, 20_000, 'the spool to drain after the outage')

    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(acked.size).toBe(sent.size)
    latencies.sort((a, b) => a - b)
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!
    // D5 asks p99 <= 100 ms at >= 500 req/s for 10 min (a bench); here only: no stall behind ClickHouse.
    expect(p99).toBeLessThan(500)
    console.log(`D5 outage: ${statuses.length} requests, all 200, p99 ${p99.toFixed(1)} ms, spool peaked above ${depthDuringFailure} bytes`)
    expectExactlyOnce(await landed(service.db, 'd5-'), acked, sent)
    expect(service.sink.duplicates).toBeGreaterThan(0)
  })

  it('D5: with CLICKHOUSE_URL unreachable the server starts and spools; the same data dir on the embedded engine delivers them', {
    timeout: 60_000,
  }, async () => {
    const dir = dataDir()
    const proc = track(await startServerProcess({ ATTUNE_DATA: dir, CLICKHOUSE_URL: 'http://127.0.0.1:1', ATTUNE_SHUTDOWN_TIMEOUT_MS: '1000' }))
    const sent = new Set<string>()
    const acked = new Set<string>()
    for (let b = 0; b < 20; b++) {
      const ids = Array.from({ length: 25 }, (_, i) => `unreach-${b}-${i}`)
      for (const id of ids) sent.add(id)
      const status = await postBatch(proc.url, ids)
      expect(status).toBe(200)
      for (const id of ids) acked.add(id)
    }
    const h = await health(proc.url)
    expect(h.status).toBe('degraded')
    expect(h.clickhouse.reachable).toBe(false)
    expect(h.spool.depthBytes).toBeGreaterThan(0)
    const t0 = Date.now()
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(proc.output()).not.toMatch(/stopped cleanly; 0 bytes left/)

    // The spool is engine-agnostic: a start on the embedded engine delivers what was accepted.
    const { service, stop } = await startService({ dir })
    cleanups.push(() => stop({ keep: true }))
    await waitFor(() => service.spool.depthBytes() === 0, 20_000, 'the spool to drain into the embedded engine')
    expectExactlyOnce(await landed(service.db, 'unreach-'), acked, sent)
    expect((await landed(service.db, 'unreach-')).unique).toBe(acked.size)
  })

  // D3: a batch sent again (another sentAt) and a spool replayed from the start count once.
  it('D3: a resent batch and a replayed spool do not add rows', async () => {
    const dir = dataDir()
    const send = async (service: { app: { request: (p: string, i: RequestInit) => Response | Promise<Response> } }, sentAt: string) => {
      const ids = Array.from({ length: 20 }, (_, i) => `d3-${i}`)
      const init = batchInit(ids)
      const body = JSON.parse(init.body as string) as Record<string, unknown>
      const res = await service.app.request('/v1/batch', { ...init, body: JSON.stringify({ ...body, sentAt }) })
      expect(res.status).toBe(200)
    }
    const first = await startService({ dir })
    await send(first.service, new Date().toISOString())
    await waitFor(() => first.service.spool.depthBytes() === 0, 20_000, 'the first copy to land')
    await send(first.service, new Date(Date.now() + 3_600_000).toISOString())
    await waitFor(() => first.service.spool.depthBytes() === 0, 20_000, 'the second copy to be read')
    expect(first.service.sink.duplicates).toBe(20)
    await first.stop({ keep: true })
    // Forget the checkpoint: the next start reads the whole spool segment again.
    rmSync(join(dir, 'spool', 'checkpoint.json'))
    const second = await startService({ dir })
    cleanups.push(() => second.stop({ keep: true }))
    await waitFor(() => second.service.spool.depthBytes() === 0, 20_000, 'the replay')
    expect(second.service.sink.duplicates).toBe(40)
    const l = await landed(second.service.db, 'd3-')
    expect(l).toMatchObject({ rows: 20, unique: 20 })
  })

  // D1: an acknowledgement means synced; a failed fdatasync is never answered 2xx.
  it('D1: a failing fdatasync answers 5xx, never 2xx, and the collector recovers when the disk does', async () => {
    const { io, failSync } = faultyIo()
    const { service, stop } = await startService({ hooks: { spoolIo: io } })
    cleanups.push(() => stop())
    const acked = new Set<string>()
    const sent = new Set<string>()
    const refused = new Set<string>()
    const send = async (ids: string[]) => {
      for (const id of ids) sent.add(id)
      const res = await service.app.request('/v1/batch', batchInit(ids))
      if (res.ok) for (const id of ids) acked.add(id)
      else for (const id of ids) refused.add(id)
      return res
    }
    expect((await send(['d1-ok-0'])).status).toBe(200)
    failSync.on = true
    const during = await Promise.all(Array.from({ length: 8 }, (_, i) => send([`d1-fail-${i}-a`, `d1-fail-${i}-b`])))
    for (const res of during) {
      expect(res.status).toBeGreaterThanOrEqual(500)
      expect(res.status).toBeLessThan(600)
      expect(res.headers.get('retry-after')).not.toBeNull()
    }
    expect(failSync.count).toBeGreaterThan(0)
    failSync.on = false
    expect((await send(['d1-ok-1', 'd1-ok-2'])).status).toBe(200)
    await waitFor(() => service.spool.depthBytes() === 0, 20_000, 'the spool to drain')
    const l = await landed(service.db, 'd1-')
    expectExactlyOnce(l, acked, sent)
    // The refused events were cut from the spool with the failed segment: they did not land.
    expect([...refused].filter((id) => l.ids.has(id))).toEqual([])
    expect(l.unique).toBe(3)
  })

  // D6: a small cap and a failing sink: 503 with Retry-After, and nothing acknowledged is lost.
  it('D6: at the spool cap the collector answers 503 + Retry-After, and every acknowledged event lands after recovery', async () => {
    let down = true
    const { service, stop } = await startService({
      env: { ATTUNE_SPOOL_MAX_BYTES: String(64 * 1024) },
      hooks: {
        wrapSink: (sink) => async (payloads) => {
          if (down) throw new Error('ClickHouse down (injected)')
          await sink(payloads)
        },
      },
    })
    cleanups.push(() => stop())
    const sent = new Set<string>()
    const acked = new Set<string>()
    const statuses = new Map<number, number>()
    let full = 0
    let n = 0
    const flood = async () => {
      for (let guard = 0; guard < 2000 && full < 30; guard++) {
        const ids = Array.from({ length: 5 }, () => `d6-${n++}`)
        for (const id of ids) sent.add(id)
        const res = await service.app.request('/v1/batch', batchInit(ids))
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        if (res.ok) for (const id of ids) acked.add(id)
        if (res.status === 503) {
          full++
          expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('spool_full')
        }
      }
    }
    await Promise.all([flood(), flood(), flood(), flood()])
    expect([...statuses.keys()].sort()).toEqual([200, 503])
    expect(full).toBeGreaterThanOrEqual(30)
    expect(service.spool.depthBytes()).toBeLessThanOrEqual(64 * 1024)
    // /health reports the spool near its cap. (It answers 503 only at depth >= cap, which the
    // cap itself prevents; reported to the owners of health.route.ts.)
    const h = (await (await service.app.request('/health')).json()) as { spool: { depthBytes: number; maxBytes: number } }
    expect(h.spool.depthBytes).toBeGreaterThan(h.spool.maxBytes / 2)

    down = false
    await waitFor(() => service.spool.depthBytes() === 0, 20_000, 'the spool to drain')
    const after = ['d6-after-0', 'd6-after-1']
    for (const id of after) sent.add(id)
    expect((await service.app.request('/v1/batch', batchInit(after))).status).toBe(200)
    for (const id of after) acked.add(id)
    await waitFor(() => service.spool.depthBytes() === 0, 20_000, 'the spool to drain')
    const l = await landed(service.db, 'd6-')
    expectExactlyOnce(l, acked, sent)
    // Refused events were not stored behind the client's back either: exactly the acknowledged ones.
    expect(l.unique).toBe(acked.size)
  })
})
