/**
 * How old an accepted event may be, and how many month partitions one request may touch: what
 * keeps one request from making the writer create hundreds of partitions (one insert each), which
 * held back the landing of every other event for tens of seconds.
 */
export interface IngestLimits {
  /** Events older than this (after clock correction) need a secret key with the import scope. */
  liveDays: number
  /** Events older than this are refused from every key. */
  importDays: number
  /** Distinct months (partitions of `events`) one request may touch; events in further months are rejected. */
  maxMonths: number
  /** In-process loads of a synthetic history: every key may send events up to `importDays` old. */
  history?: boolean
}

/** The defaults (ATTUNE_LIVE_WINDOW_DAYS, ATTUNE_IMPORT_WINDOW_DAYS, ATTUNE_IMPORT_MAX_MONTHS). */
export const DEFAULT_INGEST_LIMITS: IngestLimits = { liveDays: 7, importDays: 1827, maxMonths: 12 }
