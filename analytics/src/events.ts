import type { Db } from './client.ts'
import { EVENT_COLUMNS } from './event-row.ts'
import { sql } from './sql.ts'
import { TABLES } from './tables.ts'

/** Which of these message ids of a program have already landed in ClickHouse. */
export async function existingMessageIds(db: Db, program: string, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>()
  // Over HTTP the ids travel in the URL, which a ClickHouse server caps at 1 MiB: ask in chunks.
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    const rows = await db.query<{ message_id: string }>(sql('existing-message-ids'), { program, ids: ids.slice(i, i + LOOKUP_CHUNK) })
    for (const r of rows) out.add(r.message_id)
  }
  return out
}

const LOOKUP_CHUNK = 5000

/** Inserts event rows of one partition (JSONCompactEachRow lines from encodeEventRow); the token makes a retried insert land once. */
export async function insertEventLines(db: Db, lines: Buffer, dedupToken: string): Promise<void> {
  await db.insertJsonLines(TABLES.events, lines, dedupToken, EVENT_COLUMNS)
}
