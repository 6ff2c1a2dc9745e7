// The collector under load, end to end: the real server process on the embedded engine in a
// temporary data directory, loaded over loopback, then stopped with SIGTERM (which drains the
// spool into ClickHouse); the rows that landed are counted afterwards with countLanded().
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDb } from '../analytics/index.ts'
import { cpuSeconds, machineBusySeconds, startChild, type Child } from './child.ts'
import { basicAuth, eventFactory, SECRET_KEY } from './events.ts'
import { load, type LoadResult } from './load.ts'

/** One ingestion scenario. */
export interface IngestSpec {
  name: string
  /** `/v1/track` with one event, or `/v1/batch` with `batchSize` events. */
  path: '/v1/track' | '/v1/batch'
  eventsPerRequest: number
  durationS: number
  connections: number
  /** How long the server may take to drain its spool after SIGTERM. */
  drainTimeoutS: number
  /** Extra `node` flags for the server (e.g. --cpu-prof). */
  nodeFlags?: string[]
  /** Extra environment for the server. */
  env?: Record<string, string>
}

/** What a scenario measured before its rows are counted. */
export interface IngestRun {
  spec: IngestSpec
  dataDir: string
  load: LoadResult
  /** Events in 2xx answers. */
  eventsAccepted: number
  /** Rows the writer had inserted when the load ended (from /health). */
  landedWhenLoadEnded: number | null
  /** From the end of the load until the server process exited, its spool drained. */
  drainS: number
  /** Cores the server, and everything else on the machine, used during the drain. */
  drainServerCpuCores: number | null
  drainOtherCpuCores: number | null
  exit: number | string | null
  /** What the server said on its way out (the drain log line), for the report. */
  spoolBytesLeft: number | null
  /** The server's log lines other than start-up and shutdown (insert failures, errors). */
  serverLog: string[]
}

async function health(url: string): Promise<{ status: string; events: { inserted: number } } | null> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })
    return (await res.json()) as { status: string; events: { inserted: number } }
  } catch {
    return null
  }
}

async function untilHealthy(url: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if ((await health(url))?.status === 'ok') return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`collector at ${url} not healthy within ${timeoutMs} ms`)
}

/** Starts the collector on a fresh data directory and waits until it is migrated and healthy. */
export async function startCollector(dataDir: string, drainTimeoutS: number, nodeFlags: string[] = [], env: Record<string, string> = {}): Promise<Child> {
  const server = await startChild(
    'collector/src/server.ts',
    {
      ATTUNE_DATA: dataDir,
      ATTUNE_PROGRAMS: join(import.meta.dirname, '..', 'programs'),
      ATTUNE_SHUTDOWN_TIMEOUT_MS: String(drainTimeoutS * 1000),
      ...env,
    },
    nodeFlags,
  )
  await untilHealthy(server.url)
  return server
}

/** Runs one scenario; the data directory is kept for countLanded(). */
export async function runIngest(spec: IngestSpec): Promise<IngestRun> {
  const dataDir = mkdtempSync(join(tmpdir(), `attune-bench-${spec.name}-`))
  const server = await startCollector(dataDir, spec.drainTimeoutS, spec.nodeFlags, spec.env)
  const make = eventFactory()
  const body = spec.eventsPerRequest === 1 && spec.path === '/v1/track' ? make.single : () => make.batch(spec.eventsPerRequest)
  const result = await load({
    url: server.url,
    path: spec.path,
    headers: { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' },
    body,
    durationS: spec.durationS,
    connections: spec.connections,
    serverPid: server.child.pid,
  }).catch(async (e: unknown) => {
    server.child.kill('SIGKILL')
    await server.exited
    throw e
  })
  // The server's CPU is sampled until it exits (its /proc entry goes with it).
  const pid = server.child.pid
  const all0 = machineBusySeconds()
  const srv0 = cpuSeconds(pid)
  let srvLast = srv0
  const sampler = setInterval(() => (srvLast = cpuSeconds(pid) ?? srvLast), 50)
  const landedWhenLoadEnded = (await health(server.url))?.events.inserted ?? null
  server.child.kill('SIGTERM')
  const exit = await server.exited
  clearInterval(sampler)
  const all1 = machineBusySeconds()
  const drainS = (performance.now() - result.endedAt) / 1000
  const drainServer = srv0 !== null && srvLast !== null ? (srvLast - srv0) / drainS : null
  const drainMachine = all0 !== null && all1 !== null ? (all1 - all0) / drainS : null
  const left = /(\d+) bytes left in the spool/.exec(server.output())
  const { startedAt: _s, endedAt: _e, ...figures } = result
  return {
    spec,
    dataDir,
    load: figures,
    eventsAccepted: result.ok2xx * spec.eventsPerRequest,
    landedWhenLoadEnded,
    drainS: Math.round(drainS * 1000) / 1000,
    drainServerCpuCores: drainServer === null ? null : Math.round(drainServer * 100) / 100,
    drainOtherCpuCores: drainMachine === null ? null : Math.round(Math.max(0, drainMachine - (drainServer ?? 0)) * 100) / 100,
    exit,
    spoolBytesLeft: left ? Number(left[1]) : null,
    serverLog: server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('[attune]') && !/migration .* applied|SIGTERM|stopped cleanly/.test(l))
      .slice(0, 20),
  }
}

/**
 * Opens the embedded engine on a stopped collector's data directory and counts the rows in
 * `events`. The engine is one per process, so counts run one after another.
 */
export async function countLanded(dataDir: string): Promise<{ rows: number; distinctMessageIds: number }> {
  const db = createDb({ mode: 'embedded', path: join(dataDir, 'clickhouse') })
  try {
    const [row] = await db.query<{ rows: string | number; ids: string | number }>('SELECT count() AS rows, uniqExact(message_id) AS ids FROM events')
    return { rows: Number(row?.rows ?? 0), distinctMessageIds: Number(row?.ids ?? 0) }
  } finally {
    await db.close()
  }
}
