// The `profiles` scenario (the Profiles issue's benchmark): a synthetic population of the demo
// program (100,000 patients and about 10 million events by default) loaded through the fast path
// in a child process (one chdb engine per process) and kept in bench/.cache/ between runs, then
// the collector started on a copy of it as its own process and measured from outside once
// /health says its profiles are ready: profile read latency under load, ingestion → visible
// profile change, and need inference against the population's hidden true needs, before and after
// a questionnaire. See bench/README.md.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { loadPrograms, matchesUrlPattern, type Program } from '../analytics/index.ts'
import { generatePopulation } from '../population/index.ts'
import { cpuSeconds, machineBusySeconds, ROOT, startChild, untilIdle, type Child } from './child.ts'
import { basicAuth, SECRET_KEY } from './events.ts'
import { preparePopulation } from './population-cache.ts'

// The decide scenario loads its population with the same loader.
export { loadInChild } from './population-cache.ts'

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
  /** Load the population again even when the cache has it. */
  fresh: boolean
}

const PROGRAM = 'psoriasis-demo'
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (m: string) => console.error(`[bench] ${m}`)
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) n += dirBytes(p)
    else if (e.isFile()) n += statSync(p).size
  }
  return n
}

type Health = { status?: string; profiles?: { store: string; programs?: Array<{ program: string; ready: boolean; ids: number }> } }

/** Waits until /health says ok and the program's profiles are ready (in memory, or the store is off); returns what it said of them. */
async function untilReady(url: string, timeoutMs: number): Promise<Health['profiles'] | null> {
  const end = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < end) {
    try {
      const h = (await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).json()) as Health
      if (h.status === 'ok' && (h.profiles?.store !== 'memory' || h.profiles.programs?.find((p) => p.program === PROGRAM)?.ready)) return h.profiles ?? null
      last = JSON.stringify(h.profiles ?? h.status)
    } catch (e) {
      last = (e as Error).message
    }
    await sleep(200)
  }
  throw new Error(`collector at ${url} not ready within ${timeoutMs} ms (last: ${last})`)
}

type NeedRow = { need: string; score: number; explicit: number | null; inferred: number }
type ProfileBody = { needs: NeedRow[]; profiledTouches: number; pattern: { id: string } | null }

