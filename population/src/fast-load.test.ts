// The fast load on the embedded engine: worker threads and large partitioned inserts land every
// event once, with the rows the collector's ingestion makes, a rerun lands nothing twice, and
// the profiles built from it show the hidden adherence.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EVENT_COLUMNS, loadPrograms, readProfile } from '../../analytics/index.ts'
import { ROOT, tempDir } from '../../test/helpers.ts'
import { KeyIndex } from '../../collector/index.ts'
import { generatePopulation, loadFast, openDirectStorage, quarantineDirOf, type DirectStorage } from '../index.ts'
import { ingestMessages } from './ingest-messages.ts'

const programs = loadPrograms(join(ROOT, 'programs'), {})
const allKeys = programs.flatMap((p) => p.keys)
const demo = programs.find((p) => p.program.id === 'psoriasis-demo')!
const NOW = Date.parse('2026-11-23T15:00:00Z')
const options = { program: demo.program, keys: demo.keys, patients: 160, days: 45, seed: 6, now: NOW }
let tmp: ReturnType<typeof tempDir>
let storage: DirectStorage
beforeAll(async () => {
  tmp = tempDir()
  storage = await openDirectStorage(tmp.dir)
})
afterAll(async () => {
  await storage?.close()
  tmp.remove()
})

// Small inserts and chunks, so one load makes many inserts over several partitions and both workers' chunks interleave.
const load = (onProgress?: (p: { patientsDone: number }) => void) =>
  loadFast({
    population: options,
    db: storage.db,
    keys: allKeys,
    quarantineDir: quarantineDirOf(tmp.dir),
    ...(storage.landed ? { landed: storage.landed } : {}),
    workers: 2,
    insertRows: 1500,
    maxPendingRows: 3000,
    chunkRows: 400,
    ...(onProgress ? { onProgress } : {}),
  })
// Weights are Float32 in ClickHouse; the JSON columns are stored as the text they came as (a row line holds them as objects).
const comparable = (column: string, v: unknown) =>
  column === 'need_weights'
    ? (v as number[]).map((w) => Math.fround(w))
    : ['properties', 'traits', 'context'].includes(column) && typeof v === 'object'
      ? JSON.stringify(v)
      : v

describe('loadFast', () => {
  it('lands every event once, as the collector’s ingestion makes its row, and a rerun only finds duplicates', async () => {
    const progress: number[] = []
    const first = await load((p) => progress.push(p.patientsDone))
    expect(first.refused).toEqual([])
    expect(first.rejected).toEqual([])
    expect(first.events).toBeGreaterThan(4000)
    expect(first).toMatchObject({ accepted: first.events, inserted: first.events, duplicates: 0, quarantined: 0 })
    expect(progress.at(-1)).toBe(options.patients)

    // Every row as the collector's own ingestion makes it, but for the time of ingestion (received_at, and historical, which follows from it).
    const keys = new KeyIndex(allKeys)
    const expected = new Map<string, unknown[]>()
    for await (const req of generatePopulation(options).requests()) {
      for (const r of ingestMessages(req, keys, NOW).rows) expected.set(r.messageId, JSON.parse(r.json) as unknown[])
    }
    const ingestionTime = new Set(['received_at', 'historical'])
    const columns = EVENT_COLUMNS.filter((c) => !ingestionTime.has(c))
    const stored = await storage.db.query<Record<string, unknown>>(
      `SELECT ${columns.join(', ')}, historical = (toUnixTimestamp64Milli(received_at) - toUnixTimestamp64Milli(ts) > 86400000) AS historical_follows FROM events`,
    )
    expect(stored).toHaveLength(expected.size)
    for (const row of stored) {
      const want = expected.get(String(row.message_id))!.filter((_, i) => !ingestionTime.has(EVENT_COLUMNS[i]!))
      expect(columns.map((c) => comparable(c, row[c]))).toEqual(want.map((v, i) => comparable(columns[i]!, v)))
      expect(row.historical_follows).toBe(1)
    }

    const again = await load()
    expect(again).toMatchObject({ accepted: first.events, inserted: 0, duplicates: first.events })
    const [n] = await storage.db.query<{ rows: string; ids: string }>('SELECT count() AS rows, uniqExact(message_id) AS ids FROM events')
    expect(Number(n!.rows)).toBe(first.events)
    expect(Number(n!.ids)).toBe(first.events)
  })

  it('gives the always adherent a rate of 1 and a streak of every period, and the irregular less', async () => {
    const population = generatePopulation(options)
    const steady = population.patients.filter(
      (p) => p.adherence?.propensity === 1 && p.adherence.stopDay === null && p.dropoutDay === null && p.startDay < options.days - 2,
    )
    const irregular = population.patients.filter(
      (p) => p.adherence && p.adherence.propensity < 0.6 && p.adherence.stopDay === null && p.dropoutDay === null && p.startDay < options.days - 20,
    )
    expect(steady.length).toBeGreaterThan(5)
    expect(irregular.length).toBeGreaterThan(3)
    for (const p of steady) {
      const { adherence } = await readProfile(storage.db, demo.program, p.patientId, NOW)
      // Due daily from the start day; today's period counts once today's check-in is in.
      expect(adherence).toMatchObject({ rate: 1, streak: adherence!.periodsDue, periodsWithCheckin: adherence!.periodsDue })
      expect(adherence!.periodsDue - (options.days - 1 - p.startDay)).toBeGreaterThanOrEqual(0)
      expect(adherence!.periodsDue - (options.days - 1 - p.startDay)).toBeLessThanOrEqual(1)
    }
    for (const p of irregular) {
      const { adherence } = await readProfile(storage.db, demo.program, p.patientId, NOW)
      expect(adherence!.rate).toBeLessThan(0.9)
      expect(adherence!.rate).toBeGreaterThan(0.05)
    }
  })
})
