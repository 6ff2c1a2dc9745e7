// guarantee D5: with ClickHouse unreachable the collector keeps accepting at a steady rate
// (p99 within 100 ms), spools everything, and once ClickHouse is back every accepted event lands.
// The outage is a server URL nobody answers; "back" is the same data directory restarted on the
// embedded engine, which drains the spool.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startChild } from './child.ts'
import { basicAuth, eventFactory, SECRET_KEY } from './events.ts'
import { countLanded } from './ingest.ts'
import { load, type LoadResult } from './load.ts'

/** What the outage scenario measured. */
export interface OutageRun {
  dataDir: string
  load: Omit<LoadResult, never>
  eventsAccepted: number
  spoolBytesAtStop: number | null
  recoveryS: number
}

/** Loads a collector whose ClickHouse is down at `rate` req/s, then recovers it; returns the figures. */
export async function runOutage(opts: { durationS: number; rate: number; connections: number }): Promise<OutageRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'attune-bench-outage-'))
  const env = { ATTUNE_DATA: dataDir, ATTUNE_PROGRAMS: join(import.meta.dirname, '..', 'programs') }
  const down = await startChild('collector/src/server.ts', { ...env, CLICKHOUSE_URL: 'http://127.0.0.1:1', ATTUNE_SHUTDOWN_TIMEOUT_MS: '1000' })
  const make = eventFactory()
  const result = await load({
    url: down.url,
    path: '/v1/track',
    headers: { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' },
    body: make.single,
    durationS: opts.durationS,
    connections: opts.connections,
    serverPid: down.child.pid,
    rate: opts.rate,
  })
  down.child.kill('SIGTERM')
  await down.exited
  const left = /(\d+) bytes left in the spool/.exec(down.output())
  // ClickHouse is back: the same data directory on the embedded engine drains the spool.
  const t0 = performance.now()
  const up = await startChild('collector/src/server.ts', { ...env, ATTUNE_SHUTDOWN_TIMEOUT_MS: '600000' })
  up.child.kill('SIGTERM')
  await up.exited
  const recoveryS = (performance.now() - t0) / 1000
  const { startedAt: _s, endedAt: _e, ...figures } = result
  return { dataDir, load: figures, eventsAccepted: result.ok2xx, spoolBytesAtStop: left ? Number(left[1]) : null, recoveryS: Math.round(recoveryS * 100) / 100 }
}

/** The report section for the outage scenario, once landed rows are counted. */
export async function outageFigures(run: OutageRun) {
  const landed = await countLanded(run.dataDir)
  return {
    clickhouse: 'unreachable (http://127.0.0.1:1) during the load; then the same data directory on the embedded engine',
    requestsPerSec: run.load.requestsPerSec,
    latencyMs: run.load.latencyMs,
    non2xx: run.load.non2xx,
    errors: run.load.errors,
    eventsAccepted: run.eventsAccepted,
    spoolBytesAtStop: run.spoolBytesAtStop,
    recoveryS: run.recoveryS,
    eventsLanded: landed.rows,
    eventsLandedDistinct: landed.distinctMessageIds,
    // Requests in flight when the load stopped are stored but not counted as answered: landed may exceed accepted by up to one per connection.
    nothingLost: landed.rows >= run.eventsAccepted && landed.rows === landed.distinctMessageIds,
    cpuCoresUnderLoad: { loadGenerator: run.load.loadGeneratorCpuCores, server: run.load.serverCpuCores, other: run.load.otherCpuCores },
  }
}
