import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { existingMessageIds, insertEventFile, insertEventLines, type Db, type ProgramKey } from '../../analytics/index.ts'
import { clickhouseSink, isDataError, type LandedIds, landedKey, payloadText, Quarantine, type SinkStats } from '../../collector/index.ts'
import type { DirectLoadStats } from './direct-load.ts'
import type { ChunkPart, FastLoadWorkerData, WorkerReport } from './fast-load.worker.ts'
import type { PopulationOptions } from './population.ts'

/** A large population, straight into ClickHouse. */
export interface FastLoadOptions {
  /** What to generate, as for `generatePopulation` (`keys`: the program's resolved keys). */
  population: PopulationOptions
  db: Db
  /** Every program's resolved keys: requests authenticate as over HTTP. */
  keys: readonly ProgramKey[]
  /** The quarantine folder for rows ClickHouse refuses (the collector's: `<data>/quarantine`). */
  quarantineDir: string
  /** The landed-id filter of the store (embedded engine): ids it rules out are not looked up. */
  landed?: LandedIds
  /** Threads generating and ingesting, each a share of the patients. Default: one per core. */
  workers?: number
  /**
   * Rows of one partition per insert. Default 150,000: fewer, larger parts leave the engine less
   * to merge (measured, 20,000 patients × 90 days: 12% less CPU in all than with 50,000).
   */
  insertRows?: number
  /** Rows held before the largest partition is inserted whatever its size (about 530 bytes each). Default 600,000. */
  maxPendingRows?: number
  /** Rows a worker hands over at once. Default 10,000. */
  chunkRows?: number
  onProgress?: (p: DirectLoadStats & { patientsDone: number }) => void
}

interface Pending {
  program: string
  partition: string
  ids: string[]
  lines: Buffer[]
}

/**
 * Loads a synthetic population straight into ClickHouse, for volumes where `loadDirect` (one
 * thread, the collector's sink per round) is too slow. Worker threads each generate a share of
 * the patients and run every request through the collector's ingestion in-process
 * (`ingestMessages`: the same steps, so the same rows — content ids, need weights, goals — as
 * the collector stores); this thread gathers the rows per partition and inserts them in large
 * blocks, one partition per insert, one insert at a time, while the workers go on (they wait
 * for credits when it falls behind, so memory stays bounded). The embedded engine reads each
 * block from a temporary file (`insertEventFile`), a server gets the bytes (`insertEventLines`).
 * No spool: a crash loses nothing a rerun cannot make again, and a rerun lands nothing twice —
 * message ids derive from the seed, and ids the store's landed-id filter cannot rule out are
 * looked up first, as the collector's sink does (none are when the filter holds no id at all).
 * A block ClickHouse refuses for its data goes through the collector's sink, which finds the
 * rows at fault and quarantines them.
 *
 * @example
 * const stats = await loadFast({ population: { program, keys: loaded.keys, patients: 100_000, days: 215, seed: 1 }, db, keys: allKeys, quarantineDir })
 */
