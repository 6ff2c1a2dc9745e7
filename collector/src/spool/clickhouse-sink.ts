import { createHash } from 'node:crypto'
import { existingMessageIds, insertEventLines, nextTurn, type Db, type LandedActor } from '../../../analytics/index.ts'
import { landedKey, type LandedIds } from './landed-ids.ts'
import type { Quarantine } from './quarantine.ts'
import type { BatchSink } from './writer.ts'

/**
 * Spool payload: a one-line JSON header `[partition, program, messageId, userId, anonymousId,
 * linkedId, linkedAt?]`, a newline, the event row. The ids say whose profile the event changes
 * without parsing the row (records spooled before they were added have a three-item header, before
 * `linkedAt` a six-item one).
 */
export function payloadText(partition: string, program: string, messageId: string, rowJson: string, who?: LandedActor): string {
  const header = who
    ? [partition, program, messageId, who.userId, who.anonymousId, who.linkedId, ...(who.linkedAt !== undefined ? [who.linkedAt] : [])]
    : [partition, program, messageId]
  return `${JSON.stringify(header)}\n${rowJson}`
}

/** What the sink counts: events written, dropped as already landed, and put in the quarantine. */
export type SinkStats = Record<'inserted' | 'duplicates' | 'quarantined', number>
/** Receives the sink's counts as they happen. */
export type SinkCounter = (what: keyof SinkStats, n: number) => void

// ClickHouse errors that blame the data rather than the server: retrying the same rows can
// never succeed, so the batch is split to find the rows at fault.
const DATA_ERROR =
  /^(CANNOT_PARSE|CANNOT_READ|INCORRECT_DATA|INCORRECT_JSON|TYPE_MISMATCH|CANNOT_CONVERT|TOO_LARGE_STRING|ARGUMENT_OUT_OF_BOUND|VALUE_IS_OUT_OF_RANGE|CANNOT_INSERT_NULL)/

/** Whether ClickHouse refused an insert because of a value in it. */
export function isDataError(e: unknown): boolean {
  const type = (e as { type?: unknown }).type
  return typeof type === 'string' && DATA_ERROR.test(type)
}

/**
 * Stores spooled events in ClickHouse exactly once per (program, messageId): duplicates inside
 * the batch and ids already landed are dropped, then each partition is inserted on its own
 * (D7) with a token derived from its ids, so a retried insert is deduplicated by ClickHouse.
 * A partition refused for its data is split in halves until the refused rows are found; those
 * go to the quarantine and the rest lands. With `landed`, only ids its filter cannot rule out
 * are looked up in ClickHouse, and every id that lands is added to it.
 */
