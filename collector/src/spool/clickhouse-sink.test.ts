import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blankEventRow, createDb, encodeEventRow, migrate, TABLES, type Db, type EventRow } from '../../../analytics/index.ts'
import { tempDir } from '../../../test/helpers.ts'
import { clickhouseSink, isDataError, payloadText, type SinkStats } from './clickhouse-sink.ts'
import { Quarantine } from './quarantine.ts'

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

const row = (id: string, over: Record<string, unknown> = {}) =>
  Buffer.from(
    payloadText(
      '202611',
      'p1',
      id,
      encodeEventRow({
        ...blankEventRow(),
        message_id: id,
        program: 'p1',
        type: 'track',
        event: 'x',
        channel: 'web',
        ts: '2026-11-23 10:00:00.000',
        original_ts: '2026-11-23 10:00:00.000',
        received_at: '2026-11-23 10:00:00.000',
        ...over,
      } as EventRow),
    ),
  )
const stats = (): SinkStats => ({ inserted: 0, duplicates: 0, quarantined: 0 })
const counter = (s: SinkStats) => (what: keyof SinkStats, n: number) => void (s[what] += n)

describe('clickhouseSink', () => {
  it('lands good rows, and puts rows ClickHouse refuses as data into the quarantine instead of retrying for ever', async () => {
    const s = stats()
    const q = new Quarantine(join(tmp.dir, 'quarantine'))
    const sink = clickhouseSink(db, counter(s), q)
    const payloads = Array.from({ length: 40 }, (_, i) => row(`g-${i}`))
    payloads.splice(7, 0, row('bad-time', { ts: 'not a time' }))
    payloads.splice(30, 0, row('bad-flag', { historical: 'yes' }))
    payloads.push(Buffer.from('no header here'))
    await sink(payloads)
    expect(s).toEqual({ inserted: 40, duplicates: 0, quarantined: 3 })
    expect(await db.query(`SELECT count() c FROM ${TABLES.events} WHERE message_id LIKE 'g-%'`)).toEqual([{ c: 40 }])
    const files = readdirSync(join(tmp.dir, 'quarantine'))
    const kept = files
      .flatMap((f) =>
        readFileSync(join(tmp.dir, 'quarantine', f), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((l) => JSON.parse(l) as { reason: string; record: string })
    expect(kept).toHaveLength(3)
    expect(kept.map((k) => k.record).join('\n')).toContain('"bad-time"')
    expect(kept.map((k) => k.record).join('\n')).toContain('"bad-flag"')
    expect(kept.find((k) => k.record.includes('bad-time'))!.reason).toMatch(/^CANNOT_PARSE/)
    // Sent again (a replay): everything is a duplicate or refused again, nothing new lands.
    const again = stats()
    await clickhouseSink(db, counter(again), q)(payloads.slice(0, 10))
    expect(again).toEqual({ inserted: 0, duplicates: 9, quarantined: 1 })
  })

  it('names whose events landed, per program, only once ClickHouse took them (quarantined and duplicate rows not)', async () => {
    const told: Array<[string, string[]]> = []
    const sink = clickhouseSink(db, counter(stats()), new Quarantine(join(tmp.dir, 'q2')), undefined, (program, who) =>
      told.push([program, who.map((w) => `${w.userId}|${w.anonymousId}|${w.linkedId}`)]),
    )
    const withWho = (id: string, program: string, who: { userId: string; anonymousId: string; linkedId: string }, over: Record<string, unknown> = {}) =>
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
            user_id: who.userId,
            anonymous_id: who.anonymousId,
            ...over,
          } as EventRow),
          who,
        ),
      )
    await sink([
      withWho('w-1', 'p1', { userId: 'u1', anonymousId: 'a1', linkedId: 'a1' }),
      withWho('w-2', 'p2', { userId: '', anonymousId: 'a2', linkedId: '' }),
      withWho('w-bad', 'p1', { userId: 'u3', anonymousId: '', linkedId: '' }, { ts: 'not a time' }),
      // A record spooled before the header named its ids still lands; nobody is named for it.
      row('w-old'),
    ])
    expect(told.sort()).toEqual([
      ['p1', ['u1|a1|a1']],
      ['p2', ['|a2|']],
    ])
    told.length = 0
    await sink([withWho('w-1', 'p1', { userId: 'u1', anonymousId: 'a1', linkedId: 'a1' })])
    expect(told).toEqual([])
  })

  it('tells whose events landed in chunks, letting the event loop turn between them, each id once', async () => {
    // Turns of the event loop, counted while the sink works: a request arriving meanwhile is answered in one of them.
    let turns = 0
    let done = false
    const tick = () => {
      if (done) return
      turns++
      setImmediate(tick)
    }
    const calls: Array<{ at: number; ids: string[] }> = []
    const sink = clickhouseSink(db, counter(stats()), new Quarantine(join(tmp.dir, 'q3')), undefined, (_program, who) =>
      calls.push({ at: turns, ids: who.map((w) => w.userId) }),
    )
    const payloads = Array.from({ length: 2_000 }, (_, i) =>
      Buffer.from(
        payloadText(
          '202611',
          'p1',
          `y-${i}`,
          encodeEventRow({
            ...blankEventRow(),
            message_id: `y-${i}`,
            program: 'p1',
            type: 'track',
            event: 'x',
            channel: 'web',
            ts: '2026-11-23 10:00:00.000',
            original_ts: '2026-11-23 10:00:00.000',
            received_at: '2026-11-23 10:00:00.000',
            user_id: `u-${i}`,
          } as EventRow),
          { userId: `u-${i}`, anonymousId: '', linkedId: '' },
        ),
      ),
    )
    setImmediate(tick)
    await sink(payloads).finally(() => (done = true))
    expect(calls.length).toBe(Math.ceil(2_000 / 256))
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at).toBeGreaterThan(calls[i - 1]!.at)
    expect(calls.flatMap((c) => c.ids).sort()).toEqual(payloads.map((_, i) => `u-${i}`).sort())
  })

  it('tells data errors from server errors', () => {
    expect(isDataError({ type: 'CANNOT_PARSE_DATETIME' })).toBe(true)
    expect(isDataError({ type: 'UNKNOWN_TABLE' })).toBe(false)
    expect(isDataError(new Error('ECONNREFUSED'))).toBe(false)
  })
})
