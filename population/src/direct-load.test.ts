// Direct loading on the embedded engine: a population lands through the collector's own ingestion
// and sink, once, and the profiles built from it find each patient's hidden top need.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadPrograms, readProfile } from '../../analytics/index.ts'
import { ROOT, tempDir } from '../../test/helpers.ts'
import { generatePopulation, loadDirect, openDirectStorage, quarantineDirOf, type DirectStorage } from '../index.ts'

const programs = loadPrograms(join(ROOT, 'programs'), {})
const allKeys = programs.flatMap((p) => p.keys)
const demo = programs.find((p) => p.program.id === 'psoriasis-demo')!
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

describe('loadDirect', () => {
  // 150 patients × 30 days rather than fewer: about half the patients touch catalogued content at
  // least `patternMinTouches` times in a month, and a share needs a few dozen of them to mean much.
  const now = Date.now()
  const population = generatePopulation({ program: demo.program, keys: demo.keys, patients: 150, days: 30, seed: 4, now })
  const load = () =>
    loadDirect(population.requests(), {
      db: storage.db,
      keys: allKeys,
      quarantineDir: quarantineDirOf(tmp.dir),
      ...(storage.landed ? { landed: storage.landed } : {}),
    })

  it('lands every event once, and a rerun of the same seed only finds duplicates', async () => {
    const first = await load()
    expect(first.refused).toEqual([])
    expect(first.rejected).toEqual([])
    expect(first.events).toBeGreaterThan(1000)
    expect(first).toMatchObject({ accepted: first.events, inserted: first.events, duplicates: 0, quarantined: 0 })
    const [row] = await storage.db.query<{ n: string; users: string }>(
      "SELECT count() AS n, uniqExact(user_id) AS users FROM events WHERE program = 'psoriasis-demo' AND user_id != ''",
    )
    expect(Number(row!.users)).toBeGreaterThan(50)
    const again = await load()
    expect(again).toMatchObject({ accepted: first.events, inserted: 0, duplicates: first.events })
  })

  it('gives profiles whose inferred needs find the hidden top need of most patients whose top need is clear', async () => {
    const { program } = demo
    let measured = 0
    let found = 0
    let withPattern = 0
    let patternFound = 0
    for (const p of population.patients) {
      if (!p.enrolled || p.topMargin < 0.15) continue
      const profile = await readProfile(storage.db, program, p.patientId, now)
      // Like pattern matching, judge only people with enough touches of catalogued content.
      if (profile.profiledTouches < program.patternMinTouches) continue
      measured++
      const top2 = [...profile.needs]
        .sort((a, b) => b.inferred - a.inferred)
        .slice(0, 2)
        .map((n) => n.need)
      if (top2.includes(p.topNeed)) found++
      if (p.pattern) {
        withPattern++
        if (profile.pattern?.id === p.pattern) patternFound++
      }
    }
    console.log(
      `hidden top need among the top 2 inferred needs: ${found}/${measured} = ${(found / measured).toFixed(2)}; nearest pattern card = hidden pattern: ${patternFound}/${withPattern} = ${(patternFound / withPattern).toFixed(2)}`,
    )
    expect(measured).toBeGreaterThanOrEqual(25)
    expect(found / measured).toBeGreaterThanOrEqual(0.7)
  })

  it('does not open a data directory a running collector holds', async () => {
    const other = tempDir()
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      writeFileSync(join(other.dir, 'LOCK'), String(holder.pid))
      await expect(openDirectStorage(other.dir)).rejects.toThrow(`is in use by process ${holder.pid}`)
    } finally {
      holder.kill('SIGKILL')
      other.remove()
    }
  })
})
