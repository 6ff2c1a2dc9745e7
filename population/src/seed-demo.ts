import { loadPrograms, migrate, type Db, type LoadedProgram } from '../../analytics/index.ts'
import { loadDirect, openDirectStorage, quarantineDirOf, type DirectLoadStats } from './direct-load.ts'
import { generatePopulation } from './population.ts'

/** What to seed, and where. */
export interface SeedDemoOptions {
  /** A data directory: opened, locked and migrated as the collector does, and closed again. */
  dataDir?: string
  /** Or an open, migrated ClickHouse whose data directory the caller holds (with `quarantineDir`). */
  db?: Db
  quarantineDir?: string
  /** The programs as loaded (default: `programsDir`, read with `env`). */
  programs?: LoadedProgram[]
  programsDir?: string
  env?: NodeJS.ProcessEnv
  /** Default `psoriasis-demo`, 200 patients, 30 days, seed 1, ending now. */
  program?: string
  patients?: number
  days?: number
  seed?: number
  now?: number
  /** Load even when the program already has events. */
  force?: boolean
}

/** What seeding did: nothing (`skipped`) when the program already had events. */
export interface SeedDemoResult {
  skipped: boolean
  patients: number
  /** A few enrolled, engaged patients to show (`GET /v1/profiles/:id`). */
  examples: string[]
  stats?: DirectLoadStats
}

/**
 * Fills an empty store with a small synthetic population of the demo program (200 patients ×
 * 30 days, about 2,000 events), straight through the collector's ingestion and sink, so a fresh
 * `npm start` has profiles to show. Does nothing when the program already has events.
 *
 * @example await seedDemo({ dataDir: config.dataDir, programs })   // before createService
 */
export async function seedDemo(opts: SeedDemoOptions): Promise<SeedDemoResult> {
  if (!opts.db === !opts.dataDir) throw new Error('seedDemo needs either dataDir or db')
  if (opts.db && !opts.quarantineDir) throw new Error('seedDemo with db needs quarantineDir')
  const env = opts.env ?? {}
  const programs = opts.programs ?? loadPrograms(opts.programsDir ?? './programs', env)
  const id = opts.program ?? 'psoriasis-demo'
  const loaded = programs.find((p) => p.program.id === id)
  if (!loaded) throw new Error(`seedDemo: no program ${id}`)
  const storage = opts.dataDir ? await openDirectStorage(opts.dataDir, env) : null
  const db = storage?.db ?? opts.db!
  try {
    if (!storage) await migrate(db)
    const patients = opts.patients ?? 200
    if (!opts.force) {
      // One key range of the landing table (ordered by program first), not a scan.
      const any = await db.query<{ one: number }>('SELECT 1 AS one FROM events WHERE program = {program:String} LIMIT 1', { program: id })
      if (any.length > 0) return { skipped: true, patients: 0, examples: [] }
    }
    const population = generatePopulation({
      program: loaded.program,
      keys: loaded.keys,
      patients,
      days: opts.days ?? 30,
      seed: opts.seed ?? 1,
      now: opts.now ?? Date.now(),
    })
    const stats = await loadDirect(population.requests(), {
      db,
      keys: programs.flatMap((p) => p.keys),
      quarantineDir: storage ? quarantineDirOf(storage.dataDir) : opts.quarantineDir!,
      ...(storage?.landed ? { landed: storage.landed } : {}),
    })
    const examples = population.patients
      .filter((p) => p.enrolled && p.dropoutDay === null && p.startDay < (opts.days ?? 30) / 3)
      .sort((a, b) => b.propensity - a.propensity || a.index - b.index)
      .slice(0, 3)
      .map((p) => p.patientId)
    return { skipped: false, patients, examples, stats }
  } finally {
    await storage?.close()
  }
}
