import { join } from 'node:path'
import { createDb, migrate, storageConfigFromEnv, type Db, type ProgramKey } from '../../analytics/index.ts'
import {
  clickhouseSink,
  decodeFrames,
  ingestBody,
  type IngestOutcome,
  KeyIndex,
  LandedIds,
  lockDataDir,
  Quarantine,
  type RawIngestRequest,
  type Rejection,
  type SinkStats,
} from '../../collector/index.ts'
import { HISTORY_LIMITS, type PopulationRequest } from './population.ts'

/** Storage opened for direct loading: the data directory locked as the collector locks it, ClickHouse migrated. */
export interface DirectStorage {
  db: Db
  dataDir: string
  /** The landed-id filter (embedded engine only: this process is then ClickHouse's only writer). */
  landed?: LandedIds
  close(): Promise<void>
}

/**
 * Opens the data directory as the collector does: takes its lock (so no collector runs on it
 * meanwhile, and none starts), opens ClickHouse (embedded under it, or CLICKHOUSE_URL) and
 * applies migrations.
 */
export async function openDirectStorage(dataDir: string, env: NodeJS.ProcessEnv = {}, log: (m: string) => void = () => {}): Promise<DirectStorage> {
  const unlock = lockDataDir(dataDir)
  let db: Db | undefined
  try {
    const storage = storageConfigFromEnv(env, dataDir)
    db = createDb(storage)
    await migrate(db)
    const landed = storage.mode === 'embedded' ? new LandedIds(db, { capacity: 10_000_000, log }) : undefined
    await landed?.refresh()
    const opened = db
    return {
      db: opened,
      dataDir,
      ...(landed ? { landed } : {}),
      async close() {
        await landed?.close()
        await opened.close()
        unlock()
      },
    }
  } catch (e) {
    await db?.close().catch(() => {})
    unlock()
    throw e
  }
}

/** Where direct loading writes, and what it reports on the way. */
export interface DirectLoadOptions {
  db: Db
  /** Every program's resolved keys (`loadPrograms(...).flatMap(p => p.keys)`): requests authenticate as over HTTP. */
  keys: readonly ProgramKey[]
  /** The quarantine folder for rows ClickHouse refuses (the collector's: `<data>/quarantine`). */
  quarantineDir: string
  landed?: LandedIds
  /** Rows per ClickHouse insert round (the sink splits them by month). Default 50,000 (the collector's own batch size). */
  batchRows?: number
  onProgress?: (p: DirectLoadStats & { patientsDone: number }) => void
}

/** What a direct load did. */
export interface DirectLoadStats extends SinkStats {
  requests: number
  /** Events in the requests, accepted by the pipeline, and rejected with their reasons. */
  events: number
  accepted: number
  rejected: Array<Rejection & { keyId: string; messageId?: string }>
  /** Requests refused as a whole (bad key, origin, body). */
  refused: Array<{ keyId: string; code: string; message: string }>
  ms: number
}

/**
 * Loads requests straight into ClickHouse: each body runs through `ingestBody` (the collector's
 * own pure ingestion: validation, privacy, clock, user agent, bots, campaign, channel, click
 * tokens, needs, goals, ip), the accepted rows are inserted through the collector's sink
 * (exactly once per message id, a month per insert, refused rows to the quarantine), in large
 * rounds, the next round ingested while the last one is inserted. The spool is skipped: nothing
 * here must survive a crash, a rerun de-duplicates.
 */
export async function loadDirect(requests: AsyncIterable<PopulationRequest>, opts: DirectLoadOptions): Promise<DirectLoadStats> {
  const started = performance.now()
  const keys = new KeyIndex([...opts.keys])
  const stats: DirectLoadStats = { requests: 0, events: 0, accepted: 0, rejected: [], refused: [], inserted: 0, duplicates: 0, quarantined: 0, ms: 0 }
  const sink = clickhouseSink(opts.db, (what, n) => (stats[what] += n), new Quarantine(opts.quarantineDir), opts.landed)
  const batchRows = opts.batchRows ?? 50_000
  let round: Buffer[] = []
  let inserting: Promise<void> = Promise.resolve()
  let patientsDone = 0
  const flush = async () => {
    await inserting
    const rows = round
    round = []
    inserting = rows.length > 0 ? sink(rows) : Promise.resolve()
    // A failed insert surfaces at the next await; keep it from being reported as unhandled meanwhile.
    inserting.catch(() => {})
  }
  const take = (req: PopulationRequest, out: IngestOutcome) => {
    stats.requests++
    stats.events += req.body.batch.length
    for (const r of out.error?.rejected ?? out.rejected) stats.rejected.push({ ...r, keyId: req.keyId, messageId: req.body.batch[r.index]?.messageId })
    if (out.error && !out.error.rejected) stats.refused.push({ keyId: req.keyId, code: out.error.code, message: out.error.message })
    if (out.frames) {
      const { records } = decodeFrames(Buffer.from(out.frames.buffer, out.frames.byteOffset, out.frames.byteLength), true)
      stats.accepted += records.length
      for (const r of records) round.push(r)
    }
    patientsDone = Math.max(patientsDone, req.patientsDone)
    opts.onProgress?.({ ...stats, patientsDone, ms: performance.now() - started })
  }
  // On this thread: handing bodies to the collector's ingestion workers was measured slower here
  // (2 cores, 10,000 patients × 90 days: 7,400 events/s with 2 workers, 15,400 without), the
  // generator, the copies to and from the workers and ClickHouse's inserts sharing the cores.
  for await (const req of requests) {
    const raw: RawIngestRequest = {
      body: Buffer.from(JSON.stringify(req.body)),
      contentEncoding: '',
      authorization: `Basic ${Buffer.from(`${req.key}:`).toString('base64')}`,
      ...(req.origin ? { origin: req.origin } : {}),
      userAgent: req.userAgent,
      ip: req.ip,
      receivedAt: req.arrivesAt,
      limits: HISTORY_LIMITS,
    }
    take(req, ingestBody(raw, keys))
    if (round.length >= batchRows) await flush()
  }
  await flush()
  await inserting
  stats.ms = performance.now() - started
  opts.onProgress?.({ ...stats, patientsDone })
  return stats
}

/** The collector's quarantine folder under a data directory. */
export const quarantineDirOf = (dataDir: string): string => join(dataDir, 'quarantine')
