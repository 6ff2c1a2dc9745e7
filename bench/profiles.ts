// The `profiles` scenario (the Profiles issue's benchmark): a synthetic population of the demo
// program loaded directly into a fresh data directory (in a child process: one chdb engine per
// process), then the collector started on it as its own process, and measured from outside:
// profile read latency under load, ingestion → visible profile change, and need-inference
// accuracy against the population's hidden true needs. See bench/README.md.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { loadPrograms, matchesUrlPattern, type Program } from '../analytics/index.ts'
import { generatePopulation } from '../collector/src/population/index.ts'
import { cpuSeconds, machineBusySeconds, ROOT, startChild, type Child } from './child.ts'
import { basicAuth, SECRET_KEY } from './events.ts'

export interface ProfilesSpec {
  patients: number
  days: number
  seed: number
  /** Profile reads: seconds and connections of the autocannon run. */
  durationS: number
  connections: number
  /** Patients whose profiles are compared with their hidden needs. */
  accuracySample: number
  /** Patients sent one page event each, whose profile is polled until it changes. */
  probes: number
  drainTimeoutS: number
  keepData: boolean
}

const PROGRAM = 'psoriasis-demo'
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (m: string) => console.error(`[bench] ${m}`)
const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!)

interface LoadFigures {
  events: number
  accepted: number
  inserted: number
  duplicates: number
  quarantined: number
  rejected: number
  refused: number
  requests: number
  loadS: number
  openS: number
  closeS: number
}

/** Runs bench/profiles-load.ts in a child process and returns its figures. */
function loadInChild(dir: string, spec: ProfilesSpec, now: number): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/profiles-load.ts')], {
      cwd: ROOT,
      env: { ...process.env, BENCH_PROFILE_DIR: dir, BENCH_PROFILE_PATIENTS: String(spec.patients), BENCH_PROFILE_DAYS: String(spec.days), BENCH_PROFILE_SEED: String(spec.seed), BENCH_PROFILE_NOW: String(now) },
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

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) n += dirBytes(p)
    else if (e.isFile()) n += statSync(p).size
  }
  return n
}

async function untilHealthy(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })
      if (((await res.json()) as { status?: string }).status === 'ok') return
    } catch {
      // not yet
    }
    await sleep(100)
  }
  throw new Error(`collector at ${url} not healthy within ${timeoutMs} ms`)
}

type NeedRow = { need: string; inferred: number }
type ProfileBody = { needs: NeedRow[]; profiledTouches: number; pattern: { id: string } | null }

async function readProfile(url: string, patientId: string): Promise<ProfileBody> {
  const res = await fetch(`${url}/v1/profiles/${encodeURIComponent(patientId)}`, { headers: { authorization: basicAuth(SECRET_KEY) }, signal: AbortSignal.timeout(30_000) })
  if (res.status !== 200) throw new Error(`GET /v1/profiles/${patientId}: ${res.status} ${await res.text()}`)
  return (await res.json()) as ProfileBody
}

/** autocannon GETs of random known patients' profiles, with the CPU accounting of bench/load.ts. */
async function readLoad(url: string, ids: string[], spec: ProfilesSpec, serverPid: number | undefined) {
  const auth = basicAuth(SECRET_KEY)
  const cpu0 = process.cpuUsage()
  const srv0 = cpuSeconds(serverPid)
  const all0 = machineBusySeconds()
  const started = performance.now()
  const r = await autocannon({
    url,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 30,
    requests: [
      {
        method: 'GET',
        path: '/v1/profiles/x',
        headers: { authorization: auth },
        setupRequest: (req) => {
          req.path = `/v1/profiles/${ids[Math.floor(Math.random() * ids.length)]!}`
          return req
        },
      },
    ],
  })
  const wallS = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  const srv1 = cpuSeconds(serverPid)
  const all1 = machineBusySeconds()
  const benchCores = (cpu.user + cpu.system) / 1e6 / wallS
  const serverCores = srv0 !== null && srv1 !== null ? (srv1 - srv0) / wallS : null
  const requests = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx']
  return {
    connections: spec.connections,
    durationS: round(r.duration),
    requests,
    requestsPerSec: Math.round(requests / r.duration),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: round(r.latency.mean, 2) },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    cpuCoresUnderLoad: {
      loadGenerator: round(benchCores, 2),
      server: serverCores === null ? null : round(serverCores, 2),
      other: all0 !== null && all1 !== null ? round(Math.max(0, (all1 - all0) / wallS - benchCores - (serverCores ?? 0)), 2) : null,
    },
  }
}

