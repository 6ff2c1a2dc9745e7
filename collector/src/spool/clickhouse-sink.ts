import { createHash } from 'node:crypto'
import { existingMessageIds, insertEventLines, type Db } from '../../../analytics/index.ts'
import type { BatchSink } from './writer.ts'

/** Spool payload: a one-line JSON header `[partition, program, messageId]`, a newline, the event row. */
export function encodePayload(partition: string, program: string, messageId: string, rowJson: string): Buffer {
  return Buffer.from(`${JSON.stringify([partition, program, messageId])}\n${rowJson}`)
}

/** Counters the sink keeps. */
export interface SinkStats {
  inserted: number
  duplicates: number
  malformed: number
  inserts: number
}

/**
 * Stores spooled events in ClickHouse exactly once per (program, messageId): duplicates inside
 * the batch and ids already landed are dropped, then each partition is inserted on its own
 * (D7) with a token derived from its ids, so a retried insert is deduplicated by ClickHouse.
 */
export function clickhouseSink(db: Db, stats: SinkStats): BatchSink {
  return async (payloads) => {
    const byProgram = new Map<string, Map<string, { partition: string; row: Buffer }>>()
    for (const p of payloads) {
      const nl = p.indexOf(0x0a)
      let header: unknown
      try {
        header = JSON.parse(p.subarray(0, nl).toString())
      } catch {
        header = null
      }
      if (nl < 0 || !Array.isArray(header) || header.length !== 3) {
        stats.malformed++
        continue
      }
      const [partition, program, messageId] = header as [string, string, string]
      let ids = byProgram.get(program)
      if (!ids) byProgram.set(program, (ids = new Map()))
      if (ids.has(messageId)) stats.duplicates++
      else ids.set(messageId, { partition, row: p.subarray(nl + 1) })
    }
    const byPartition = new Map<string, { ids: string[]; rows: Buffer[] }>()
    for (const [program, ids] of byProgram) {
      const landed = await existingMessageIds(db, program, [...ids.keys()])
      for (const [id, { partition, row }] of ids) {
        if (landed.has(id)) {
          stats.duplicates++
          continue
        }
        let part = byPartition.get(partition)
        if (!part) byPartition.set(partition, (part = { ids: [], rows: [] }))
        part.ids.push(`${program}\u0000${id}`)
        part.rows.push(row)
      }
    }
    for (const [partition, { ids, rows }] of [...byPartition].sort(([a], [b]) => a.localeCompare(b))) {
      const token = createHash('sha256').update(partition).update('\u0001').update(ids.join('\u0001')).digest('hex')
      const body = Buffer.concat(rows.flatMap((r) => [r, NEWLINE]))
      await insertEventLines(db, body, token)
      stats.inserted += rows.length
      stats.inserts++
    }
  }
}

const NEWLINE = Buffer.from('\n')
