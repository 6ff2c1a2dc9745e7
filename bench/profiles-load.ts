// Child process of the `profiles` scenario: loads a seeded synthetic population of the demo
// program straight into the embedded engine under BENCH_PROFILE_DIR through the fast path
// (loadFast: worker threads run the collector's own ingestion, rows go in as large partitioned
// inserts, no HTTP, no spool), closes the engine and prints one JSON line of figures. It runs
// apart from the bench process because only one chdb engine may be open per process.
import { join } from 'node:path'
import { loadPrograms } from '../analytics/index.ts'
import { loadFast, openDirectStorage, quarantineDirOf } from '../population/index.ts'
import { ROOT } from './child.ts'

const dir = process.env.BENCH_PROFILE_DIR!
const patients = Number(process.env.BENCH_PROFILE_PATIENTS)
const days = Number(process.env.BENCH_PROFILE_DAYS)
const seed = Number(process.env.BENCH_PROFILE_SEED)
const now = Number(process.env.BENCH_PROFILE_NOW)
const workers = process.env.BENCH_PROFILE_WORKERS ? Number(process.env.BENCH_PROFILE_WORKERS) : undefined

const programs = loadPrograms(join(ROOT, 'programs'), {})
const demo = programs.find((p) => p.program.id === 'psoriasis-demo')!
const t0 = performance.now()
const storage = await openDirectStorage(dir, {})
const openS = (performance.now() - t0) / 1000
let lastLog = 0
const cpu0 = process.cpuUsage()
try {
  const stats = await loadFast({
    population: { program: demo.program, keys: demo.keys, patients, days, seed, now },
    db: storage.db,
    keys: programs.flatMap((p) => p.keys),
    quarantineDir: quarantineDirOf(dir),
    ...(storage.landed ? { landed: storage.landed } : {}),
    ...(workers ? { workers } : {}),
    onProgress: (p) => {
      if (p.ms - lastLog < 15_000) return
      lastLog = p.ms
      console.error(`[bench] profiles: loaded ${p.patientsDone}/${patients} patients, ${p.inserted} events, ${Math.round(p.inserted / (p.ms / 1000))} events/s`)
    },
  })
  const cpu = process.cpuUsage(cpu0)
  const t1 = performance.now()
  await storage.close()
  const closeS = (performance.now() - t1) / 1000
  console.log(
    JSON.stringify({
      events: stats.events,
      accepted: stats.accepted,
      inserted: stats.inserted,
      duplicates: stats.duplicates,
      quarantined: stats.quarantined,
      rejected: stats.rejected.length,
      refused: stats.refused.length,
      requests: stats.requests,
      loadS: stats.ms / 1000,
      // The whole process (workers and the engine's threads) per second of loading.
      cpuCores: (cpu.user + cpu.system) / 1e6 / (stats.ms / 1000),
      openS,
      closeS,
    }),
  )
} catch (e) {
  await storage.close().catch(() => {})
  throw e
}
process.exit(0)
