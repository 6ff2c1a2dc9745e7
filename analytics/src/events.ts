import type { Db } from './client.ts'
import { EVENT_COLUMNS } from './event-row.ts'
import { sql } from './sql.ts'
import { TABLES } from './tables.ts'

/** Which of these message ids of a program have already landed in ClickHouse. */
export async function existingMessageIds(db: Db, program: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const rows = await db.query<{ message_id: string }>(sql('existing-message-ids'), { program, ids })
  return new Set(rows.map((r) => r.message_id))
}

/** Inserts event rows of one partition (JSONCompactEachRow lines from encodeEventRow); the token makes a retried insert land once. */
export async function insertEventLines(db: Db, lines: Buffer, dedupToken: string): Promise<void> {
  await db.insertJsonLines(TABLES.events, lines, dedupToken, EVENT_COLUMNS)
}
