// `npm run bench`: the bare Hono floor, single-event ingestion, 100-event batches, the outage, profiles and decide, each
// loaded for BENCH_DURATION_S seconds (default 10) with BENCH_CONNECTIONS (default 50), then
// one JSON document on stdout. Progress goes to stderr. See bench/README.md.
import { rmSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { machineBusySeconds, startChild } from './child.ts'
import { basicAuth, eventFactory, SECRET_KEY } from './events.ts'
import { countLanded, runIngest, type IngestRun } from './ingest.ts'
import { load, type LoadResult } from './load.ts'
import { outageFigures, runOutage, type OutageRun } from './outage.ts'
import { runProfiles } from './profiles.ts'
import { runDecide } from './decide.ts'

const SCENARIOS = ['floor', 'single', 'batch', 'outage', 'profiles', 'decide'] as const
type Scenario = (typeof SCENARIOS)[number]

const envSchema = z.object({
  BENCH_DURATION_S: z.coerce.number().positive().max(600).default(10),
  BENCH_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(50),
  BENCH_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(100),
  BENCH_DRAIN_TIMEOUT_S: z.coerce.number().int().min(1).max(600).default(60),
  BENCH_SCENARIOS: z
    .string()
    .default(SCENARIOS.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(SCENARIOS)).min(1)),
  // Before each scenario, wait up to this long for other work on the machine to fall below
  // 0.2 cores (the machine is shared; a neighbour's test run halves every figure).
  BENCH_QUIET_WAIT_S: z.coerce.number().min(0).max(600).default(0),
  BENCH_KEEP_DATA: z.enum(['0', '1']).default('0'),
  // D5: the outage scenario's steady load and length (guarantee D5 is measured over 10 minutes at 500 req/s).
  BENCH_OUTAGE_RATE: z.coerce.number().int().min(1).max(100_000).default(500),
  BENCH_OUTAGE_S: z.coerce.number().positive().max(3600).optional(),
  // autocannon paces a rate by firing every connection at once each tick, so 50 connections at
  // 500 req/s arrive as bursts of 50; 10 connections are closer to independent patients' browsers.
  BENCH_OUTAGE_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(10),
  // The profiles scenario: a synthetic population loaded directly, then profile reads, the time
  // from an event to a changed profile, and need-inference accuracy (see bench/README.md).
  // 100,000 patients × 215 days ≈ 10 million events (the figure), loaded once into bench/.cache/.
  BENCH_PROFILE_PATIENTS: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  BENCH_PROFILE_DAYS: z.coerce.number().int().min(1).max(3650).default(215),
  BENCH_PROFILE_SEED: z.coerce.number().int().default(1),
  BENCH_PROFILE_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(10),
  BENCH_PROFILE_SAMPLE: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  BENCH_PROFILE_PROBES: z.coerce.number().int().min(1).max(1000).default(20),
  // 1: load the population again even when bench/.cache/ has it.
  BENCH_PROFILE_FRESH: z.enum(['0', '1']).default('0'),
  // The decide scenario: POST /v1/decide at a fixed rate on the profiles scenario's population (see bench/README.md).
  BENCH_DECIDE_RATE: z.coerce.number().int().min(1).max(100_000).default(500),
  BENCH_DECIDE_S: z.coerce.number().positive().max(3600).default(20),
  BENCH_DECIDE_WEB_SHARE: z.coerce.number().min(0).max(1).default(0.5),
  BENCH_DECIDE_SOCKETS: z.coerce.number().int().min(1).max(1000).default(50),
  BENCH_DECIDE_CPU_PROF: z.enum(['0', '1']).default('0'),
  BENCH_DECIDE_NODE_FLAGS: z.string().default(''),
  BENCH_DECIDE_STALLS: z.enum(['0', '1']).default('0'),
})
const opts = envSchema.parse(process.env)
const wanted = (s: Scenario) => opts.BENCH_SCENARIOS.includes(s)

/** The aims from the issue. */
const AIM = { singleVsFloor: 0.5, batchedLandedEventsPerSec: 50_000, profileReadP99Ms: 20, profileVisibleS: 2, decideP99Ms: 10 }

