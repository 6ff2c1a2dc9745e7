// `npm run demo -- --patients 10000 --days 90 [--program psoriasis-demo] [--seed 42] [--now ISO]
//   (--direct [--data ./data] [--workers N] | --url http://127.0.0.1:8080 [--key sk_… with the import scope] [--concurrency 16])`:
// a seeded synthetic population of a program, sent through the collector's HTTP API or loaded
// straight into ClickHouse through the collector's own ingestion (the fast path: worker threads,
// large partitioned inserts). Progress on stderr, a JSON summary on stdout. Programs are read as
// the collector reads them (ATTUNE_PROGRAMS; keys written as `env:NAME` from the environment);
// --data defaults to ATTUNE_DATA, else ./data.
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadPrograms, type LoadedProgram, type ProgramKey } from '../../../analytics/index.ts'
import { configFromEnv, originMatcher } from '../../../collector/index.ts'
import { generatePopulation, loadFast, openDirectStorage, quarantineDirOf, sendHttp } from '../../index.ts'
import { progressBar } from '../progress-bar.ts'

const USAGE =
  'usage: demo --patients N --days N [--program ID] [--seed N] [--now ISO-TIME] (--direct [--data DIR] [--workers N] | --url URL [--key SECRET_KEY] [--concurrency 16])'

function stop(message: string): never {
  console.error(`demo: ${message}\n${USAGE}`)
  process.exit(1)
}

let values: Record<string, string | boolean | undefined>
try {
  values = parseArgs({
    options: {
      patients: { type: 'string', default: '1000' },
      days: { type: 'string', default: '90' },
      program: { type: 'string', default: 'psoriasis-demo' },
      seed: { type: 'string', default: '42' },
      now: { type: 'string' },
      direct: { type: 'boolean', default: false },
      data: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      workers: { type: 'string' },
    },
    strict: true,
  }).values
} catch (e) {
  stop((e as Error).message)
}
const whole = (name: string, min: number, max: number): number => {
  const v = Number(values[name])
  if (!Number.isInteger(v) || v < min || v > max) stop(`--${name} must be a whole number from ${min} to ${max}`)
  return v
}
const patients = whole('patients', 1, 1_000_000)
const days = whole('days', 1, 3650)
const seed = whole('seed', 0, 2 ** 31 - 1)
const concurrency = whole('concurrency', 1, 256)
const workers = values.workers === undefined ? undefined : whole('workers', 1, 64)
// Default end: the start of this hour, so reruns within the hour give identical events.
const now = values.now ? Date.parse(String(values.now)) : Math.floor(Date.now() / 3_600_000) * 3_600_000
if (Number.isNaN(now)) stop('--now must be an ISO 8601 time')
if (now > Date.now() + 3_600_000) stop('--now must not be in the future')
const direct = values.direct === true
if (direct === Boolean(values.url)) stop('give either --direct or --url')
if (direct && values.key) stop('--key is for --url; --direct uses the program file’s keys')
if (!direct && workers !== undefined) stop('--workers is for --direct')

let config: ReturnType<typeof configFromEnv>
let programs: LoadedProgram[]
try {
  config = configFromEnv(process.env)
  programs = loadPrograms(config.programsDir, process.env)
} catch (e) {
  stop((e as Error).message)
}
const loaded = programs.find((p) => p.program.id === values.program)
if (!loaded) stop(`no program ${String(values.program)}; programs: ${programs.map((p) => p.program.id).join(', ')}`)
const keys: ProgramKey[] = loaded.keys
// Over HTTP the history is imported: every request goes with a secret key that has the import
// scope (--key, else the program's first such key), browser events with their address and agent.
let importKey: string | undefined
if (values.url) {
  const k = values.key
    ? loaded.keys.find((x) => x.value === values.key)
    : loaded.keys.find((x) => x.kind === 'secret' && x.scopes.includes('import') && x.value)
  if (k?.kind !== 'secret' || !k.scopes.includes('import'))
    stop(
      values.key
        ? `--key must be a secret key of ${loaded.program.id} with the import scope`
        : `program ${loaded.program.id} has no secret key with the import scope whose value is known: give --key`,
    )
  importKey = k.value
}

// Over HTTP the site is the collector's own (it serves the demo site at /demo/), when the write key allows that origin.
let origin: string | undefined
if (values.url) {
  try {
    origin = new URL(String(values.url)).origin
  } catch {
    stop('--url must be an absolute URL')
  }
  const write = keys.find((k) => k.kind === 'write')
  if (!write?.origins.some((o) => originMatcher(o)(origin!))) origin = undefined
}
const population = generatePopulation({ program: loaded.program, keys, patients, days, seed, now, ...(origin ? { origin } : {}) })
const bar = progressBar(process.stderr)
const show = (p: { patientsDone: number; events: number; ms: number }) => bar.update({ done: p.patientsDone, total: patients, events: p.events, ms: p.ms })
console.error(
  `demo: ${patients} patients × ${days} days of ${loaded.program.id} (seed ${seed}, ending ${new Date(now).toISOString()}) ${direct ? 'straight into ClickHouse' : `to ${String(values.url)}`}`,
)

let summary: Record<string, unknown>
let problems: Array<unknown>
if (direct) {
  const dataDir = values.data ? resolve(String(values.data)) : config.dataDir
  let storage: Awaited<ReturnType<typeof openDirectStorage>>
  try {
    storage = await openDirectStorage(dataDir, process.env)
  } catch (e) {
    stop((e as Error).message)
  }
  try {
    const stats = await loadFast({
      population: { program: loaded.program, keys, patients, days, seed, now },
      db: storage.db,
      keys: programs.flatMap((p) => p.keys),
      quarantineDir: quarantineDirOf(dataDir),
      ...(storage.landed ? { landed: storage.landed } : {}),
      ...(workers ? { workers } : {}),
      onProgress: show,
    })
    bar.finish({ done: patients, total: patients, events: stats.events, ms: stats.ms })
    problems = [...stats.refused, ...stats.rejected]
    summary = {
      mode: 'direct',
      data: dataDir,
      workers: workers ?? availableParallelism(),
      requests: stats.requests,
      events: stats.events,
      accepted: stats.accepted,
      rejected: stats.rejected.length,
      refused: stats.refused.length,
      inserted: stats.inserted,
      duplicates: stats.duplicates,
      quarantined: stats.quarantined,
      seconds: +(stats.ms / 1000).toFixed(1),
      eventsPerSecond: Math.round((stats.events / stats.ms) * 1000),
    }
  } finally {
    await storage.close()
  }
} else {
  const stats = await sendHttp(population.requests(), { url: String(values.url), concurrency, onProgress: show, ...(importKey ? { importKey } : {}) })
  bar.finish({ done: patients, total: patients, events: stats.events, ms: stats.ms })
  problems = [...stats.failed, ...stats.rejected]
  summary = {
    mode: 'http',
    url: values.url,
    requests: stats.requests,
    events: stats.events,
    accepted: stats.accepted,
    rejected: stats.rejected.length,
    failed: stats.failed.length,
    retries: stats.retries,
    seconds: +(stats.ms / 1000).toFixed(1),
    eventsPerSecond: Math.round((stats.events / stats.ms) * 1000),
  }
}
for (const p of problems.slice(0, 10)) console.error(`demo: ${JSON.stringify(p)}`)
const enrolled = population.patients.filter((p) => p.enrolled).length
console.log(JSON.stringify({ program: loaded.program.id, patients, enrolled, days, seed, now: new Date(now).toISOString(), ...summary }, null, 2))
process.exit(problems.length > 0 ? 1 : 0)
