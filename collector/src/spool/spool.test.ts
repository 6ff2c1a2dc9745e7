import { appendFileSync, closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeFrames, encodeFrame } from './frame.ts'
import { Spool, SpoolFullError, SpoolWriteError, type SpoolIo, type SpoolOptions } from './spool.ts'

const dirs: string[] = []
const spools: Spool[] = []
afterEach(async () => {
  for (const s of spools.splice(0)) await s.close().catch(() => {})
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'attune-spool-'))
  dirs.push(d)
  return d
}

async function open(opts: Partial<SpoolOptions> & { dir: string }): Promise<Spool> {
  const s = await Spool.open({ maxBytes: 1 << 30, segmentBytes: 1 << 20, ...opts })
  spools.push(s)
  return s
}

const rec = (i: number, pad = 0) => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(pad) }))
const idOf = (b: Buffer) => (JSON.parse(b.toString()) as { i: number }).i
const segFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()

/** Reads everything readable now, without committing. */
async function readAll(s: Spool): Promise<number[]> {
  const out: number[] = []
  for (let guard = 0; guard < 10_000; guard++) {
    const { records } = await s.read(1000, 1 << 20)
    if (records.length === 0) break
    out.push(...records.map(idOf))
  }
  return out
}

/** Reads and commits everything readable now. */
async function drain(s: Spool): Promise<number[]> {
  const out: number[] = []
  for (let guard = 0; guard < 10_000; guard++) {
    const { records, end } = await s.read(1000, 1 << 20)
    await s.commit(end)
    if (records.length === 0) break
    out.push(...records.map(idOf))
  }
  return out
}

const deferred = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Real file I/O that logs each call, with optional gates and failures. */
function tracingIo(log: string[]) {
  const ctl = {
    syncDelayMs: 0,
    gate: null as Promise<void> | null,
    failWritev: 0,
    failSync: 0,
    /** Write this many bytes of the group before failing the writev. */
    partialBytes: 0,
  }
  const io: SpoolIo = {
    async writev(fh: FileHandle, buffers: Buffer[]) {
      const ids = decodeFrames(Buffer.concat(buffers), true).records.map(idOf)
      if (ctl.failWritev > 0) {
        ctl.failWritev--
        if (ctl.partialBytes > 0) await fh.write(Buffer.concat(buffers).subarray(0, ctl.partialBytes))
        log.push(`writev-failed:${ids.join(',')}`)
        throw Object.assign(new Error('EIO: i/o error, writev'), { code: 'EIO' })
      }
      const total = buffers.reduce((n, b) => n + b.length, 0)
      const { bytesWritten } = await fh.writev(buffers)
      expect(bytesWritten).toBe(total)
      log.push(`writev:${ids.join(',')}`)
      return bytesWritten
    },
    async datasync(fh: FileHandle) {
      if (ctl.gate) await ctl.gate
      if (ctl.syncDelayMs) await new Promise((r) => setTimeout(r, ctl.syncDelayMs))
      if (ctl.failSync > 0) {
        ctl.failSync--
        log.push('datasync-failed')
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
      }
      await fh.datasync()
      log.push('datasync')
    },
  }
  return { io, ctl }
}