const log = (m: string) => console.error(`[bench] ${m}`)
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Waits (at most BENCH_QUIET_WAIT_S) until the machine is idle; returns the busy cores last seen. */
async function quiet(): Promise<number | null> {
  const end = Date.now() + opts.BENCH_QUIET_WAIT_S * 1000
  let busy: number | null = null
  do {
    const a = machineBusySeconds()
    await sleep(1000)
    const b = machineBusySeconds()
    busy = a === null || b === null ? null : round(b - a, 2)
    if (busy === null || busy < 0.2) break
    if (opts.BENCH_QUIET_WAIT_S > 0) log(`machine busy (${busy} cores); waiting`)
  } while (Date.now() < end)
  return busy
}

async function floorRun(bodyOf: () => string, path: string, durable = false): Promise<LoadResult> {
  const floor = await startChild('bench/floor.ts', durable ? { FLOOR_DURABLE: '1' } : {})
  try {
    const r = await load({
      url: floor.url,
      path,
      headers: { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' },
      body: bodyOf,
      durationS: opts.BENCH_DURATION_S,
      connections: opts.BENCH_CONNECTIONS,
      serverPid: floor.child.pid,
    })
    const { startedAt: _s, endedAt: _e, ...figures } = r
    return figures
  } finally {
    floor.child.kill('SIGTERM')
    await floor.exited
  }
}

function ingestFigures(run: IngestRun, landed: { rows: number; distinctMessageIds: number }, busyBefore: number | null) {
  const endToEndS = run.load.durationS + run.drainS
  return {
    path: run.spec.path,
    eventsPerRequest: run.spec.eventsPerRequest,
    requestsPerSec: run.load.requestsPerSec,
    latencyMs: run.load.latencyMs,
    non2xx: run.load.non2xx,
    errors: run.load.errors,
    statusCodes: run.load.statusCodes,
    eventsAccepted: run.eventsAccepted,
    eventsAcceptedPerSec: Math.round(run.eventsAccepted / run.load.durationS),
    eventsLanded: landed.rows,
    eventsLandedDistinct: landed.distinctMessageIds,
    eventsLandedWhenLoadEnded: run.landedWhenLoadEnded,
    drainS: run.drainS,
    eventsLandedPerSec: Math.round(landed.rows / endToEndS),
    endToEndS: round(endToEndS),
    spoolBytesLeft: run.spoolBytesLeft,
    serverExit: run.exit,
    serverLog: run.serverLog,
    loadDurationS: run.load.durationS,
    machineBusyCoresBefore: busyBefore,
    cpuCoresUnderLoad: { loadGenerator: run.load.loadGeneratorCpuCores, server: run.load.serverCpuCores, other: run.load.otherCpuCores },
    cpuCoresDuringDrain: { server: run.drainServerCpuCores, other: run.drainOtherCpuCores },
  }
}

const t0 = performance.now()
const startedAt = new Date().toISOString()
const load0 = loadavg()[0] ?? 0
log(`${opts.BENCH_SCENARIOS.join(', ')}: ${opts.BENCH_DURATION_S} s each, ${opts.BENCH_CONNECTIONS} connections`)

let floor: (LoadResult & { machineBusyCoresBefore: number | null }) | null = null
let durableFloor: (LoadResult & { machineBusyCoresBefore: number | null }) | null = null
if (wanted('floor')) {
  let busy = await quiet()
  log('floor: bare Hono, single-event bodies')
  floor = { ...(await floorRun(eventFactory().single, '/v1/track')), machineBusyCoresBefore: busy }
  log(`floor: ${floor.requestsPerSec} req/s`)
  busy = await quiet()
  log('floor: bare Hono that answers after a grouped fdatasync of the body')
  durableFloor = { ...(await floorRun(eventFactory().single, '/v1/track', true)), machineBusyCoresBefore: busy }
  log(`durable floor: ${durableFloor.requestsPerSec} req/s`)
}

let single: { run: IngestRun; busy: number | null } | null = null
if (wanted('single')) {
  const busy = await quiet()
  log('single: POST /v1/track')
  const run = await runIngest({
    name: 'single',
    path: '/v1/track',
    eventsPerRequest: 1,
    durationS: opts.BENCH_DURATION_S,
    connections: opts.BENCH_CONNECTIONS,
    drainTimeoutS: opts.BENCH_DRAIN_TIMEOUT_S,
  })
  single = { run, busy }
  log(`single: ${run.load.requestsPerSec} req/s, drained in ${run.drainS} s`)
}

let batch: { run: IngestRun; busy: number | null } | null = null
if (wanted('batch')) {
  const busy = await quiet()
  log(`batch: POST /v1/batch with ${opts.BENCH_BATCH_SIZE} events`)
  const run = await runIngest({
    name: 'batch',
    path: '/v1/batch',
    eventsPerRequest: opts.BENCH_BATCH_SIZE,
    durationS: opts.BENCH_DURATION_S,
    connections: opts.BENCH_CONNECTIONS,
    drainTimeoutS: opts.BENCH_DRAIN_TIMEOUT_S,
  })
  batch = { run, busy }
  log(`batch: ${run.load.requestsPerSec} req/s, drained in ${run.drainS} s`)
}

let outage: OutageRun | null = null
if (wanted('outage')) {
  await quiet()
  const durationS = opts.BENCH_OUTAGE_S ?? opts.BENCH_DURATION_S
  log(`outage: ClickHouse unreachable, ${opts.BENCH_OUTAGE_RATE} req/s for ${durationS} s, then recovery`)
  outage = await runOutage({ durationS, rate: opts.BENCH_OUTAGE_RATE, connections: opts.BENCH_OUTAGE_CONNECTIONS })
  log(`outage: p99 ${outage.load.latencyMs.p99} ms, recovered in ${outage.recoveryS} s`)
}

let profiles: (Awaited<ReturnType<typeof runProfiles>> & { machineBusyCoresBefore: number | null }) | null = null
if (wanted('profiles')) {
  const busy = await quiet()
  const run = await runProfiles({
    patients: opts.BENCH_PROFILE_PATIENTS,
    days: opts.BENCH_PROFILE_DAYS,
    seed: opts.BENCH_PROFILE_SEED,
    durationS: opts.BENCH_DURATION_S,
    connections: opts.BENCH_PROFILE_CONNECTIONS,
    accuracySample: opts.BENCH_PROFILE_SAMPLE,
    probes: opts.BENCH_PROFILE_PROBES,
    drainTimeoutS: opts.BENCH_DRAIN_TIMEOUT_S,
    keepData: opts.BENCH_KEEP_DATA === '1',
    fresh: opts.BENCH_PROFILE_FRESH === '1',
  })
  profiles = { ...run, machineBusyCoresBefore: busy }
}

let decide: Awaited<ReturnType<typeof runDecide>> | null = null
if (wanted('decide')) {
  // The machine is checked before each measured load (after the population load), not here.
  decide = await runDecide({
    patients: opts.BENCH_PROFILE_PATIENTS,
    days: opts.BENCH_PROFILE_DAYS,
    seed: opts.BENCH_PROFILE_SEED,
    rate: opts.BENCH_DECIDE_RATE,
    durationS: opts.BENCH_DECIDE_S,
    webShare: opts.BENCH_DECIDE_WEB_SHARE,
    maxSockets: opts.BENCH_DECIDE_SOCKETS,
    drainTimeoutS: opts.BENCH_DRAIN_TIMEOUT_S,
    keepData: opts.BENCH_KEEP_DATA === '1',
    fresh: opts.BENCH_PROFILE_FRESH === '1',
    quiet,
    cpuProfile: opts.BENCH_DECIDE_CPU_PROF === '1',
    nodeFlags: opts.BENCH_DECIDE_NODE_FLAGS.split(/\s+/).filter(Boolean),
    stalls: opts.BENCH_DECIDE_STALLS === '1',
    serverLog: join(tmpdir(), 'attune-bench-decide-server.log'),
  })
}

// Counted only now, after every load, so the engine never runs inside the load generator.
log('counting landed events')
const s = single && ingestFigures(single.run, await countLanded(single.run.dataDir), single.busy)
const b = batch && ingestFigures(batch.run, await countLanded(batch.run.dataDir), batch.busy)
const o = outage && (await outageFigures(outage))
if (opts.BENCH_KEEP_DATA === '0') {
  for (const r of [single, batch]) if (r) rmSync(r.run.dataDir, { recursive: true, force: true })
  if (outage) rmSync(outage.dataDir, { recursive: true, force: true })
}

const report = {
  startedAt,
  machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? '', node: process.version, loadAvg1mAtStart: round(load0, 2) },
  settings: {
    durationS: opts.BENCH_DURATION_S,
    connections: opts.BENCH_CONNECTIONS,
    batchSize: opts.BENCH_BATCH_SIZE,
    singleEventBytes: Buffer.byteLength(eventFactory().single()),
    batchBodyBytes: Buffer.byteLength(eventFactory().batch(opts.BENCH_BATCH_SIZE)),
  },
  floor: floor && {
    server: 'bare Hono on @hono/node-server, reads the body, answers 204',
    requestsPerSec: floor.requestsPerSec,
    latencyMs: floor.latencyMs,
    non2xx: floor.non2xx,
    errors: floor.errors,
    machineBusyCoresBefore: floor.machineBusyCoresBefore,
    cpuCoresUnderLoad: { loadGenerator: floor.loadGeneratorCpuCores, server: floor.serverCpuCores, other: floor.otherCpuCores },
  },
  durableFloor: durableFloor && {
    server: 'bare Hono that appends the body to a file and answers 204 after fdatasync, concurrent requests grouped into one write and sync (guarantee D1)',
    requestsPerSec: durableFloor.requestsPerSec,
    latencyMs: durableFloor.latencyMs,
    non2xx: durableFloor.non2xx,
    errors: durableFloor.errors,
    machineBusyCoresBefore: durableFloor.machineBusyCoresBefore,
    cpuCoresUnderLoad: { loadGenerator: durableFloor.loadGeneratorCpuCores, server: durableFloor.serverCpuCores, other: durableFloor.otherCpuCores },
  },
  single: s,
  batch: b,
  outage: o,
  profiles,
  decide,
  ratios: {
    singleReqPerSecVsFloor: s && floor ? round(s.requestsPerSec / floor.requestsPerSec) : null,
    singleAim: AIM.singleVsFloor,
    singleMeetsAim: s && floor ? s.requestsPerSec / floor.requestsPerSec >= AIM.singleVsFloor : null,
    // What durability alone costs on this machine, and the collector against that floor.
    durableFloorVsFloor: durableFloor && floor ? round(durableFloor.requestsPerSec / floor.requestsPerSec) : null,
    singleReqPerSecVsDurableFloor: s && durableFloor ? round(s.requestsPerSec / durableFloor.requestsPerSec) : null,
    batchedLandedEventsPerSecVsAim: b ? round(b.eventsLandedPerSec / AIM.batchedLandedEventsPerSec) : null,
    batchedAimEventsPerSec: AIM.batchedLandedEventsPerSec,
    batchedMeetsAim: b ? b.eventsLandedPerSec >= AIM.batchedLandedEventsPerSec : null,
    outageP99Ms: o ? o.latencyMs.p99 : null,
    outageAimP99Ms: 100,
    outageMeetsAim: o ? o.latencyMs.p99 <= 100 && o.non2xx === 0 && o.nothingLost : null,
    profileReadP99Ms: profiles ? profiles.reads.latencyMs.p99 : null,
    profileReadAimP99Ms: AIM.profileReadP99Ms,
    profileReadMeetsAim: profiles ? profiles.reads.latencyMs.p99 <= AIM.profileReadP99Ms && profiles.reads.non2xx === 0 && profiles.reads.errors === 0 : null,
    profileVisibleMedianS: profiles ? profiles.visibility.medianS : null,
    profileVisibleMaxS: profiles ? profiles.visibility.maxS : null,
    profileVisibleAimS: AIM.profileVisibleS,
    profileVisibleMeetsAim: profiles
      ? profiles.visibility.timedOut === 0 && profiles.visibility.maxS !== null && profiles.visibility.maxS < AIM.profileVisibleS
      : null,
    needTopInTop2Share: profiles ? profiles.accuracy.topNeedInTop2Share : null,
    needTopBeforeQuestionnaireShare: profiles ? profiles.accuracy.questionnaire.topNeedBeforeShare : null,
    needTopAfterQuestionnaireShare: profiles ? profiles.accuracy.questionnaire.topNeedAfterShare : null,
    needTopInferredShare: profiles ? profiles.accuracy.topNeedIsTop1Share : null,
    decideP99Ms: decide ? decide.decide.latencyMs.p99 : null,
    decideFloorP99Ms: decide ? decide.floor.latencyMs.p99 : null,
    decideAimP99Ms: AIM.decideP99Ms,
    decideMeetsAim: decide
      ? decide.decide.latencyMs.p99 <= AIM.decideP99Ms && decide.decide.non2xx === 0 && decide.decide.errors === 0 && decide.decide.timeouts === 0
      : null,
  },
  totalS: round((performance.now() - t0) / 1000, 1),
}
console.log(JSON.stringify(report, null, 2))
