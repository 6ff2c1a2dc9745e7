import fc from 'fast-check'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blankEventRow, createDb, encodeEventRow, migrate, type Db, type EventRow } from '../../../analytics/index.ts'
import { tempDir } from '../../../test/helpers.ts'
import { clickhouseSink, payloadText, type SinkStats } from './clickhouse-sink.ts'
import { BloomFilter, LandedIds, landedKey } from './landed-ids.ts'
import { Quarantine } from './quarantine.ts'

describe('BloomFilter', () => {
  it('never says "not there" of a key it was given', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 120 }), { maxLength: 400 }), fc.integer({ min: 1, max: 500 }), (keys, capacity) => {
        const f = new BloomFilter(capacity)
        for (const k of keys) f.add(k)
        for (const k of keys) expect(f.has(k)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('keeps false positives near the rate it was sized for', () => {
    const f = new BloomFilter(100_000, 0.01)
    for (let i = 0; i < 100_000; i++) f.add(`psoriasis-demo\u0000${i.toString(16)}-landed`)
    let false_ = 0
    for (let i = 0; i < 100_000; i++) if (f.has(`psoriasis-demo\u0000${i.toString(16)}-new`)) false_++
    expect(false_ / 100_000).toBeLessThan(0.02)
    expect(f.bytes).toBeLessThan(130_000)
  })
})

let tmp: ReturnType<typeof tempDir>
let db: Db
beforeAll(async () => {
  tmp = tempDir()
  db = createDb({ mode: 'embedded', path: join(tmp.dir, 'clickhouse') })
  await migrate(db)
})
afterAll(async () => {
  await db.close()
  tmp.remove()
})

const payload = (program: string, id: string) =>
  Buffer.from(
    payloadText(
      '202611',
      program,
      id,
      encodeEventRow({
        ...blankEventRow(),
        message_id: id,
        program,
        type: 'track',
        event: 'x',
        channel: 'web',
        ts: '2026-11-23 10:00:00.000',
        original_ts: '2026-11-23 10:00:00.000',
        received_at: '2026-11-23 10:00:00.000',
      } as EventRow),
    ),
  )

/** The database, counting the message ids the sink asks ClickHouse about. */
function counting(inner: Db) {
  const asked = { ids: 0 }
  const db: Db = {
    ...inner,
    mode: inner.mode,
    query: async (q, params, settings) => {
      if (q.includes('splitByChar'))
        asked.ids +=
          String(params?.ids ?? '')
            .split('\n')
            .filter(Boolean).length + ((params?.odd as string[] | undefined)?.length ?? 0)
      return inner.query(q, params, settings)
    },
  }
  return { db, asked }
}

describe('LandedIds with the sink', () => {
  it('is filled from event_ids, spares lookups of new ids, and still drops every duplicate after a restart', async () => {
    const stats: SinkStats = { inserted: 0, duplicates: 0, quarantined: 0 }
    const count = (w: keyof SinkStats, n: number) => void (stats[w] += n)
    const q = new Quarantine(join(tmp.dir, 'quarantine'))
    // Before: 3,000 ids landed without a filter, in two programs.
    await clickhouseSink(
      db,
      count,
      q,
    )([...Array.from({ length: 2000 }, (_, i) => payload('p1', `old-${i}`)), ...Array.from({ length: 1000 }, (_, i) => payload('p2', `old-${i}`))])
    expect(stats.inserted).toBe(3000)

    // "Restart": a fresh filter filled from ClickHouse.
    const logs: string[] = []
    const landed = new LandedIds(db, { capacity: 50_000, log: (m) => logs.push(m) })
    expect(landed.mayHave(landedKey('p1', 'anything'))).toBe(true)
    await landed.refresh()
    expect(landed.ready).toBe(true)
    expect(landed.size).toBe(3000)
    expect(logs.join()).toMatch(/holds 3000 ids/)
    for (let i = 0; i < 2000; i += 97) expect(landed.mayHave(landedKey('p1', `old-${i}`))).toBe(true)

    const { db: spy, asked } = counting(db)
    const sink = clickhouseSink(spy, count, q, landed)
    // 5,000 new ids, 50 replayed from before the restart, 10 from the other program.
    const batch = [
      ...Array.from({ length: 5000 }, (_, i) => payload('p1', `new-${i}`)),
      ...Array.from({ length: 50 }, (_, i) => payload('p1', `old-${i * 40}`)),
      ...Array.from({ length: 10 }, (_, i) => payload('p2', `old-${i}`)),
    ]
    await sink(batch)
    expect(stats).toEqual({ inserted: 8000, duplicates: 60, quarantined: 0 })
    // Only the maybes went to ClickHouse: the 60 duplicates and a few false positives.
    expect(asked.ids).toBeGreaterThanOrEqual(60)
    expect(asked.ids).toBeLessThan(60 + 200)
    // What landed through the filter is in it: sent again, it is all duplicates.
    await sink(batch.slice(0, 100))
    expect(stats.duplicates).toBe(160)
    expect(Number((await db.query<{ c: string }>("SELECT count() c FROM events WHERE program = 'p1' AND message_id LIKE 'new-%'"))[0]!.c)).toBe(5000)
    await landed.close()
  })
})
