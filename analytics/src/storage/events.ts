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
/** How many ids `landedIdPages` will give at most (for sizing a filter before filling it). */
export async function landedIdCount(db: Db): Promise<number> {
  const rows = await db.query<{ n: number | string }>(sql('landed-id-count'))
  return Number(rows[0]?.n ?? 0)
}

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

// The engine reading a file itself spends less on each row than on the same bytes handed to it
// inline (measured, chdb 3.4, 50,000 synthetic events of one partition: about 4 µs of engine
// time a row less, 9 → 5 µs into a Null table, 19 → 14 µs into `events` with its views).
const FILE_INSERT = `INSERT INTO ${TABLES.events} (${EVENT_COLUMNS.join(', ')}) SELECT * FROM file({path:String}, 'JSONCompactEachRow')`

/**
 * Inserts event rows of one partition from a file of JSONCompactEachRow lines (encodeEventRow)
 * that the engine reads itself: the embedded engine only (the path is on the engine's machine).
 * The columns take the table's types. The token names the block in `events`, but a repeated
 * INSERT … SELECT reaches the materialized views again, so a block must not be retried.
 */
export async function insertEventFile(db: Db, path: string, dedupToken: string): Promise<void> {
  if (db.mode !== 'embedded') throw new Error('insertEventFile needs the embedded engine: a server reads files on its own machine')
  await db.command(
    FILE_INSERT,
    { path },
    {
      input_format_json_read_objects_as_strings: 1,
      input_format_json_compact_allow_variable_number_of_columns: 1,
      deduplicate_blocks_in_dependent_materialized_views: 1,
      async_insert: 0,
      insert_deduplication_token: dedupToken,
    },
  )
}
