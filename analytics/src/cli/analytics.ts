// `npm run analytics -- cluster --program ID [--k 5] [--min-size 20] [--seed 1]`: k-means over the
// program's need vectors, stored as a clustering run (the collector reads the latest at its next
// start) and printed as JSON (clusters with labels, sizes and centroids; candidate pattern cards for
// the program's managers). On the embedded engine, stop the collector first (one process per data
// directory); while it runs, GET /v1/admin/programs/:id/clusters does the same.
import { parseArgs } from 'node:util'
import { createDb } from '../storage/client.ts'
import { storeClustering } from '../profiles/cluster-runs.ts'
import { clusterNeeds } from '../profiles/clusters.ts'
import { migrate } from '../storage/migrate.ts'
import { loadPrograms } from '../program/programs.ts'
import { storageConfigFromEnv } from '../storage/storage-config.ts'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    program: { type: 'string' },
    k: { type: 'string', default: '5' },
    'min-size': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
  },
})
const stop = (m: string): never => {
  console.error(`${m}\nusage: npm run analytics -- cluster --program ID [--k 5] [--min-size 20] [--seed 1]`)
  process.exit(1)
}
if (positionals[0] !== 'cluster') stop(`unknown command ${positionals[0] ?? '(none)'}`)
const programs = loadPrograms(process.env.ATTUNE_PROGRAMS || './programs', process.env)
const program =
  programs.find((p) => p.program.id === values.program)?.program ?? stop(`--program must be one of ${programs.map((p) => p.program.id).join(', ')}`)
const int = (name: string, v: string, lo: number, hi: number) => {
  const n = Number(v)
  return Number.isInteger(n) && n >= lo && n <= hi ? n : stop(`--${name} must be a whole number from ${lo} to ${hi}`)
}
const db = createDb(storageConfigFromEnv(process.env, process.env.ATTUNE_DATA || './data'))
try {
  await migrate(db)
  const result = await clusterNeeds(db, program, {
    k: int('k', values.k!, 1, 50),
    minSize: int('min-size', values['min-size']!, 1, 1_000_000),
    seed: int('seed', values.seed!, 0, 2 ** 31),
  })
  await storeClustering(db, result)
  console.log(
    JSON.stringify(
      {
        program: result.program,
        runId: result.runId,
        computedAt: result.computedAt,
        k: result.settings.k,
        minSize: result.settings.minSize,
        people: result.members.size,
        clusters: result.clusters,
      },
      null,
      2,
    ),
  )
} finally {
  await db.close()
}