export async function loadFast(opts: FastLoadOptions): Promise<DirectLoadStats> {
  const started = performance.now()
  const workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()))
  const insertRows = opts.insertRows ?? 150_000
  const maxPendingRows = Math.max(insertRows, opts.maxPendingRows ?? 600_000)
  const stats: DirectLoadStats = { requests: 0, events: 0, accepted: 0, rejected: [], refused: [], inserted: 0, duplicates: 0, quarantined: 0, ms: 0 }
  const count = (what: keyof SinkStats, n: number) => (stats[what] += n)
  const sink = clickhouseSink(opts.db, count, new Quarantine(opts.quarantineDir), opts.landed)
  const landed = opts.landed
  // A store without a single landed id cannot hold any of these; otherwise every chunk is checked as the sink checks.
  const mustCheck = !landed?.ready || landed.size > 0
  const done = new Array<number>(workers).fill(0)
  const progress = () => opts.onProgress?.({ ...stats, patientsDone: done.reduce((a, b) => a + b, 0), ms: performance.now() - started })

  const pending = new Map<string, Pending>()
  let pendingRows = 0
  let inserting: Promise<void> = Promise.resolve()

  // The embedded engine reads each block from a file of its own (less engine time a row than inline bytes); a server gets the bytes.
  const files = opts.db.mode === 'embedded' ? mkdtempSync(join(tmpdir(), 'attune-fast-load-')) : null
  let fileNo = 0
  const insertBlock = async (body: Buffer, partition: string, token: string): Promise<void> => {
    if (!files) return insertEventLines(opts.db, body, token)
    const path = join(files, `${partition}-${fileNo++}.jsonl`)
    await writeFile(path, body)
    try {
      await insertEventFile(opts.db, path, token)
    } finally {
      await rm(path, { force: true })
    }
  }
  const insert = async (b: Pending): Promise<void> => {
    const body = Buffer.concat(b.lines)
    const keys = b.ids.map((id) => landedKey(b.program, id))
    const token = createHash('sha256').update(b.partition).update('\u0001').update(keys.join('\u0001')).digest('hex')
    try {
      await insertBlock(body, b.partition, token)
    } catch (e) {
      if (!isDataError(e)) throw e
      await sink(rowsOf(body).map((row, i) => Buffer.from(payloadText(b.partition, b.program, b.ids[i]!, row.toString('utf8')))))
      return
    }
    if (landed) for (const k of keys) landed.add(k)
    stats.inserted += b.ids.length
  }
  const flush = async (at: string): Promise<void> => {
    const b = pending.get(at)!
    pending.delete(at)
    pendingRows -= b.ids.length
    await inserting
    inserting = insert(b)
    // A failed insert surfaces at the next await; keep it from being reported as unhandled meanwhile.
    inserting.catch(() => {})
  }
  const admit = async (part: ChunkPart): Promise<void> => {
    let ids = part.ids
    let lines = Buffer.from(part.lines.buffer, part.lines.byteOffset, part.lines.byteLength)
    if (mustCheck) {
      const maybe = landed?.ready ? ids.filter((id) => landed.mayHave(landedKey(part.program, id))) : ids
      const found = maybe.length > 0 ? await existingMessageIds(opts.db, part.program, maybe) : new Set<string>()
      if (found.size > 0) {
        const rows = rowsOf(lines)
        const keep = ids.map((id) => !found.has(id))
        stats.duplicates += keep.filter((k) => !k).length
        ids = ids.filter((_, i) => keep[i])
        lines = Buffer.concat(rows.filter((_, i) => keep[i]).flatMap((r) => [r, NEWLINE]))
      }
    }
    if (ids.length === 0) return
    const at = `${part.program}\u0000${part.partition}`
    let b = pending.get(at)
    if (!b) pending.set(at, (b = { program: part.program, partition: part.partition, ids: [], lines: [] }))
    for (const id of ids) b.ids.push(id)
    b.lines.push(lines)
    pendingRows += ids.length
    if (b.ids.length >= insertRows) await flush(at)
    while (pendingRows > maxPendingRows) await flush(largest(pending))
  }

  // Reports arrive in order per worker; they are taken one at a time, so a check's await never reorders them.
  const inbox: Array<{ worker: number; report: WorkerReport }> = []
  let wakeInbox: (() => void) | null = null
  let failure: Error | null = null
  const fail = (e: Error) => {
    failure ??= e
    wakeInbox?.()
  }
  // One `now` for every worker, so they generate one population.
  const now = opts.population.now ?? Date.now()
  const threads = Array.from({ length: workers }, (_, index) => {
    const data: FastLoadWorkerData = {
      program: opts.population.program,
      programKeys: [...(opts.population.keys ?? [])],
      allKeys: [...opts.keys],
      patients: opts.population.patients,
      days: opts.population.days,
      seed: opts.population.seed,
      now,
      ...(opts.population.origin ? { origin: opts.population.origin } : {}),
      ...(opts.population.batchSize ? { batchSize: opts.population.batchSize } : {}),
      part: { index, of: workers },
      chunkRows: opts.chunkRows ?? 10_000,
      // Two chunks in flight per worker: one being admitted here, the next ready to go.
      credits: 2,
    }
    const w = new Worker(new URL('./fast-load-worker.mjs', import.meta.url), { workerData: data })
    w.on('message', (report: WorkerReport) => {
      inbox.push({ worker: index, report })
      wakeInbox?.()
    })
    w.on('error', (e) => fail(new Error(`fast-load worker ${index} failed: ${e.message}`)))
    w.on('exit', (code) => {
      if (code !== 0) fail(new Error(`fast-load worker ${index} exited with ${code}`))
    })
    return w
  })

  try {
    let finished = 0
    while (finished < workers) {
      if (failure) throw failure
      const next = inbox.shift()
      if (!next) {
        await new Promise<void>((r) => (wakeInbox = r))
        wakeInbox = null
        continue
      }
      const { worker, report } = next
      stats.requests += report.requests
      stats.events += report.events
      stats.accepted += report.accepted
      for (const r of report.rejected) stats.rejected.push(r)
      for (const r of report.refused) stats.refused.push(r)
      for (const part of report.parts) await admit(part)
      done[worker] = report.patientsDone
      if (report.type === 'done') finished++
      else threads[worker]!.postMessage({ credit: 1 })
      progress()
    }
    for (const at of [...pending.keys()]) await flush(at)
    await inserting
  } catch (e) {
    await inserting.catch(() => {})
    throw e
  } finally {
    await Promise.all(threads.map((t) => t.terminate()))
    if (files) rmSync(files, { recursive: true, force: true })
  }
  stats.ms = performance.now() - started
  progress()
  return stats
}

/** The key of the pending partition with the most rows. */
function largest(pending: Map<string, Pending>): string {
  let best = ''
  let rows = -1
  for (const [at, b] of pending) {
    if (b.ids.length > rows) {
      best = at
      rows = b.ids.length
    }
  }
  return best
}

/** The lines of a block (each ends with a newline; JSON text never holds a raw one). */
function rowsOf(lines: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let start = 0; start < lines.length; ) {
    const end = lines.indexOf(0x0a, start)
    out.push(lines.subarray(start, end))
    start = end + 1
  }
  return out
}

const NEWLINE = Buffer.from('\n')