/** Share of eligible patients whose hidden top need is among the top 2 (and the top 1) inferred; as collector/src/population/direct-load.test.ts. */
async function accuracy(url: string, program: Program, patients: ReturnType<typeof generatePopulation>['patients'], sample: number) {
  const step = Math.max(1, patients.length / sample)
  const picked = new Set<number>()
  for (let i = 0; i < patients.length && picked.size < sample; i++) picked.add(Math.floor(i * step))
  let eligible = 0
  let top2 = 0
  let top1 = 0
  let withPattern = 0
  let patternFound = 0
  let skippedUnclear = 0
  let skippedFewTouches = 0
  const started = performance.now()
  for (const i of picked) {
    const p = patients[i]
    if (!p) continue
    if (!p.enrolled || p.topMargin < 0.15) {
      skippedUnclear++
      continue
    }
    const profile = await readProfile(url, p.patientId)
    if (profile.profiledTouches < (program.patternMinTouches ?? 3)) {
      skippedFewTouches++
      continue
    }
    eligible++
    const order = [...profile.needs].sort((a, b) => b.inferred - a.inferred).map((n) => n.need)
    if (order.slice(0, 2).includes(p.topNeed)) top2++
    if (order[0] === p.topNeed) top1++
    if (p.pattern) {
      withPattern++
      if (profile.pattern?.id === p.pattern) patternFound++
    }
  }
  return {
    sampled: picked.size,
    notEnrolledOrUnclearTopNeed: skippedUnclear,
    fewerContentTouches: skippedFewTouches,
    eligible,
    topNeedInTop2: top2,
    topNeedInTop2Share: eligible ? round(top2 / eligible) : null,
    topNeedIsTop1Share: eligible ? round(top1 / eligible) : null,
    nearestPatternIsHiddenShare: withPattern ? round(patternFound / withPattern) : null,
    readS: round((performance.now() - started) / 1000),
  }
}

/** For each probe patient: one page event, then the profile every 50 ms until the content's top need grows. */
async function visibility(url: string, program: Program, ids: string[], probes: number) {
  // Items reachable by a literal URL pattern that matches only them.
  const items = program.content
    .map((c) => {
      const path = c.urlPatterns.find((p) => !p.includes('*') && program.content.filter((o) => o.urlPatterns.some((q) => matchesUrlPattern(q, p))).length === 1)
      const top = Object.entries(c.needs).sort((a, b) => b[1] - a[1])[0]
      return path && top ? { id: c.id, path, need: top[0] } : null
    })
    .filter((x) => x !== null)
  if (items.length === 0) throw new Error('no catalogue item with a literal URL pattern of its own')
  const secondsToVisible: number[] = []
  const timedOut: string[] = []
  const probed: Array<{ patientId: string; content: string; need: string; s: number | null }> = []
  for (let k = 0; k < probes; k++) {
    const patientId = ids[Math.floor(Math.random() * ids.length)]!
    const item = items[k % items.length]!
    const before = (await readProfile(url, patientId)).needs.find((n) => n.need === item.need)?.inferred ?? 0
    const t0 = performance.now()
    const res = await fetch(`${url}/v1/page`, {
      method: 'POST',
      headers: { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ messageId: randomUUID(), userId: patientId, name: 'bench probe', timestamp: new Date().toISOString(), context: { page: { path: item.path, url: `http://localhost:5173${item.path}` } } }),
    })
    if (res.status !== 200) throw new Error(`POST /v1/page: ${res.status} ${await res.text()}`)
    let s: number | null = null
    const deadline = t0 + 30_000
    while (performance.now() < deadline) {
      const now = (await readProfile(url, patientId)).needs.find((n) => n.need === item.need)?.inferred ?? 0
      if (now > before + 1e-6) {
        s = (performance.now() - t0) / 1000
        break
      }
      await sleep(50)
    }
    probed.push({ patientId, content: item.id, need: item.need, s: s === null ? null : round(s) })
    if (s === null) timedOut.push(patientId)
    else secondsToVisible.push(s)
  }
  const sorted = [...secondsToVisible].sort((a, b) => a - b)
  return {
    probes,
    visible: sorted.length,
    timedOut: timedOut.length,
    medianS: sorted.length ? round(quantile(sorted, 0.5)!) : null,
    maxS: sorted.length ? round(sorted[sorted.length - 1]!) : null,
    probed,
  }
}