export function clickhouseSink(db: Db, count: SinkCounter, quarantine: Quarantine, landed?: LandedIds, onLanded?: OnLanded): BatchSink {
  const insert = async (partition: string, ids: string[], rows: Buffer[], who: Whose[], turnDue: () => boolean): Promise<void> => {
    const token = createHash('sha256').update(partition).update('\u0001').update(ids.join('\u0001')).digest('hex')
    try {
      await insertEventLines(db, Buffer.concat(rows.flatMap((r) => [r, NEWLINE])), token)
    } catch (e) {
      if (!isDataError(e)) throw e
      if (rows.length === 1) {
        await quarantine.put([{ payload: rows[0]!, reason: `${(e as { type?: string }).type}: ${(e as Error).message}` }])
        count('quarantined', 1)
        return
      }
      const mid = rows.length >> 1
      await insert(partition, ids.slice(0, mid), rows.slice(0, mid), who.slice(0, mid), turnDue)
      await insert(partition, ids.slice(mid), rows.slice(mid), who.slice(mid), turnDue)
      return
    }
    if (landed) {
      for (const id of ids) {
        landed.add(id)
        if (turnDue()) await nextTurn()
      }
    }
    count('inserted', rows.length)
    if (onLanded) await tellLanded(onLanded, who)
  }
  return async (payloads) => {
    const malformed: Array<{ payload: Buffer; reason: string }> = []
    const byProgram = new Map<string, Map<string, { partition: string; row: Buffer; who: LandedActor | null }>>()
    const turnDue = everyFewSteps()
    for (const p of payloads) {
      if (turnDue()) await nextTurn()
      const nl = p.indexOf(0x0a)
      let header: unknown
      try {
        header = JSON.parse(p.subarray(0, nl).toString())
      } catch {
        header = null
      }
      if (nl < 0 || !Array.isArray(header) || (header.length !== 3 && header.length !== 6 && header.length !== 7)) {
        malformed.push({ payload: p, reason: 'spool record without a valid header' })
        continue
      }
      const [partition, program, messageId, userId, anonymousId, linkedId, linkedAt] = header as [string, string, string, string?, string?, string?, number?]
      let ids = byProgram.get(program)
      if (!ids) byProgram.set(program, (ids = new Map()))
      if (ids.has(messageId)) count('duplicates', 1)
      else
        ids.set(messageId, {
          partition,
          row: p.subarray(nl + 1),
          who:
            userId === undefined
              ? null
              : { userId, anonymousId: anonymousId!, linkedId: linkedId!, messageId, ...(typeof linkedAt === 'number' ? { linkedAt } : {}) },
        })
    }
    const byPartition = new Map<string, { ids: string[]; rows: Buffer[]; who: Whose[] }>()
    for (const [program, ids] of byProgram) {
      const maybe: string[] = []
      for (const id of ids.keys()) {
        if (!landed?.ready || landed.mayHave(landedKey(program, id))) maybe.push(id)
        if (turnDue()) await nextTurn()
      }
      const found = maybe.length > 0 ? await existingMessageIds(db, program, maybe) : new Set<string>()
      for (const [id, { partition, row, who }] of ids) {
        if (found.has(id)) {
          count('duplicates', 1)
          continue
        }
        let part = byPartition.get(partition)
        if (!part) byPartition.set(partition, (part = { ids: [], rows: [], who: [] }))
        part.ids.push(landedKey(program, id))
        part.rows.push(row)
        part.who.push(who && { program, ...who })
      }
    }
    if (malformed.length > 0) {
      await quarantine.put(malformed)
      count('quarantined', malformed.length)
    }
    // Newest month first: the events of now (and the profiles they refresh) never wait behind an
    // import's older months in the same batch.
    for (const [partition, { ids, rows, who }] of [...byPartition].sort(([a], [b]) => b.localeCompare(a))) {
      await insert(partition, ids, rows, who, turnDue)
    }
  }
}

/** Told, after each insert ClickHouse confirmed, whose events landed in which program (the profile store re-reads them). */
export type OnLanded = (program: string, who: LandedActor[]) => void
/** Whose event a row is (null for records spooled before the header named it). */
type Whose = (LandedActor & { program: string }) | null

async function tellLanded(onLanded: OnLanded, who: Whose[]): Promise<void> {
  const byProgram = new Map<string, LandedActor[]>()
  for (const w of who) {
    if (!w) continue
    let list = byProgram.get(w.program)
    if (!list) byProgram.set(w.program, (list = []))
    list.push(w)
  }
  for (const [program, list] of byProgram) {
    for (let i = 0; i < list.length; i += YIELD_EVERY) {
      if (i > 0) await nextTurn()
      onLanded(program, list.slice(i, i + YIELD_EVERY))
    }
  }
}

// The sink runs on the collector's main thread between requests: a second's batch of a few
// thousand records handled in one go held every request that arrived meanwhile (~10 ms each
// second under the decide benchmark's load), so it lets the event loop turn every few hundred.
const YIELD_EVERY = 256
/** Counts a batch's steps of work across its loops: true after every YIELD_EVERY of them. */
function everyFewSteps(): () => boolean {
  let steps = 0
  return () => ++steps % YIELD_EVERY === 0
}

const NEWLINE = Buffer.from('\n')
