import type { Hono } from 'hono'
import { join } from 'node:path'
import { createDb, loadPrograms, migrate, MigrationError, ProfileStore, type Db, type LoadedProgram, DAY_MS } from '../../analytics/index.ts'
import { createApp } from './app.ts'
import { IngestPool } from './pipeline/ingest-pool.ts'
import { describeError } from './errors.ts'
import { lockDataDir } from './data-lock.ts'
import type { CollectorConfig } from './config.ts'
import { KeyIndex } from './keys.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { ClusterStore } from './cluster-store.ts'
import { DecisionLog, type OwnEventStore } from './decision-log.ts'
import { ProgramRegistry } from './program-registry.ts'
import { fileVersion, ProgramVersionStore } from './program-version-store.ts'
import { clickhouseSink, type SinkStats } from './spool/clickhouse-sink.ts'
import { LandedIds } from './spool/landed-ids.ts'
import { Quarantine } from './spool/quarantine.ts'
import { Spool, type SpoolIo } from './spool/spool.ts'
import { SpoolWriter, type BatchSink } from './spool/writer.ts'

/** Hooks for tests: fault injection in the spool's disk writes and in the ClickHouse sink. */
export interface ServiceHooks {
  spoolIo?: SpoolIo
  wrapSink?: (sink: BatchSink) => BatchSink
  log?: (msg: string) => void
}

/** A running collector: the app plus what it owns. */
export interface Service {
  app: Hono
  db: Db
  spool: Spool
  writer: SpoolWriter
  metrics: Metrics
  /** The active program documents (they change when a version is activated). */
  readonly programs: LoadedProgram[]
  /** The active versions, and the keys and demo write key built from them. */
  registry: ProgramRegistry
  sink: SinkStats
  /** Profiles served from memory (null when ATTUNE_PROFILE_STORE is off). */
  profiles: ProfileStore | null
  /** The ingestion worker threads, or null with ATTUNE_INGEST_WORKERS=0. */
  pool: IngestPool | null
  /** Resolves once migrations are applied, the stored program versions are active and the writer may insert. */
  ready: Promise<void>
  /** Stops the writer (draining what it can within the shutdown timeout) and closes files and ClickHouse. */
  close(opts?: { drain?: boolean }): Promise<void>
}

/**
 * Opens the spool and ClickHouse and starts the writer. The collector accepts events at once;
 * migrations are retried in the background while ClickHouse is unreachable, and the writer
 * starts inserting once they are applied. The stored program versions are made active after the
 * migrations (see ProgramVersionStore); this returns once the first attempt at that is over, or
 * after PROGRAM_VERSIONS_WAIT_MS, with the files' documents active until the stored ones are.
 */