describe('Spool', () => {
  // D1: many concurrent appends share writes and syncs, and none resolves before the sync
  // that covers its bytes returned.
  it('group-commits concurrent appends: far fewer syncs than appends, each resolved only after its sync', async () => {
    const dir = tempDir()
    const log: string[] = []
    const { io, ctl } = tracingIo(log)
    ctl.syncDelayMs = 5
    const s = await open({ dir, io })
    const N = 400
    const pending: Promise<void>[] = []
    // Requests arrive in waves while syncs are in progress, as under load.
    for (let i = 0; i < N; i++) {
      pending.push(s.append([rec(i)]).then(() => void log.push(`resolve:${i}`)))
      if (i % 40 === 39) await new Promise((r) => setTimeout(r, 2))
    }
    await Promise.all(pending)
    const syncs = log.filter((e) => e === 'datasync').length
    expect(s.stats().syncs).toBe(syncs)
    expect(s.stats().appendedRecords).toBe(N)
    expect(syncs).toBeGreaterThan(0)
    expect(syncs).toBeLessThanOrEqual(N / 10)
    // Order per record: the writev holding it, then a datasync, then its resolve.
    for (let i = 0; i < N; i++) {
      const w = log.findIndex((e) => e.startsWith('writev:') && e.slice(7).split(',').includes(String(i)))
      const r = log.indexOf(`resolve:${i}`)
      expect(w).toBeGreaterThanOrEqual(0)
      const syncAfterWrite = log.indexOf('datasync', w)
      expect(syncAfterWrite).toBeGreaterThan(w)
      expect(r).toBeGreaterThan(syncAfterWrite)
      // No other writev between its writev and that sync: the sync covers its bytes.
      expect(log.slice(w + 1, syncAfterWrite).some((e) => e.startsWith('writev'))).toBe(false)
    }
    expect(await readAll(s)).toEqual(Array.from({ length: N }, (_, i) => i))
  })

  it('an append does not resolve while its fdatasync has not returned', async () => {
    const dir = tempDir()
    const log: string[] = []
    const { io, ctl } = tracingIo(log)
    const gate = deferred()
    ctl.gate = gate.promise
    const s = await open({ dir, io })
    let done = false
    const p = s.append([rec(1)]).then(() => (done = true))
    await new Promise((r) => setTimeout(r, 100))
    expect(log).toEqual(['writev:1'])
    expect(done).toBe(false)
    // Not yet synced, so not yet readable (the writer must never insert unsynced bytes).
    expect((await s.read(10, 1 << 20)).records).toEqual([])
    gate.resolve()
    await p
    expect(log).toEqual(['writev:1', 'datasync'])
    expect(await readAll(s)).toEqual([1])
  })

  it('rotates segments at the segment size and reads across them in order', async () => {
    const dir = tempDir()
    const s = await open({ dir, segmentBytes: 4096 })
    for (let i = 0; i < 100; i++) await s.append([rec(i, 200)])
    const files = segFiles(dir)
    expect(files.length).toBeGreaterThanOrEqual(5)
    for (const f of files.slice(0, -1)) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(4096)
    expect(s.stats().segments).toBe(files.length)
    expect(await readAll(s)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('a group larger than a segment still lands whole in one segment', async () => {
    const dir = tempDir()
    const s = await open({ dir, segmentBytes: 4096 })
    await s.append([rec(0, 100)])
    await s.append(Array.from({ length: 30 }, (_, i) => rec(i + 1, 300)))
    await s.append([rec(31, 100)])
    expect(await readAll(s)).toEqual(Array.from({ length: 32 }, (_, i) => i))
  })

  it('after a reopen, reads again what was not committed and never what was', async () => {
    const dir = tempDir()
    const a = await open({ dir, segmentBytes: 8192 })
    for (let i = 0; i < 120; i++) await a.append([rec(i, 50)])
    const first = await a.read(50, 1 << 20)
    expect(first.records.map(idOf)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    await a.commit(first.end)
    // Read but not committed (an insert that never got confirmed): must come back.
    const second = await a.read(30, 1 << 20)
    expect(second.records.map(idOf)[0]).toBe(50)
    await a.close()

    const b = await open({ dir, segmentBytes: 8192 })
    for (let i = 120; i < 130; i++) await b.append([rec(i, 50)])
    expect(await drain(b)).toEqual(Array.from({ length: 80 }, (_, i) => i + 50))
    await b.close()

    const c = await open({ dir, segmentBytes: 8192 })
    expect(c.depthBytes()).toBe(0)
    expect(await readAll(c)).toEqual([])
  })

  it('a reopen after a crash (no close) recovers every synced record', async () => {
    const dir = tempDir()
    const a = await open({ dir })
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.append([rec(i)])))
    // No close(): the process died. A second spool on the same directory must see everything.
    const b = await open({ dir })
    expect((await readAll(b)).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  // D4: a torn tail (a write cut by a crash) is skipped and counted; what came before is kept.
  it('skips and counts a torn tail at the end of a segment, keeping the records before it', async () => {
    const dir = tempDir()
    const a = await open({ dir })
    for (let i = 0; i < 20; i++) await a.append([rec(i)])
    await a.close()
    const [seg] = segFiles(dir)
    const torn = encodeFrame(rec(20, 100)).subarray(0, 40)
    appendFileSync(join(dir, seg!), torn)

    const b = await open({ dir })
    for (let i = 21; i < 25; i++) await b.append([rec(i)])
    expect(await drain(b)).toEqual([...Array.from({ length: 20 }, (_, i) => i), 21, 22, 23, 24])
    expect(b.stats().damagedStretches).toBe(1)
    expect(b.stats().damagedBytes).toBe(torn.length)
  })

  it('skips a record cut in the middle of the last segment and a flipped byte inside another', async () => {
    const dir = tempDir()
    const a = await open({ dir })
    for (let i = 0; i < 10; i++) await a.append([rec(i, 20)])
    await a.close()
    const path = join(dir, segFiles(dir)[0]!)
    const frame = encodeFrame(rec(0, 20)).length
    truncateSync(path, frame * 10 - 5)
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.from([0x00]), 0, 1, frame * 3 + 20)
    closeSync(fd)
    const b = await open({ dir })
    expect(await readAll(b)).toEqual([0, 1, 2, 4, 5, 6, 7, 8])
    expect(b.stats().damagedStretches).toBe(2)
  })

  // D6: the cap refuses appends instead of dropping anything.
  it('refuses appends with SpoolFullError at the cap, counting bytes still being written, and accepts again once drained', async () => {
    const dir = tempDir()
    const log: string[] = []
    const { io, ctl } = tracingIo(log)
    const s = await open({ dir, io, maxBytes: 10_000 })
    const frame = encodeFrame(rec(0, 400)).length
    let accepted = 0
    for (let i = 0; i < 100; i++) {
      try {
        await s.append([rec(i, 400)])
        accepted++
      } catch (e) {
        expect(e).toBeInstanceOf(SpoolFullError)
        break
      }
    }
    expect(accepted).toBe(Math.floor(10_000 / frame))
    expect(s.depthBytes()).toBeLessThanOrEqual(10_000)
    await drain(s)
    expect(s.depthBytes()).toBe(0)

    // Appends racing a slow fsync: the bytes in flight count against the cap too.
    const gate = deferred()
    ctl.gate = gate.promise
    const results: Array<'ok' | 'full' | 'other'> = []
    const wave = (from: number) =>
      Array.from({ length: 20 }, (_, k) =>
        s.append([rec(from + k, 400)]).then(
          () => void results.push('ok'),
          (e: unknown) => void results.push(e instanceof SpoolFullError ? 'full' : 'other'),
        ),
      )
    const w1 = wave(1000)
    await new Promise((r) => setTimeout(r, 20)) // the first group is now waiting in fdatasync
    const w2 = wave(2000)
    await new Promise((r) => setTimeout(r, 20))
    gate.resolve()
    ctl.gate = null
    await Promise.all([...w1, ...w2])
    expect(results.filter((r) => r === 'other')).toEqual([])
    expect(results.filter((r) => r === 'ok').length).toBe(Math.floor(10_000 / frame))
    expect(s.depthBytes()).toBeLessThanOrEqual(10_000)
  })

  // D1: a failed write or sync is never acknowledged, and the spool recovers on a new segment.
  for (const failure of ['writev', 'writev-partial', 'datasync'] as const) {
    it(`a failing ${failure} rejects the append with SpoolWriteError, then the spool goes on in a fresh segment`, async () => {
      const dir = tempDir()
      const log: string[] = []
      const { io, ctl } = tracingIo(log)
      const s = await open({ dir, io })
      await s.append([rec(1)])
      const before = segFiles(dir)
      if (failure === 'datasync') ctl.failSync = 1
      else ctl.failWritev = 1
      if (failure === 'writev-partial') ctl.partialBytes = 30
      let resolved = false
      const failed = await s.append([rec(2), rec(3)]).then(
        () => ((resolved = true), null),
        (e: unknown) => e,
      )
      expect(resolved).toBe(false)
      expect(failed).toBeInstanceOf(SpoolWriteError)
      // Later appends work, in a new segment; the failed records are not read back.
      await s.append([rec(4)])
      await Promise.all([s.append([rec(5)]), s.append([rec(6)])])
      expect(segFiles(dir).length).toBe(before.length + 1)
      expect(await readAll(s)).toEqual([1, 4, 5, 6])
      await s.close()
      // Nor after a restart: the damaged segment was cut back to its last synced record.
      const again = await open({ dir })
      expect(await readAll(again)).toEqual([1, 4, 5, 6])
      expect(again.stats().damagedStretches).toBe(0)
    })
  }

  it('deletes consumed segments after the checkpoint moves past them, also at start-up', async () => {
    const dir = tempDir()
    const a = await open({ dir, segmentBytes: 4096 })
    for (let i = 0; i < 60; i++) await a.append([rec(i, 200)])
    const files = segFiles(dir)
    expect(files.length).toBeGreaterThan(3)
    // Consume about half: the segments wholly before the checkpoint go.
    const part = await a.read(30, 1 << 20)
    await a.commit(part.end)
    const left = segFiles(dir)
    expect(left.length).toBeLessThan(files.length)
    expect(left[0]! >= files[0]!).toBe(true)
    expect(left.every((f) => files.includes(f))).toBe(true)
    expect(part.records.map(idOf)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(await drain(a)).toEqual(Array.from({ length: 30 }, (_, i) => i + 30))
    // Everything consumed: only the active segment remains.
    expect(segFiles(dir)).toEqual([files[files.length - 1]])
    await a.close()
    const b = await open({ dir, segmentBytes: 4096 })
    expect(segFiles(dir).length).toBeLessThanOrEqual(2)
    expect(b.depthBytes()).toBe(0)
    expect(await readAll(b)).toEqual([])
  })

  it('counts depth from the checkpoint and tracks what the reader has not seen yet', async () => {
    const dir = tempDir()
    const s = await open({ dir })
    expect(s.unreadRecords).toBe(0)
    await s.append([rec(1), rec(2)])
    await s.append([rec(3)])
    expect(s.unreadRecords).toBe(3)
    expect(s.oldestUnreadAt).not.toBeNull()
    const depth = s.depthBytes()
    expect(depth).toBe(3 * encodeFrame(rec(1)).length)
    const r = await s.read(2, 1 << 20)
    expect(s.depthBytes()).toBe(depth)
    await s.commit(r.end)
    expect(s.depthBytes()).toBe(encodeFrame(rec(3)).length)
    expect(s.unreadRecords).toBeGreaterThan(0)
    await s.read(10, 1 << 20)
    expect(s.unreadRecords).toBe(0)
    expect(s.oldestUnreadAt).toBeNull()
  })

  it('queue refuses at once (full, closed), counts what it queued in the depth, and settles like append; close waits for it', async () => {
    const dir = tempDir()
    const log: string[] = []
    const { io, ctl } = tracingIo(log)
    ctl.syncDelayMs = 30
    const s = await open({ dir, io, maxBytes: 1_000 })
    expect(() => s.queue([rec(0, 2_000)])).toThrow(SpoolFullError)
    const p = s.queue([rec(1)])
    expect(log).toEqual([])
    // Queued bytes count as not landed, so "depth 0" still means everything is in ClickHouse.
    expect(s.depthBytes()).toBe(encodeFrame(rec(1)).length)
    await s.close()
    expect(log).toEqual(['writev:1', 'datasync'])
    await expect(p).resolves.toBeUndefined()
    expect(() => s.queue([rec(2)])).toThrow(SpoolWriteError)
    const again = await open({ dir })
    expect(await readAll(again)).toEqual([1])
  })

  it('counts a synced group once in the depth, also at the moment it becomes readable', async () => {
    const s = await open({ dir: tempDir() })
    const seen: number[] = []
    s.on('data', () => seen.push(s.depthBytes()))
    await s.append([rec(1)])
    expect(seen).toEqual([encodeFrame(rec(1)).length])
    expect(s.depthBytes()).toBe(encodeFrame(rec(1)).length)
  })

  it('close waits for appends in flight and refuses later ones', async () => {
    const dir = tempDir()
    const log: string[] = []
    const { io, ctl } = tracingIo(log)
    ctl.syncDelayMs = 30
    const s = await open({ dir, io })
    const p = s.append([rec(1)])
    await s.close()
    await expect(p).resolves.toBeUndefined()
    await expect(s.append([rec(2)])).rejects.toBeInstanceOf(SpoolWriteError)
    const again = await open({ dir })
    expect(await readAll(again)).toEqual([1])
  })
})
