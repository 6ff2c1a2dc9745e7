import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { z } from 'zod'
import { storageConfigFromEnv, type StorageConfig } from '../../analytics/index.ts'
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './pipeline/limits.ts'

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def)

const flag = (def: '0' | '1') =>
  z
    .enum(['0', '1', 'true', 'false'])
    .default(def)
    .transform((v) => v === '1' || v === 'true')

const envSchema = z.object({
  PORT: int(8080, 0, 65535),
  // Loopback unless opened on purpose: a demo's keys are public, and every service answers on the port.
  HOST: z.string().min(1).default('127.0.0.1'),
  ATTUNE_DATA: z.string().default('./data'),
  ATTUNE_PROGRAMS: z.string().default('./programs'),
  ATTUNE_SPOOL_MAX_BYTES: int(1024 ** 3, 1024, 2 ** 48),
  ATTUNE_SPOOL_SEGMENT_BYTES: int(64 * 1024 ** 2, 4096, 2 ** 32),
  ATTUNE_BATCH_MAX_ROWS: int(50_000, 1, 100_000),
  ATTUNE_BATCH_MAX_AGE_MS: int(1000, 1, 60_000),
  ATTUNE_INSERT_TIMEOUT_MS: int(30_000, 100, 600_000),
  ATTUNE_TRUST_PROXY: flag('0'),
  ATTUNE_DEMO_SEED: flag('1'),
  ATTUNE_CLUSTER_SCHEDULE: flag('1'),
  ATTUNE_PROFILE_STORE: z
    .enum(['0', '1', 'true', 'false'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === '1' || v === 'true')),
  ATTUNE_SHUTDOWN_TIMEOUT_MS: int(15_000, 0, 600_000),
  ATTUNE_INGEST_WORKERS: z.coerce.number().int().min(0).max(64).optional(),
  ATTUNE_INGEST_WORKER_MIN_BYTES: int(0, 0, 1024 ** 2),
  ATTUNE_SDK_DIR: z.string().optional(),
  ATTUNE_DEMO_DIR: z.string().optional(),
  ATTUNE_LANDED_FILTER_IDS: int(10_000_000, 0, 2_000_000_000),
  ATTUNE_DECIDE_PROFILE_TIMEOUT_MS: int(150, 1, 10_000),
  ATTUNE_HEADERS_TIMEOUT_MS: int(10_000, 100, 600_000),
  ATTUNE_LIVE_WINDOW_DAYS: int(DEFAULT_INGEST_LIMITS.liveDays, 1, 36_500),
  ATTUNE_IMPORT_WINDOW_DAYS: int(DEFAULT_INGEST_LIMITS.importDays, 1, 36_500),
  ATTUNE_IMPORT_MAX_MONTHS: int(DEFAULT_INGEST_LIMITS.maxMonths, 1, 120),
  ATTUNE_REQUEST_TIMEOUT_MS: int(30_000, 100, 600_000),
})

/** Everything the collector needs, parsed once at start-up and passed down. */
export interface CollectorConfig {
  port: number
  host: string
  dataDir: string
  programsDir: string
  storage: StorageConfig
  spool: { dir: string; maxBytes: number; segmentBytes: number }
  writer: { maxRows: number; maxAgeMs: number; maxBytes: number; insertTimeoutMs: number; retryMinMs: number; retryMaxMs: number }
  trustProxy: boolean
  shutdownTimeoutMs: number
  /** Worker threads for large request bodies (0: everything on the event loop), and from which size. */
  ingestWorkers: number
  ingestWorkerMinBytes: number
  /** Slow clients are cut off (guarantee L2): all headers within this, the whole request within the next. */
  headersTimeoutMs: number
  requestTimeoutMs: number
  /** Ids the writer's landed-id filter is sized for (about 1.2 bytes each); 0 turns it off. */
  landedFilterIds: number
  /** The built SDK (served at /attune.js) and the demo site (/demo/). */
  sdkDir: string
  demoDir: string
  /** A fresh embedded data directory gets the small synthetic demo population (npm start). */
  demoSeed: boolean
  /** Need clusters computed once the tables are ready and then daily; else only on request. */
  clusterSchedule: boolean
  /**
   * Profiles served from memory, kept current by this process's writer. By default on with the
   * embedded engine (this process is its only writer) and off with a server, which other
   * collectors may write to as well; on a server written by this collector alone it may be turned on.
   */
  profileStore: boolean
  /** How long /v1/decide waits for a profile from ClickHouse (profiles not in memory) before answering with the default content. */
  decideProfileTimeoutMs: number
  /** How old accepted events may be, and how many months one request may touch. */
  ingestLimits: IngestLimits
}

