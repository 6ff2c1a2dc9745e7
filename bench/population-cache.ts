// The synthetic population the profiles (and decide) scenarios measure against, loaded once and
// kept between runs: a 100,000-patient load takes minutes, a copy of the loaded data directory
// seconds. The cache lives under bench/.cache/profiles/ (gitignored), one entry per population,
// named by what makes its data: patients, days, seed, the generator's version, and a checksum
// of the program sections the generator and ingestion read and of the migrations. Each run works
// on its own copy, so the collector's writes (probes, clusterings, new program versions) never
// reach the cache.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canonicalJson, loadMigrations, type Program } from '../analytics/index.ts'
import { GENERATOR_VERSION } from '../population/index.ts'
import { ROOT } from './child.ts'

/** What the loading child process reports (bench/profiles-load.ts). */
export interface LoadFigures {
  events: number
  accepted: number
  inserted: number
  duplicates: number
  quarantined: number
  rejected: number
  refused: number
  requests: number
  loadS: number
  cpuCores?: number
  openS: number
  closeS: number
}

/** Which population. */
export interface PopulationSpec {
  patients: number
  days: number
  seed: number
}

/** A population ready to measure: a data directory of this run's own, and how it came to be. */
export interface PreparedPopulation {
  dataDir: string
  /** The end of the simulated period the population was generated for (regenerate the hidden truth with it). */
  now: number
  loaded: LoadFigures
  /** From spawning the loader until its engine was closed (only when loaded in this run). */
  buildS: number | null
  cache: { used: boolean; entry: string; copyS: number }
}

/** Where loaded populations are kept. */
export const CACHE_DIR = join(ROOT, 'bench', '.cache', 'profiles')

const log = (m: string) => console.error(`[bench] ${m}`)

/** Runs bench/profiles-load.ts in a child process and returns its figures (the decide scenario loads its population with it too). */
export function loadInChild(dir: string, spec: PopulationSpec, now: number): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/profiles-load.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_PROFILE_DIR: dir,
        BENCH_PROFILE_PATIENTS: String(spec.patients),
        BENCH_PROFILE_DAYS: String(spec.days),
        BENCH_PROFILE_SEED: String(spec.seed),
        BENCH_PROFILE_NOW: String(now),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString()
      process.stderr.write(b)
    })
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as LoadFigures)
      else reject(new Error(`profiles-load exited with ${code}:\n${out}\n${err}`))
    })
  })
}

/** The cache entry's name: the population, the generator's version and a checksum of everything else its data depends on. */
export function cacheEntry(spec: PopulationSpec, program: Program): string {
  // The sections generation and ingestion read; rules, dialogue plans and the like do not change the data.
  const { id, market, timeZone, needs, content, goals, levels, questionnaires, patterns, adherence, keys, needHalfLifeDays } = program
  const inputs = canonicalJson({
    program: { id, market, timeZone, needs, content, goals, levels, questionnaires, patterns, adherence, keys, needHalfLifeDays },
    migrations: loadMigrations().map((m) => m.checksum),
  })
  const sum = createHash('sha256').update(inputs).digest('hex').slice(0, 12)
  return `${prefixOf(spec)}g${GENERATOR_VERSION}-${sum}`
}

const prefixOf = (spec: PopulationSpec) => `p${spec.patients}-d${spec.days}-s${spec.seed}-`

/** A full copy (reflinked where the file system can). */
function copyDir(from: string, to: string): void {
  try {
    execFileSync('cp', ['-a', '--reflink=auto', `${from}/.`, to], { stdio: 'ignore' })
  } catch {
    rmSync(to, { recursive: true, force: true })
    cpSync(from, to, { recursive: true })
  }
}

/**
 * The population in `workDir`: copied from the cache when an entry for it exists (unless
 * `fresh`), else loaded (fast path, child process) into a new entry first. Entries of the same
 * patients, days and seed made from other inputs are removed when a new one is written.
 */
export async function preparePopulation(spec: PopulationSpec, program: Program, workDir: string, fresh: boolean): Promise<PreparedPopulation> {
  const entry = cacheEntry(spec, program)
  const dir = join(CACHE_DIR, entry)
  const used = !fresh && existsSync(join(dir, 'meta.json'))
  let buildS: number | null = null
  if (!used) {
    mkdirSync(CACHE_DIR, { recursive: true })
    const building = `${dir}.building-${process.pid}`
    rmSync(building, { recursive: true, force: true })
    mkdirSync(building, { recursive: true })
    const now = Date.now()
    log(`profiles: loading ${spec.patients} patients × ${spec.days} days through the fast path (child process) into the cache (${entry})`)
    const t0 = performance.now()
    try {
      const loaded = await loadInChild(join(building, 'data'), spec, now)
      buildS = (performance.now() - t0) / 1000
      writeFileSync(
        join(building, 'meta.json'),
        `${JSON.stringify({ patients: spec.patients, days: spec.days, seed: spec.seed, generatorVersion: GENERATOR_VERSION, now, loaded, buildS }, null, 2)}\n`,
      )
      for (const other of readdirSync(CACHE_DIR))
        if (other.startsWith(prefixOf(spec)) && other !== entry && !other.includes('.building-'))
          rmSync(join(CACHE_DIR, other), { recursive: true, force: true })
      rmSync(dir, { recursive: true, force: true })
      renameSync(building, dir)
    } catch (e) {
      rmSync(building, { recursive: true, force: true })
      throw e
    }
  } else {
    log(`profiles: population from the cache (${entry})`)
  }
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { now: number; loaded: LoadFigures }
  const t1 = performance.now()
  copyDir(join(dir, 'data'), workDir)
  const copyS = (performance.now() - t1) / 1000
  return { dataDir: workDir, now: meta.now, loaded: meta.loaded, buildS, cache: { used, entry, copyS: Math.round(copyS * 10) / 10 } }
}
