// `npm start` runs this first (prestart): a fresh embedded data directory gets a small seeded
// population of the demo program, so profiles and reports have something to show. Skipped when
// the data directory exists, when ClickHouse is a server, or with ATTUNE_DEMO_SEED=0. It runs in
// its own process before the collector opens the same data directory (one engine per directory).
import { existsSync } from 'node:fs'
import { configFromEnv } from '../../../collector/index.ts'
import { seedDemo } from '../../index.ts'

const config = configFromEnv(process.env)
if (config.demoSeed && config.storage.mode === 'embedded' && !existsSync(config.storage.path)) {
  const seeded = await seedDemo({ dataDir: config.dataDir, programsDir: config.programsDir, env: process.env })
  if (!seeded.skipped)
    console.error(
      `[attune] demo data: ${seeded.patients} synthetic patients, ${seeded.stats!.inserted} events; e.g. GET /v1/profiles/${seeded.examples[0]} with the program's secret key`,
    )
}