export async function runProfiles(spec: ProfilesSpec) {
  const programs = loadPrograms(join(ROOT, 'programs'), {})
  const program = programs.find((p) => p.program.id === PROGRAM)!.program
  const dataDir = mkdtempSync(join(tmpdir(), 'attune-bench-profiles-'))
  const now = Date.now()
  let server: Child | null = null
  try {
    log(`profiles: loading ${spec.patients} patients × ${spec.days} days directly (child process)`)
    const t0 = performance.now()
    const loaded = await loadInChild(dataDir, spec, now)
    const buildS = (performance.now() - t0) / 1000
    log(`profiles: ${loaded.inserted} events in ${round(loaded.loadS, 1)} s`)
    // The hidden truth, regenerated here from the same options (patients are drawn eagerly, events lazily).
    const population = generatePopulation({ program, patients: spec.patients, days: spec.days, seed: spec.seed, now })
    const known = population.patients.filter((p) => p.enrolled).map((p) => p.patientId)

    const t1 = performance.now()
    server = await startChild('collector/src/server.ts', { ATTUNE_DATA: dataDir, ATTUNE_DEMO_SEED: '0', ATTUNE_SHUTDOWN_TIMEOUT_MS: String(spec.drainTimeoutS * 1000) })
    await untilHealthy(server.url, 600_000)
    const startS = (performance.now() - t1) / 1000
    log(`profiles: collector up in ${round(startS, 1)} s; reading profiles for ${spec.durationS} s with ${spec.connections} connections`)
    // Warm-up: a few reads so the first autocannon requests do not pay for cold caches alone.
    for (let i = 0; i < 5; i++) await readProfile(server.url, known[i % known.length]!)
    const reads = await readLoad(server.url, known, spec, server.child.pid)
    log(`profiles: ${reads.requestsPerSec} req/s, p99 ${reads.latencyMs.p99} ms`)
    log(`profiles: need-inference accuracy on ${spec.accuracySample} patients`)
    const acc = await accuracy(server.url, program, population.patients, spec.accuracySample)
    log(`profiles: hidden top need in top 2 for ${acc.topNeedInTop2}/${acc.eligible}`)
    log(`profiles: ingestion → visible profile change for ${spec.probes} patients`)
    const vis = await visibility(server.url, program, known, spec.probes)
    log(`profiles: visible after median ${vis.medianS} s, max ${vis.maxS} s`)

    server.child.kill('SIGTERM')
    const exit = await server.exited
    server = null
    return {
      program: PROGRAM,
      population: {
        patients: spec.patients,
        enrolledPatients: known.length,
        days: spec.days,
        seed: spec.seed,
        eventsGenerated: loaded.events,
        eventsLoaded: loaded.inserted,
        eventsPerPatient: spec.patients ? round(loaded.inserted / spec.patients, 1) : null,
        duplicates: loaded.duplicates,
        rejected: loaded.rejected,
        refused: loaded.refused,
        quarantined: loaded.quarantined,
        loadS: round(loaded.loadS, 1),
        eventsLoadedPerSec: loaded.loadS > 0 ? Math.round(loaded.inserted / loaded.loadS) : null,
        buildS: round(buildS, 1),
        dataBytes: dirBytes(dataDir),
      },
      collectorStartS: round(startS, 1),
      reads,
      visibility: vis,
      accuracy: acc,
      serverExit: exit,
    }
  } finally {
    if (server) {
      server.child.kill('SIGKILL')
      await server.exited
    }
    if (!spec.keepData) rmSync(dataDir, { recursive: true, force: true })
    else log(`profiles: data kept in ${dataDir}`)
  }
}
