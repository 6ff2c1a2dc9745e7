import { Hono } from 'hono'
import type { ProfileStore, StorageConfig } from '../../../analytics/index.ts'
import type { Metrics } from '../metrics.ts'
import type { SinkStats } from '../spool/clickhouse-sink.ts'
import type { Spool } from '../spool/spool.ts'
import type { SpoolWriter } from '../spool/writer.ts'

/** What the health and metrics routes read. */
export interface HealthDeps {
  storage: StorageConfig
  ping: () => Promise<boolean>
  migrated: () => boolean
  /** Why migrations cannot be applied (a changed or bad file), or null. */
  migrationError: () => string | null
  spool: Spool
  spoolMaxBytes: number
  writer: SpoolWriter
  sink: SinkStats
  metrics: Metrics
  profiles: ProfileStore | null
}

/** `GET /health` (JSON) and `GET /metrics` (Prometheus text). */
export function healthRoutes(d: HealthDeps): Hono {
  const app = new Hono()

  app.get('/health', async (c) => {
    let timer: NodeJS.Timeout | undefined
    const reachable = await Promise.race([d.ping(), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000)))]).finally(() => clearTimeout(timer))
    const spool = d.spool.stats()
    const w = d.writer.state
    // Full means requests are being refused now (a request needs room, so depth alone never
    // reaches the cap), until the writer frees space.
    const accepting = d.spool.refusingSince === null && spool.depthBytes < d.spoolMaxBytes
    // Accepting events is what the collector promises; ClickHouse away or failing only delays them.
    const status = !accepting ? 'unavailable' : reachable && d.migrated() && w.consecutiveFailures === 0 ? 'ok' : 'degraded'
    return c.json(
      {
        status,
        clickhouse: {
          mode: d.storage.mode,
          reachable,
          migrated: d.migrated(),
          ...(d.migrationError() ? { migrationError: d.migrationError() } : {}),
          ...(d.storage.mode === 'server' ? { url: d.storage.url } : {}),
        },
        spool: { depthBytes: spool.depthBytes, maxBytes: d.spoolMaxBytes, segments: spool.segments, damagedStretches: spool.damagedStretches, accepting },
        writer: {
          running: w.running,
          batches: w.batches,
          rows: w.rows,
          consecutiveFailures: w.consecutiveFailures,
          lastError: w.lastError,
          lastErrorAt: w.lastErrorAt && new Date(w.lastErrorAt).toISOString(),
          lastSuccessAt: w.lastSuccessAt && new Date(w.lastSuccessAt).toISOString(),
        },
        events: { ...d.sink },
        // Profiles come from memory once their program is ready there, from ClickHouse before.
        profiles: d.profiles ? { store: 'memory', programs: d.profiles.status() } : { store: 'off' },
      },
      status === 'unavailable' ? 503 : 200,
    )
  })

  app.get('/metrics', async (c) => {
    const s = d.spool.stats()
    d.metrics.spoolBytes.set(s.depthBytes)
    d.metrics.spoolSegments.set(s.segments)
    d.metrics.spoolDamaged.set(s.damagedStretches)
    d.metrics.spoolSyncs.set(s.syncs)
    return c.text(await d.metrics.registry.metrics(), 200, { 'content-type': d.metrics.registry.contentType })
  })
  return app
}
