// Clustering runs stored in ClickHouse and read back on the embedded engine: what is read is what
// was computed (memberships included, across several inserts), the latest run wins, and a run
// whose run row never landed (a crash half-way) is not read.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir } from '../../../test/temp-dir.ts'
import { createDb, type Db } from '../storage/client.ts'
import { latestClustering, storeClustering } from './cluster-runs.ts'
import { clusterNeeds, type Clustering } from './clusters.ts'
import { migrate } from '../storage/migrate.ts'
import { programSchema } from '../program/programs.ts'
import { sql } from '../storage/sql.ts'
import { TABLES } from '../storage/tables.ts'
import { DAY_MS } from '../util/days.ts'

const program = programSchema.parse({
  id: 'p1',
  name: 'P',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  demo: true,
  keys: { write: [{ id: 'w', key: 'pk_test_12345678', origins: ['https://example.org'] }], secret: [{ id: 's', key: 'sk_test_12345678', channel: 'server' }] },
  needs: [
    { id: 'a', name: 'A', description: 'a' },
    { id: 'b', name: 'B', description: 'b' },
    { id: 'c', name: 'C', description: 'c' },
  ],
})
const NOW = Date.parse('2026-11-23T12:00:00.000Z')

let dir: string
let db: Db
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'attune-cluster-runs-'))
  db = createDb({ mode: 'embedded', path: join(dir, 'clickhouse') })
  await migrate(db)
  // 45 people in three groups by what they read (need weights straight into the aggregate the models read).
  const rows = []
  for (let i = 0; i < 45; i++) {
    const [need, other] = [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'a'],
    ][i % 3]!
    rows.push({ program: 'p1', actor_id: `person-${i}`, need, day: '2026-11-20', weight: 3 + (i % 5) / 10, touches: 3 })
    rows.push({ program: 'p1', actor_id: `person-${i}`, need: other, day: '2026-11-21', weight: 0.5, touches: 1 })
  }
  rows.push({ program: 'p2', actor_id: 'elsewhere', need: 'a', day: '2026-11-20', weight: 1, touches: 1 })
  await db.insertRows(TABLES.needDayWeights, rows)
})
afterAll(async () => {
  await db.close()
  removeDir(dir)
})

const membersOf = async (runId: string) =>
  new Map(
    (
      await db.query<{ person_id: string; cluster_id: string }>(`SELECT person_id, cluster_id FROM ${TABLES.needClusterMembers} WHERE run_id = {run:String}`, {
        run: runId,
      })
    ).map((r) => [r.person_id, r.cluster_id]),
  )

describe('clustering runs', () => {
  let first: Clustering

  it('stores the memberships exactly as computed, over several inserts, and reads the run back equal', async () => {
    first = await clusterNeeds(db, program, { k: 3, minSize: 5, now: NOW })
    expect(first.members.size).toBe(45)
    expect(first.clusters.map((c) => c.size)).toEqual([15, 15, 15])
    // The same engine, with its membership inserts counted.
    const inserts: number[] = []
    const counted: Db = {
      ...db,
      insertJsonLines: (table, body, token, columns) => (inserts.push(String(body).trim().split('\n').length), db.insertJsonLines(table, body, token, columns)),
    }
    await storeClustering(counted, first, { batchRows: 7 })
    expect(inserts).toEqual([7, 7, 7, 7, 7, 7, 3])
    expect(await membersOf(first.runId)).toEqual(first.members)
    const partitions = await db.query<{ p: string }>(`SELECT DISTINCT partition p FROM system.parts WHERE table = {t:String} AND active`, {
      t: TABLES.needClusterMembers,
    })
    expect(partitions).toEqual([{ p: '202611' }])
    expect(await latestClustering(db, 'p1')).toEqual(first)
    expect(await latestClustering(db, 'p2')).toBeUndefined()
  })

  it('reads the latest run, and not one whose run row never landed', async () => {
    const second = await clusterNeeds(db, program, { k: 2, minSize: 1, seed: 7, now: NOW + DAY_MS })
    await storeClustering(db, second)
    const read = await latestClustering(db, 'p1')
    expect(read).toEqual(second)
    expect(read!.settings).toEqual({ k: 2, minSize: 1, seed: 7 })
    expect(read!.runId).not.toBe(first.runId)
    // A later run that died after its memberships: only the run row marks a run complete.
    await db.insertRows(TABLES.needClusterMembers, [
      { program: 'p1', run_id: 'torn', computed_at: '2026-11-25 12:00:00.000', person_id: 'person-0', cluster_id: 'cluster-1' },
    ])
    expect((await latestClustering(db, 'p1'))!.runId).toBe(second.runId)
    // Earlier runs stay stored, memberships and all.
    expect(await membersOf(first.runId)).toEqual(first.members)
  })

  it('stores a run with nobody in it', async () => {
    const empty = await clusterNeeds(db, { ...program, id: 'p3' }, { now: NOW })
    await storeClustering(db, empty)
    expect(await latestClustering(db, 'p3')).toEqual(empty)
  })

  it('every clustering query passes EXPLAIN', async () => {
    await expect(db.query(`EXPLAIN ${sql('latest-cluster-run')}`, { program: 'p1' })).resolves.toBeDefined()
    await expect(db.query(`EXPLAIN ${sql('cluster-members')}`, { program: 'p1', run_id: 'r', computed_at: '2026-11-23 12:00:00.000' })).resolves.toBeDefined()
    await expect(db.query(`EXPLAIN ${sql('need-vectors')}`, { program: 'p1', now: '2026-11-23 12:00:00.000', half_life_days: 30 })).resolves.toBeDefined()
  })
})
