import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type { createChdbConnection as CreateChdbConnection } from 'chdb/connection'
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { StorageConfig } from './storage-config.ts'

/** Parameters bound server-side as `{name:Type}`; never spliced into SQL text. */
export type QueryParams = Record<string, unknown>

/**
 * The one way Attune talks to ClickHouse: the official client, over HTTP to a server or
 * in-process to the embedded chDB engine. Every setting a statement needs travels with it.
 */
export interface Db {
  readonly mode: StorageConfig['mode']
  /** Rows of a SELECT as objects. 64-bit integers may arrive as strings; shape with Number(). */
  query<T>(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<T[]>
  /** A statement without a result (DDL, mutations). */
  command(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<void>
  /**
   * Inserts NDJSON bytes (JSONEachRow objects, or JSONCompactEachRow arrays in `columns` order);
   * with a token, a retried insert of the same block is written once.
   */
  insertJsonLines(table: string, body: Buffer | string, dedupToken?: string, columns?: readonly string[]): Promise<void>
  /** Inserts rows given as objects. */
  insertRows(table: string, rows: readonly object[], dedupToken?: string): Promise<void>
  ping(): Promise<boolean>
  close(): Promise<void>
}

// The embedded engine turns each clickhouse_settings entry into a session-wide `SET`, so a
// setting outlives its statement (measured: a plain insert after a tokened one was silently
// dropped as a duplicate). Every statement therefore names these settings explicitly.
const STATEMENT_DEFAULTS: ClickHouseSettings = {
  insert_deduplication_token: '',
}

const INSERT_SETTINGS: ClickHouseSettings = {
  // A block deduplicated by its token must not reach the materialized views either.
  deduplicate_blocks_in_dependent_materialized_views: 1,
  // D8: patient data is inserted synchronously, never fire-and-forget.
  async_insert: 0,
  // encodeEventRow writes JSON columns as objects; their text is stored as it came.
  input_format_json_read_objects_as_strings: 1,
  // Rows spooled before a column was added at the end are shorter: the new columns take their defaults.
  input_format_json_compact_allow_variable_number_of_columns: 1,
}

/** Opens the client for the configured storage: embedded chDB or a ClickHouse server. */
export function createDb(config: StorageConfig): Db {
  let client: ClickHouseClient
  let embedded: ReturnType<typeof CreateChdbConnection> | null = null
  if (config.mode === 'embedded') {
    mkdirSync(config.path, { recursive: true })
    // Loaded only here: the engine is a native addon that must stay out of threads and processes
    // that never open it (an ingestion worker that had it loaded crashed when terminated).
    const { createChdbConnection } = createRequire(import.meta.url)('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection }
    embedded = createChdbConnection({ path: config.path })
    // chdb's Connection is typed against @clickhouse/client-common's own copy of the interface.
    const connection = embedded as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection']
    client = createClient({ connection })
  } else {
    client = createClient({
      url: config.url,
      username: config.user,
      password: config.password,
      database: config.database,
      request_timeout: config.requestTimeoutMs,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    })
  }
  const withDefaults = (settings?: ClickHouseSettings): ClickHouseSettings => ({ ...STATEMENT_DEFAULTS, ...settings })

  return {
    mode: config.mode,
    async query<T>(sql: string, params?: QueryParams, settings?: ClickHouseSettings) {
      const rs = await client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: withDefaults(settings) })
      return rs.json<T>()
    },
    async command(sql, params, settings) {
      await client.command({ query: sql, query_params: params, clickhouse_settings: withDefaults(settings) })
    },
    async insertJsonLines(table, body, dedupToken, columns) {
      const format = columns ? 'JSONCompactEachRow' : 'JSONEachRow'
      const settings = { ...STATEMENT_DEFAULTS, ...INSERT_SETTINGS, insert_deduplication_token: dedupToken ?? '' }
      if (embedded) {
        // The engine parses the bytes where they are; the client's path would first turn them into
        // a string and append it to the SQL text (about 2 µs a row on the event loop, measured).
        // Settings given here are scoped to this insert.
        try {
          await embedded.chdb.rawInsert({ table, values: body, format, columns, settings: settings as unknown as Record<string, string | number> })
        } catch (e) {
          throw asClickHouseError(e)
        }
        return
      }
      const res = await client.exec({
        query: `INSERT INTO ${table}${columns ? ` (${columns.join(', ')})` : ''} FORMAT ${format}`,
        values: Readable.from([typeof body === 'string' ? Buffer.from(body) : body]),
        clickhouse_settings: settings,
      })
      res.stream.resume()
    },
    async insertRows(table, rows, dedupToken) {
      if (rows.length === 0) return
      await client.insert({
        table,
        values: rows as object[],
        format: 'JSONEachRow',
        clickhouse_settings: withDefaults({ ...INSERT_SETTINGS, insert_deduplication_token: dedupToken ?? '' }),
      })
    },
    async ping() {
      try {
        const r = await client.ping()
        return r.success
      } catch {
        return false
      }
    },
    close: () => client.close(),
  }
}

/** An engine error shaped like the client's ClickHouseError: `type` names the ClickHouse error code. */
function asClickHouseError(e: unknown): Error {
  const err = e as Error & { type?: string; code?: unknown; clickhouseCode?: number }
  if (typeof err.type !== 'string') {
    const m = /\(([A-Z][A-Z0-9_]+)\)\s*$/m.exec(err.message ?? '') ?? /DB::Exception: .*?\(([A-Z][A-Z0-9_]+)\)/.exec(err.message ?? '')
    if (m) err.type = m[1]
  }
  return err
}