export async function createService(config: CollectorConfig, hooks: ServiceHooks = {}): Promise<Service> {
  const log = hooks.log ?? ((m: string) => console.error(`[attune] ${m}`))
  const files = loadPrograms(config.programsDir, process.env)
  const keys = new KeyIndex([])
  const registry = new ProgramRegistry(files.map(fileVersion), keys, log)
  const metrics = createMetrics()
  const unlock = lockDataDir(config.dataDir)
  let db: Db
  let spool: Spool
  try {
    db = createDb(config.storage)
    spool = await Spool.open({ ...config.spool, io: hooks.spoolIo })
  } catch (e) {
    unlock()
    throw e
  }
  const versions = new ProgramVersionStore({ db, registry, files, env: process.env, log })
  let migrated = false
  let migrationError: string | null = null
  let closing = false
  let wakeMigrations = () => {}
  let firstAttempt = () => {}
  const firstAttemptDone = new Promise<void>((r) => (firstAttempt = r))
  // Resolves only once migrations are applied and the stored program versions are active: the
  // writer must not insert before that. When the service closes first, it stays pending and the
  // writer's stop gives up waiting for it.
  const ready = new Promise<void>((resolve) => {
    void (async () => {
      for (let attempt = 1; !closing; attempt++) {
        try {
          if (!migrated) {
            const report = await migrate(db)
            for (const m of report.applied) log(`migration ${m.version}_${m.name} applied`)
            migrated = true
          }
          await versions.load()
          firstAttempt()
          resolve()
          return
        } catch (e) {
          firstAttempt()
          if (closing) return
          if (e instanceof MigrationError) {
            // Retrying cannot help: keep accepting into the spool and say why nothing lands.
            migrationError = e.message
            log(`migrations cannot be applied: ${e.message}; events are kept in the spool`)
            return
          }
          log(`ClickHouse not ready (${describeError(e)}); retrying`)
          await new Promise<void>((r) => {
            const t = setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)))
            wakeMigrations = () => {
              clearTimeout(t)
              r()
            }
          })
        }
      }
    })()
  })
  // One count feeds /health's totals and the Prometheus counters alike.
  const sinkStats: SinkStats = { inserted: 0, duplicates: 0, quarantined: 0 }
  const count = (what: keyof SinkStats, n: number) => {
    sinkStats[what] += n
    metrics[what].inc(n)
  }
  // Embedded, this process is ClickHouse's only writer (the data lock), so a filter of landed
  // ids can spare most lookups; a shared server may be written by other collectors too.
  const landed = config.storage.mode === 'embedded' && config.landedFilterIds > 0 ? new LandedIds(db, { capacity: config.landedFilterIds, log }) : undefined
  let refreshTimer: NodeJS.Timeout | undefined
  if (landed) {
    void ready.then(() => landed.refresh())
    refreshTimer = setInterval(() => void landed.refresh(), DAY_MS).unref()
  }
  // Profiles from memory: loaded once the tables are ready, then fed by every insert below.
  const profiles = config.profileStore ? new ProfileStore(db, log) : null
  if (profiles) void ready.then(() => Promise.all(registry.programs().map((p) => profiles.load(p.program))))
  const programById = (id: string) => registry.programs().find((p) => p.program.id === id)?.program
  // The decide endpoint's decisions and stage changes go into the profiles in memory as they are spooled.
  const ownEvents: OwnEventStore | undefined = profiles
    ? {
        apply: (program, person, events) => profiles.applyOwn(program, person, events),
        discard: (program, person, ids) => {
          const p = programById(program)
          if (p) profiles.discardOwn(p, person, ids)
        },
      }
    : undefined
  const base = clickhouseSink(
    db,
    count,
    new Quarantine(join(config.dataDir, 'quarantine')),
    landed,
    profiles ? (program, who) => profiles.landed(program, who, programById) : undefined,
  )
  const described: BatchSink = (payloads) =>
    base(payloads).catch((e: unknown) => {
      // The writer logs and shows on /health what it is given: the code, never the row.
      throw new Error(describeError(e))
    })
  const sink = hooks.wrapSink ? hooks.wrapSink(described) : described
  const writer = new SpoolWriter(
    spool,
    sink,
    {
      ...config.writer,
      onBatch: ({ ms }) => {
        metrics.insertLatency.observe(ms / 1000)
        if (landed) {
          metrics.landedFilterIds.set(landed.size)
          if (landed.saturated) void landed.refresh()
        }
      },
      onError: (err, attempt) => {
        metrics.insertFailures.inc()
        if (attempt === 1 || attempt % 10 === 0) log(`insert failed (attempt ${attempt}), will retry: ${err.message}`)
      },
    },
    ready,
  )
  writer.start()
  const pool = config.ingestWorkers > 0 ? new IngestPool(registry.keys(), config.ingestWorkers) : null
  if (pool) registry.onKeys((k) => pool.setKeys(k))
  const clusters = new ClusterStore(db, log)
  // The stored runs are read even without the schedule: a restart keeps every profile's cluster.
  void ready.then(() => clusters.start(() => registry.programs().map((p) => p.program), { schedule: config.clusterSchedule }))
  const app = createApp({
    keys,
    spool,
    metrics,
    trustProxy: config.trustProxy,
    storage: config.storage,
    pool,
    poolMinBytes: config.ingestWorkerMinBytes,
    ingestLimits: config.ingestLimits,
    ping: () => db.ping(),
    migrated: () => migrated,
    migrationError: () => migrationError,
    spoolMaxBytes: config.spool.maxBytes,
    writer,
    sink: sinkStats,
    log,
    sdkDir: config.sdkDir,
    demoDir: config.demoDir,
    demoWriteKey: () => registry.demoWriteKey(),
    programs: () => registry.programs(),
    db,
    clusters,
    profiles,
    registry,
    versions,
    decisions: new DecisionLog(spool, log, ownEvents),
    decideProfileTimeoutMs: config.decideProfileTimeoutMs,
  })
  // Requests should meet the stored versions, not the files, where they differ (a key revoked
  // through the API stays revoked across a restart): wait for the first attempt to load them, but
  // not for long, since events are accepted while ClickHouse is unreachable (the files are active until then).
  let waited: NodeJS.Timeout | undefined
  await Promise.race([firstAttemptDone, new Promise<void>((r) => (waited = setTimeout(r, PROGRAM_VERSIONS_WAIT_MS)))])
  clearTimeout(waited)
  return {
    app,
    db,
    spool,
    writer,
    metrics,
    registry,
    pool,
    sink: sinkStats,
    ready,
    profiles,
    get programs() {
      return registry.programs()
    },
    async close(opts = {}) {
      closing = true
      wakeMigrations()
      // Appends still running (a request whose socket was cut at shutdown) finish first, so the
      // drain sees them and nothing is appended behind it.
      await spool.stopAppending()
      await pool?.close()
      await writer.stop({ drain: opts.drain ?? true, timeoutMs: config.shutdownTimeoutMs })
      await spool.close()
      clearInterval(refreshTimer)
      await clusters.stop()
      await profiles?.stop()
      await landed?.close()
      await db.close()
      unlock()
    },
  }
}

/** How long start-up waits for the stored program versions before serving the files' versions. */
const PROGRAM_VERSIONS_WAIT_MS = 5_000