async function readProfile(url: string, patientId: string): Promise<ProfileBody> {
  const res = await fetch(`${url}/v1/profiles/${encodeURIComponent(patientId)}`, {
    headers: { authorization: basicAuth(SECRET_KEY) },
    signal: AbortSignal.timeout(30_000),
  })
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

/** The need with the highest inferred score, or null when no need has any. */
function topInferred(needs: NeedRow[]): string | null {
  let best: NeedRow | null = null
  for (const n of needs) if (n.inferred > 0 && (!best || n.inferred > best.inferred)) best = n
  return best?.need ?? null
}

/**
 * Need inference against the hidden truth, on `sample` patients evenly spaced over the population.
 * Eligible (as population/src/direct-load.test.ts): enrolled, hidden top need leading
 * the second by ≥ 0.15, ≥ `patternMinTouches` touches of catalogued content; for them, whether
 * the hidden top need is among the two highest inferred needs, and the highest. The
 * questionnaire figures: among enrolled patients with a clear hidden top need whose profile has
 * an explicit need (they answered a needs questionnaire), whether the hidden top need is the
 * highest inferred need ("before": what the profile would say without the answers) and the
 * profile's first need ("after": explicit needs outrank inferred ones). "Before" is read from the
 * profile's inferred scores now, so touches after the answers count in it too.
 */
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
  const answered = { all: 0, before: 0, after: 0, eligible: 0, eligibleBefore: 0, eligibleAfter: 0 }
  const started = performance.now()
  for (const i of picked) {
    const p = patients[i]
    if (!p) continue
    if (!p.enrolled || p.topMargin < 0.15) {
      skippedUnclear++
      continue
    }
    const profile = await readProfile(url, p.patientId)
    const enough = profile.profiledTouches >= (program.patternMinTouches ?? 3)
    if (profile.needs.some((n) => n.explicit !== null)) {
      const before = topInferred(profile.needs) === p.topNeed
      const after = profile.needs[0]?.need === p.topNeed
      answered.all++
      answered.before += Number(before)
      answered.after += Number(after)
      if (enough) {
        answered.eligible++
        answered.eligibleBefore += Number(before)
        answered.eligibleAfter += Number(after)
      }
    }
    if (!enough) {
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
  const share = (n: number, of: number) => (of ? round(n / of) : null)
  return {
    sampled: picked.size,
    notEnrolledOrUnclearTopNeed: skippedUnclear,
    fewerContentTouches: skippedFewTouches,
    eligible,
    topNeedInTop2: top2,
    topNeedInTop2Share: share(top2, eligible),
    topNeedIsTop1Share: share(top1, eligible),
    nearestPatternIsHiddenShare: share(patternFound, withPattern),
    questionnaire: {
      answered: answered.all,
      topNeedBeforeShare: share(answered.before, answered.all),
      topNeedAfterShare: share(answered.after, answered.all),
      answeredEligible: answered.eligible,
      eligibleTopNeedBeforeShare: share(answered.eligibleBefore, answered.eligible),
      eligibleTopNeedAfterShare: share(answered.eligibleAfter, answered.eligible),
    },
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
      body: JSON.stringify({
        messageId: randomUUID(),
        userId: patientId,
        name: 'bench probe',
        timestamp: new Date().toISOString(),
        context: { page: { path: item.path, url: `http://localhost:5173${item.path}` } },
      }),
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
  let server: Child | null = null
  try {
    const pop = await preparePopulation(spec, program, dataDir, spec.fresh)
    const { loaded } = pop
    log(
      `profiles: ${loaded.inserted.toLocaleString('en-US')} events of ${spec.patients.toLocaleString('en-US')} patients × ${spec.days} days ${pop.cache.used ? `from the cache (copied in ${pop.cache.copyS} s)` : `loaded in ${round(loaded.loadS, 1)} s (${Math.round(loaded.inserted / loaded.loadS)} events/s)`}`,
    )
    // The hidden truth, regenerated here from the options the population was loaded with (patients are drawn eagerly, events lazily).
    const population = generatePopulation({ program, patients: spec.patients, days: spec.days, seed: spec.seed, now: pop.now })
    const known = population.patients.filter((p) => p.enrolled).map((p) => p.patientId)

    const t1 = performance.now()
    server = await startChild('collector/src/server.ts', {
      ATTUNE_DATA: dataDir,
      ATTUNE_DEMO_SEED: '0',
      ATTUNE_SHUTDOWN_TIMEOUT_MS: String(spec.drainTimeoutS * 1000),
    })
    const profilesState = await untilReady(server.url, 1_800_000)
    const readyS = (performance.now() - t1) / 1000
    log(`profiles: collector ready in ${round(readyS, 1)} s (profiles: ${JSON.stringify(profilesState)}); waiting for it to go idle`)
    const t2 = performance.now()
    const idleCores = await untilIdle(server.child.pid, 300)
    const idleWaitS = (performance.now() - t2) / 1000
    log(`profiles: reading profiles for ${spec.durationS} s with ${spec.connections} connections`)
    // Warm-up: a few reads so the first autocannon requests do not pay for cold caches alone.
    for (let i = 0; i < 5; i++) await readProfile(server.url, known[i % known.length]!)
    const reads = await readLoad(server.url, known, spec, server.child.pid)
    log(`profiles: ${reads.requestsPerSec} req/s, p99 ${reads.latencyMs.p99} ms`)
    log(`profiles: need-inference accuracy on ${spec.accuracySample} patients`)
    const acc = await accuracy(server.url, program, population.patients, spec.accuracySample)
    log(
      `profiles: hidden top need in top 2 for ${acc.topNeedInTop2}/${acc.eligible}; top need before/after a questionnaire ${acc.questionnaire.topNeedBeforeShare}/${acc.questionnaire.topNeedAfterShare} (${acc.questionnaire.answered} answered)`,
    )
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
        generatedFor: new Date(pop.now).toISOString(),
        eventsGenerated: loaded.events,
        eventsLoaded: loaded.inserted,
        eventsPerPatient: spec.patients ? round(loaded.inserted / spec.patients, 1) : null,
        duplicates: loaded.duplicates,
        rejected: loaded.rejected,
        refused: loaded.refused,
        quarantined: loaded.quarantined,
        loadS: round(loaded.loadS, 1),
        eventsLoadedPerSec: loaded.loadS > 0 ? Math.round(loaded.inserted / loaded.loadS) : null,
        loadCpuCores: loaded.cpuCores === undefined ? null : round(loaded.cpuCores, 2),
        buildS: pop.buildS === null ? null : round(pop.buildS, 1),
        cache: pop.cache,
        dataBytes: dirBytes(dataDir),
      },
      collectorReadyS: round(readyS, 1),
      idleWaitS: round(idleWaitS, 1),
      serverCoresBeforeReads: idleCores,
      reads,
      visibility: vis,
      accuracy: acc,
      serverExit: exit,
    }
  } catch (e) {
    // A collector that failed under measurement says why in its own output.
    if (server) throw new Error(`${(e as Error).message}\ncollector output (end):\n${server.output().slice(-4000)}`, { cause: e })
    throw e
  } finally {
    if (server) {
      server.child.kill('SIGKILL')
      await server.exited
    }
    if (!spec.keepData) rmSync(dataDir, { recursive: true, force: true })
    else log(`profiles: data kept in ${dataDir}`)
  }
}
