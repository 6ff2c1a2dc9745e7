import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The collector's Prometheus metrics, on a registry of its own. */
export function createMetrics() {
  const registry = new Registry()
  const m = {
    registry,
    received: new Counter({ name: 'attune_events_received_total', help: 'Events received in requests that reached validation', registers: [registry] }),
    accepted: new Counter({
      name: 'attune_events_accepted_total',
      help: 'Events accepted into the spool',
      labelNames: ['program'] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'attune_events_rejected_total',
      help: 'Events rejected, by step and reason',
      labelNames: ['step', 'reason'] as const,
      registers: [registry],
    }),
    requestsRejected: new Counter({
      name: 'attune_requests_rejected_total',
      help: 'Requests answered with an error, by its code (every route)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    personalData: new Counter({
      name: 'attune_personal_data_removed_total',
      help: 'Personal data removed from accepted events: keys dropped, e-mail addresses and phone numbers masked',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clientAborts: new Counter({
      name: 'attune_client_aborts_total',
      help: 'Requests whose client went away before the answer (counted, not logged)',
      registers: [registry],
    }),
    inserted: new Counter({ name: 'attune_events_inserted_total', help: 'Events written to ClickHouse', registers: [registry] }),
    duplicates: new Counter({
      name: 'attune_events_duplicate_total',
      help: 'Events not written because their message id had landed already',
      registers: [registry],
    }),
    quarantined: new Counter({
      name: 'attune_events_quarantined_total',
      help: 'Spooled events ClickHouse refused as data, kept in the quarantine folder',
      registers: [registry],
    }),
    insertFailures: new Counter({ name: 'attune_insert_failures_total', help: 'Failed ClickHouse insert attempts (each retried)', registers: [registry] }),
    insertLatency: new Histogram({
      name: 'attune_insert_duration_seconds',
      help: 'Time to store one spool batch in ClickHouse',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    spoolBytes: new Gauge({ name: 'attune_spool_bytes', help: 'Bytes in the spool not yet in ClickHouse', registers: [registry] }),
    spoolSegments: new Gauge({ name: 'attune_spool_segments', help: 'Spool segment files', registers: [registry] }),
    spoolDamaged: new Gauge({
      name: 'attune_spool_damaged_stretches',
      help: 'Damaged or torn stretches skipped while reading the spool',
      registers: [registry],
    }),
    landedFilterIds: new Gauge({
      name: 'attune_landed_filter_ids',
      help: "Landed message ids in the writer's filter (embedded engine; lookups in ClickHouse only for ids it cannot rule out)",
      registers: [registry],
    }),
    spoolSyncs: new Gauge({ name: 'attune_spool_syncs', help: 'fdatasync calls on the spool (each covers a group of requests)', registers: [registry] }),
  }
  return m
}

/** The collector's metrics. */
export type Metrics = ReturnType<typeof createMetrics>
