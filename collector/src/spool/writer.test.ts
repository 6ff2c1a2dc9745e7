import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Spool, type SpoolPosition } from './spool.ts'
import { SpoolWriter, type BatchSink, type WriterOptions } from './writer.ts'

// The writer is tested against a real spool on disk and a recording sink (the BatchSink
// contract); the ClickHouse sink itself is exercised on the real engine in test/durability.

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(opts: Partial<WriterOptions> = {}, sink?: BatchSink, ready?: Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'attune-writer-'))
  const spool = await Spool.open({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  const batches: number[][] = []
  const calls: number[] = []
  const errors: Array<{ message: string; attempt: number }> = []
  const recording: BatchSink = async (payloads) => {
    batches.push(payloads.map((p) => Number(p.toString())))
  }
  const writer = new SpoolWriter(
    spool,
    async (payloads) => {
      calls.push(performance.now())
      await (sink ?? recording)(payloads)
      if (sink) batches.push(payloads.map((p) => Number(p.toString())))
    },
    {
      maxRows: 1000,
      maxAgeMs: 20,
      maxBytes: 1 << 20,
      retryMinMs: 40,
      retryMaxMs: 400,
      insertTimeoutMs: 5000,
      onError: (e, attempt) => void errors.push({ message: e.message, attempt }),
      ...opts,
    },
    ready,
  )
  cleanups.push(async () => {
    await writer.stop({ drain: false, timeoutMs: 0 })
    await spool.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const append = (from: number, n: number) => spool.append(Array.from({ length: n }, (_, i) => Buffer.from(String(from + i))))
  const checkpoint = (): SpoolPosition | null => {
    try {
      return JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as SpoolPosition
    } catch {
      return null
    }
  }
  const delivered = () => batches.flat()
  return { dir, spool, writer, batches, calls, errors, append, checkpoint, delivered }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(5)
  }
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

describe('SpoolWriter', () => {
  it('cuts batches at maxRows while the backlog lasts, and leaves a small rest for its age', async () => {
    const t = await setup({ maxRows: 100, maxAgeMs: 60_000 })
    t.writer.start()
    await t.append(0, 250)
    await until(() => t.delivered().length >= 200)
    await sleep(150)
    expect(t.batches.map((b) => b.length)).toEqual([100, 100])
    // Stopping with drain writes the rest at once, whatever its age.
    await t.writer.stop({ drain: true, timeoutMs: 5000 })
    expect(t.batches.map((b) => b.length)).toEqual([100, 100, 50])
    expect(t.delivered()).toEqual(range(0, 250))
    expect(t.spool.depthBytes()).toBe(0)
  })

  it('flushes a small batch once its oldest record is maxAgeMs old, not before', async () => {
    const t = await setup({ maxRows: 10_000, maxAgeMs: 200 })
    t.writer.start()
    const t0 = performance.now()
    await t.append(0, 3)
    await sleep(50)
    await t.append(3, 2)
    await until(() => t.batches.length > 0)
    const waited = t.calls[0]! - t0
    expect(waited).toBeGreaterThanOrEqual(190)
    expect(waited).toBeLessThan(1500)
    expect(t.batches).toEqual([range(0, 5)])
  })

  it('retries a failing sink with growing delays; the checkpoint moves only after success', async () => {
    let failures = 3
    const t = await setup({ retryMinMs: 40, retryMaxMs: 1000 }, async () => {
      if (failures > 0) {
        failures--
        throw new Error('ClickHouse said no')
      }
    })
    t.writer.start()
    await t.append(0, 10)
    const depth = t.spool.depthBytes()
    await until(() => t.calls.length >= 3)
    expect(t.checkpoint()).toBeNull()
    expect(t.spool.depthBytes()).toBe(depth)
    expect(t.writer.state).toMatchObject({ lastError: 'ClickHouse said no', consecutiveFailures: 3 })
    await until(() => t.batches.length === 1)
    await until(() => t.spool.depthBytes() === 0)
    expect(t.checkpoint()).not.toBeNull()
    expect(t.batches).toEqual([range(0, 10)])
    expect(t.writer.state).toMatchObject({ consecutiveFailures: 0, batches: 1, rows: 10 })
    expect(t.errors.map((e) => e.attempt)).toEqual([1, 2, 3])
    // Delay n is drawn from [base/2, base] with base = 40 ms · 2^(n-1) (D10's shape).
    const gaps = t.calls.slice(1).map((c, i) => c - t.calls[i]!)
    gaps.forEach((g, i) => {
      const base = 40 * 2 ** i
      expect(g).toBeGreaterThanOrEqual(base / 2 - 2)
      expect(g).toBeLessThan(base + 250)
    })
  })

  it('keeps backing off while new events keep arriving (they do not cut the wait short)', async () => {
    const t = await setup({ retryMinMs: 200, retryMaxMs: 400 }, async () => {
      throw new Error('down')
    })
    t.writer.start()
    await t.append(0, 1)
    const end = Date.now() + 700
    for (let i = 1; Date.now() < end; i++) {
      await t.append(i, 1)
      await sleep(3)
    }
    // 700 ms with delays of 100..400 ms: a handful of attempts, not one per append.
    expect(t.calls.length).toBeGreaterThanOrEqual(2)
    expect(t.calls.length).toBeLessThanOrEqual(7)
  })

  it('counts an insert that does not answer in time as failed and retries it', async () => {
    let hang = true
    const t = await setup({ insertTimeoutMs: 100, retryMinMs: 20 }, async () => {
      if (hang) {
        hang = false
        await new Promise(() => {})
      }
    })
    t.writer.start()
    await t.append(0, 4)
    await until(() => t.batches.length === 1)
    expect(t.errors[0]!.message).toMatch(/did not answer within 100 ms/)
    expect(t.calls[1]! - t.calls[0]!).toBeGreaterThanOrEqual(100)
    expect(t.batches).toEqual([range(0, 4)])
  })

  it('stop with drain writes everything spooled; stop without drain leaves it for the next start', async () => {
    const t = await setup({ maxAgeMs: 60_000 })
    t.writer.start()
    await t.append(0, 30)
    await sleep(50)
    expect(t.batches).toEqual([])
    await t.writer.stop({ drain: true, timeoutMs: 5000 })
    expect(t.delivered()).toEqual(range(0, 30))
    expect(t.spool.depthBytes()).toBe(0)
    expect(t.writer.state.running).toBe(false)

    let down = true
    const u = await setup({ maxAgeMs: 10 }, async () => {
      if (down) throw new Error('down')
    })
    u.writer.start()
    await u.append(0, 7)
    await until(() => u.calls.length > 0)
    const t0 = Date.now()
    await u.writer.stop({ drain: false, timeoutMs: 5000 })
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(u.spool.depthBytes()).toBeGreaterThan(0)
    // A new writer on the same spool (the next start) delivers them.
    down = false
    const again = new SpoolWriter(u.spool, async (p) => void u.batches.push(p.map((b) => Number(b.toString()))), {
      maxRows: 1000,
      maxAgeMs: 10,
      maxBytes: 1 << 20,
      retryMinMs: 10,
      retryMaxMs: 20,
      insertTimeoutMs: 1000,
    })
    again.start()
    await again.stop({ drain: true, timeoutMs: 5000 })
    expect(u.delivered()).toEqual(range(0, 7))
    expect(u.spool.depthBytes()).toBe(0)
  })

  it('stop with drain gives up after its timeout while the sink keeps failing, keeping the events', async () => {
    const t = await setup({ retryMinMs: 30, retryMaxMs: 60 }, async () => {
      throw new Error('down')
    })
    t.writer.start()
    await t.append(0, 5)
    await until(() => t.calls.length > 0)
    const t0 = Date.now()
    await t.writer.stop({ drain: true, timeoutMs: 300 })
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(250)
    expect(took).toBeLessThan(1500)
    expect(t.spool.depthBytes()).toBeGreaterThan(0)
    expect(t.checkpoint()).toBeNull()
  })

  it('waits for ClickHouse to be ready, and stops promptly if it never becomes ready', async () => {
    let ready!: () => void
    const t = await setup({}, undefined, new Promise<void>((r) => (ready = r)))
    t.writer.start()
    await t.append(0, 3)
    await sleep(100)
    expect(t.batches).toEqual([])
    ready()
    await until(() => t.batches.length === 1)

    const never = await setup({}, undefined, new Promise<void>(() => {}))
    never.writer.start()
    await never.append(0, 3)
    const t0 = Date.now()
    await never.writer.stop({ drain: true, timeoutMs: 200 })
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(never.batches).toEqual([])
    expect(never.spool.depthBytes()).toBeGreaterThan(0)
  })

  it('survives a failing checkpoint write: it keeps running and the events still arrive (at least once)', async () => {
    const t = await setup({ retryMinMs: 20, retryMaxMs: 40 })
    const commit = t.spool.commit.bind(t.spool)
    let fail = 2
    t.spool.commit = async (pos) => {
      if (fail > 0) {
        fail--
        throw new Error('ENOSPC: no space left on device, write')
      }
      return commit(pos)
    }
    t.writer.start()
    await t.append(0, 10)
    await until(() => t.spool.depthBytes() === 0)
    expect(t.writer.state.running).toBe(true)
    expect(new Set(t.delivered())).toEqual(new Set(range(0, 10)))
    expect(t.errors.some((e) => e.message.includes('ENOSPC'))).toBe(true)
    await t.append(10, 5)
    await until(() => t.delivered().includes(14))
  })
})