const ROOT = resolve(import.meta.dirname, '../..')

/** Parses the environment; a bad value stops start-up naming the variable. */
export function configFromEnv(env: NodeJS.ProcessEnv): CollectorConfig {
  const parsed = envSchema.safeParse(env)
  if (!parsed.success) {
    const i = parsed.error.issues[0]!
    throw new Error(`environment variable ${String(i.path[0])}: ${i.message}`)
  }
  const e = parsed.data
  const dataDir = resolve(e.ATTUNE_DATA)
  const storage = storageConfigFromEnv(env, dataDir)
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    programsDir: resolve(e.ATTUNE_PROGRAMS),
    storage,
    spool: { dir: `${dataDir}/spool`, maxBytes: e.ATTUNE_SPOOL_MAX_BYTES, segmentBytes: e.ATTUNE_SPOOL_SEGMENT_BYTES },
    writer: {
      maxRows: e.ATTUNE_BATCH_MAX_ROWS,
      maxAgeMs: e.ATTUNE_BATCH_MAX_AGE_MS,
      maxBytes: 64 * 1024 ** 2,
      insertTimeoutMs: e.ATTUNE_INSERT_TIMEOUT_MS,
      retryMinMs: 1000,
      retryMaxMs: 30_000,
    },
    trustProxy: e.ATTUNE_TRUST_PROXY,
    shutdownTimeoutMs: e.ATTUNE_SHUTDOWN_TIMEOUT_MS,
    // As many workers as cores: the event loop mostly waits on sockets, the spool and hand-offs
    // (measured on 2 cores, 100-event batches: 2 workers landed 51.8k events/s, 1 worker 49.8k).
    ingestWorkers: e.ATTUNE_INGEST_WORKERS ?? availableParallelism(),
    ingestWorkerMinBytes: e.ATTUNE_INGEST_WORKER_MIN_BYTES,
    headersTimeoutMs: e.ATTUNE_HEADERS_TIMEOUT_MS,
    landedFilterIds: e.ATTUNE_LANDED_FILTER_IDS,
    demoSeed: e.ATTUNE_DEMO_SEED,
    clusterSchedule: e.ATTUNE_CLUSTER_SCHEDULE,
    profileStore: e.ATTUNE_PROFILE_STORE ?? storage.mode === 'embedded',
    decideProfileTimeoutMs: e.ATTUNE_DECIDE_PROFILE_TIMEOUT_MS,
    ingestLimits: {
      liveDays: e.ATTUNE_LIVE_WINDOW_DAYS,
      importDays: Math.max(e.ATTUNE_IMPORT_WINDOW_DAYS, e.ATTUNE_LIVE_WINDOW_DAYS),
      maxMonths: e.ATTUNE_IMPORT_MAX_MONTHS,
    },
    sdkDir: resolve(e.ATTUNE_SDK_DIR ?? `${ROOT}/sdk/dist`),
    demoDir: resolve(e.ATTUNE_DEMO_DIR ?? `${ROOT}/collector/demo`),
    requestTimeoutMs: Math.max(e.ATTUNE_REQUEST_TIMEOUT_MS, e.ATTUNE_HEADERS_TIMEOUT_MS),
  }
}
