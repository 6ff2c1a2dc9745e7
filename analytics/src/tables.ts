/** Every ClickHouse table and view Attune owns, by role. SQL names tables only through this. */
export const TABLES = {
  /** Append-only landing table: one row per accepted touch point, each message id once. */
  events: 'events',
  /** (program, message_id) of every landed event: the writer's de-duplication index. */
  eventIds: 'event_ids',
  /** Migrations applied, with checksums. */
  migrations: 'schema_migrations',
} as const

/** A table name from {@link TABLES}. */
export type TableName = (typeof TABLES)[keyof typeof TABLES]
