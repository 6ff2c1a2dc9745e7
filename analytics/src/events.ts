import type { Db } from './client.ts'
import { EVENT_COLUMNS } from './event-row.ts'
import { sql } from './sql.ts'
import { TABLES } from './tables.ts'

/** Which of these message ids of a program have already landed in ClickHouse. */
export async function existingMessageIds(db: Db, program: string, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>()
  // In-process the ids go in one statement; over HTTP they travel in the URL, which a ClickHouse
  // server caps at 1 MiB, so they are sent in chunks of at most LOOKUP_URL_BYTES (percent-encoded
  // at worst three bytes for one).
  const limit = db.mode === 'embedded' ? Infinity : LOOKUP_URL_BYTES / 3
  let plain: string[] = []
  let odd: string[] = []
  let bytes = 0
  const ask = async () => {
    const rows = await db.query<{ message_id: string }>(sql('existing-message-ids'), { program, ids: plain.join('\n'), odd })
    for (const r of rows) out.add(r.message_id)
    plain = []
    odd = []
    bytes = 0
  }
  for (const id of ids) {
    if (id.includes('\n')) odd.push(id)
    else plain.push(id)
    bytes += Buffer.byteLength(id) + 1
    if (bytes >= limit) await ask()
  }
  if (plain.length + odd.length > 0) await ask()
  return out
}

const LOOKUP_URL_BYTES = 512 * 1024

/**
 * Every landed (program, message id) in `event_ids`, a page at a time, in primary-key order
 * (each page is a key range, not a scan).
 */
export async function* landedIdPages(db: Db, pageSize = 100_000): AsyncGenerator<Array<{ program: string; message_id: string }>> {
  const programs = await db.query<{ program: string }>(sql('landed-programs'))
  for (const { program } of programs) {
    let after = ''
    for (;;) {
      const page = await db.query<{ program: string; message_id: string }>(sql('landed-ids-page'), { program, after, limit: pageSize })
      if (page.length === 0) break
      yield page
      after = page[page.length - 1]!.message_id
      if (page.length < pageSize) break
    }
  }
}

/** Inserts event rows of one partition (JSONCompactEachRow lines from encodeEventRow); the token makes a retried insert land once. */
export async function insertEventLines(db: Db, lines: Buffer, dedupToken: string): Promise<void> {
  await db.insertJsonLines(TABLES.events, lines, dedupToken, EVENT_COLUMNS)
}
