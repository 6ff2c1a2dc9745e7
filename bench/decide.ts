// The `decide` scenario (the Decisions issue's benchmark): the profiles scenario's synthetic
// population of the demo program (from bench/.cache/, loaded there first when missing), the
// collector started on a copy of it as its own process with profiles kept in memory, then
// POST /v1/decide at a fixed rate for random patients of the population — web slot requests and
// next-contact requests on the outbound channels, with the secret key — beside the bare Hono
// floor loaded with the same requests at the same rate. See bench/README.md.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inQuietHours, loadPrograms } from '../analytics/index.ts'
import { generatePopulation, type SyntheticPatient } from '../population/index.ts'
import { ROOT, startChild, untilIdle, type Child } from './child.ts'
import { basicAuth, SECRET_KEY } from './events.ts'
import { pacedLoad, type PacedResult } from './paced-load.ts'
import { preparePopulation } from './population-cache.ts'
import { summarise, type CpuProfile } from './profile.ts'

/** The decide scenario's settings (run.ts parses them from BENCH_* variables). */
export interface DecideSpec {
  /** The population, as the profiles scenario takes it. */
  patients: number
  days: number
  seed: number
  /** Requests per second, and seconds of load. */
  rate: number
  durationS: number
  /** Share of web slot requests; the rest ask for the next contact on e-mail, SMS, call or print. */
  webShare: number
  /** Keep-alive sockets the load may open at most. */
  maxSockets: number
  drainTimeoutS: number
  keepData: boolean
  /** Load the population again even when the cache has it. */
  fresh: boolean
  /** Waits for the machine to go quiet (run.ts's BENCH_QUIET_WAIT_S); returns the busy cores last seen. Called before each measured load. */
  quiet: () => Promise<number | null>
  /** Runs the collector with `--cpu-prof` and adds its main thread's time by function over the measured load to the report. */
  cpuProfile: boolean
  /** More node flags for the collector (e.g. `--trace-gc`); with any, its output is written to `serverLog`. */
  nodeFlags: string[]
  /** Loads bench/stall-monitor.mjs into the collector and adds the event-loop gaps and GC pauses of the measured load to the report. */
  stalls: boolean
  serverLog: string
}

const PROGRAM = 'psoriasis-demo'
const SLOT = 'home-hero'
const OUTBOUND = ['email', 'sms', 'call', 'print'] as const
/** Seconds of load at the same rate before the measured run, so JIT compilation and first reads are not in it. */
const WARM_UP_S = 3
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (m: string) => console.error(`[bench] ${m}`)
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!, 2)

type Health = {
  status?: string
  events?: { inserted: number }
  spool?: { depthBytes: number }
  profiles?: { store: string; programs?: Array<{ program: string; ready: boolean; ids: number; waiting: number }> }
}

const health = async (url: string) => (await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).json()) as Health

/** Waits until /health is ok and the program's profiles are served from memory; returns the ids held. */
async function untilProfilesReady(url: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < end) {
    try {
      const h = await health(url)
      const p = h.profiles?.programs?.find((x) => x.program === PROGRAM)
      if (h.status === 'ok' && h.profiles?.store === 'memory' && p?.ready) return p.ids
      last = JSON.stringify(h.profiles)
    } catch (e) {
      last = (e as Error).message
    }
    await sleep(200)
  }
  throw new Error(`profiles of ${PROGRAM} not ready in memory at ${url} within ${timeoutMs} ms (last: ${last})`)
}

/**
 * The outbound channels each enrolled patient opted in to, recorded as the program's backend
 * would (`consent_updated`, secret key): the synthetic population draws them but sends no consent
 * event, and without a recorded grant every e-mail, SMS, call and print decision is suppressed.
 * Waits until the events have landed and the last patient's profile in memory shows the grant.
 */
async function grantConsent(url: string, patients: SyntheticPatient[], headers: Record<string, string>): Promise<{ events: number; s: number }> {
  const started = performance.now()
  const events = patients
    .filter((p) => p.enrolled && Object.values(p.channels).some(Boolean))
    .map((p) => ({
      type: 'track',
      messageId: randomUUID(),
      userId: p.patientId,
      event: 'consent_updated',
      properties: { consent: Object.fromEntries(Object.entries(p.channels).filter(([, v]) => v)) },
    }))
  const before = (await health(url)).events?.inserted ?? 0
  for (let i = 0; i < events.length; i += 500) {
    const body = JSON.stringify({ batch: events.slice(i, i + 500) })
    // Sent again after a failure: the message ids make a repeat harmless.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${url}/v1/batch`, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) }).catch((e: Error) => e)
      if (!(res instanceof Error) && res.status === 200) break
      if (attempt === 5) throw new Error(`POST /v1/batch (consent): ${res instanceof Error ? res.message : `${res.status} ${await res.text()}`}`)
      await sleep(1000)
    }
  }
  const last = events.at(-1)
  const end = Date.now() + 600_000
  while (last && Date.now() < end) {
    try {
      const h = await health(url)
      if (
        (h.events?.inserted ?? 0) >= before + events.length &&
        h.spool?.depthBytes === 0 &&
        h.profiles?.programs?.find((x) => x.program === PROGRAM)?.waiting === 0
      ) {
        const profile = (await (await fetch(`${url}/v1/profiles/${last.userId}`, { headers, signal: AbortSignal.timeout(30_000) })).json()) as {
          consent?: Record<string, { granted: boolean }>
        }
        if (Object.keys(last.properties.consent).every((ch) => profile.consent?.[ch]?.granted === true))
          return { events: events.length, s: round((performance.now() - started) / 1000, 1) }
      }
    } catch {
      // A busy collector (the refresh of every granted patient's profile) may answer late: ask again.
    }
    await sleep(500)
  }
  if (!last) return { events: 0, s: 0 }
  throw new Error('consent events did not reach the profiles within 600 s')
}

/** What the answers said, counted as they arrive. */
function answerCounter() {
  const from: Record<string, number> = {}
  const outcomes: Record<string, Record<string, number>> = {}
  const shownByRule: Record<string, number> = {}
  const considered: Record<string, number> = {}
  const ms: Record<'web' | 'outbound', number[]> = { web: [], outbound: [] }
  let notRecorded = 0
  let stageChanges = 0
  let unreadable = 0
  const onResponse = (status: number, body: string, latency: number) => {
    if (status !== 200) return
    let a: {
      profile?: string
      channel?: string
      recorded?: boolean
      stageChanges?: unknown[]
      decisions?: Array<{ outcome: string; rule?: string; considered?: Array<{ outcome: string; reason?: string }> }>
    }
    try {
      a = JSON.parse(body) as typeof a
    } catch {
      unreadable++
      return
    }
    const channel = a.channel ?? '?'
    from[a.profile ?? '?'] = (from[a.profile ?? '?'] ?? 0) + 1
    ms[channel === 'web' ? 'web' : 'outbound'].push(latency)
    if (a.recorded === false) notRecorded++
    stageChanges += a.stageChanges?.length ?? 0
    const o = (outcomes[channel] ??= {})
    for (const d of a.decisions ?? []) {
      o[d.outcome] = (o[d.outcome] ?? 0) + 1
      if (d.outcome === 'shown' && d.rule) shownByRule[d.rule] = (shownByRule[d.rule] ?? 0) + 1
      for (const c of d.considered ?? [])
        if (c.outcome !== 'shown') considered[`${c.outcome}:${c.reason ?? ''}`] = (considered[`${c.outcome}:${c.reason ?? ''}`] ?? 0) + 1
    }
  }
  const figures = () => {
    const answers = Object.values(from).reduce((s, n) => s + n, 0)
    const byKind = Object.fromEntries(
      Object.entries(ms).map(([k, v]) => {
        const sorted = [...v].sort((x, y) => x - y)
        return [k, { answers: v.length, latencyMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: quantile(sorted, 1) } }]
      }),
    )
    return {
      answeredFrom: from,
      memoryShare: answers ? round((from.memory ?? 0) / answers, 4) : null,
      byKind,
      outcomes,
      shownByRule,
      notShown: considered,
      stageChanges,
      notRecorded,
      unreadable,
    }
  }
  return { onResponse, figures }
}

const paced = (r: PacedResult) => ({
  sent: r.sent,
  answeredPerSec: r.answeredPerSec,
  latencyMs: r.latencyMs,
  non2xx: r.non2xx,
  statusCodes: r.statusCodes,
  errors: r.errors,
  timeouts: r.timeouts,
  maxInFlight: r.maxInFlight,
  generator: r.generator,
  slowEpisodes: r.slowEpisodes,
  sendLagMs: r.sendLagMs,
  cpuCoresUnderLoad: r.cpuCoresUnderLoad,
})

type Stall = { kind: 'loop' | 'gc'; gc?: string; at: number; mono?: number; ms: number }

/** The collector's event-loop gaps and GC pauses (bench/stall-monitor.mjs) logged between two wall-clock times. */
function stallsIn(output: string, from: number, to: number): Stall[] {
  const tag = '[attune-stall] '
  const all: Stall[] = []
  for (const line of output.split('\n')) {
    const i = line.indexOf(tag)
    if (i < 0) continue
    try {
      all.push(JSON.parse(line.slice(i + tag.length)) as Stall)
    } catch {
      // A line cut by the process's exit: not counted.
    }
  }
  return all.filter((s) => s.at >= from && s.at <= to)
}

/** Stalls from `from` on: counts, totals, the longest, GC pauses by kind, and the five worst with their second. */
function summariseStalls(stalls: Stall[], from: number) {
  const sum = (xs: Stall[]) => ({
    count: xs.length,
    totalMs: round(
      xs.reduce((n, s) => n + s.ms, 0),
      1,
    ),
    maxMs: xs.reduce((m, s) => Math.max(m, s.ms), 0),
  })
  const gc = stalls.filter((s) => s.kind === 'gc')
  return {
    loopGapsOver20Ms: sum(stalls.filter((s) => s.kind === 'loop')),
    gcPausesOver10Ms: { ...sum(gc), byKind: Object.fromEntries([...new Set(gc.map((s) => s.gc!))].map((k) => [k, sum(gc.filter((s) => s.gc === k))])) },
    worst: [...stalls]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((s) => ({ kind: s.kind, ...(s.gc ? { gc: s.gc } : {}), atS: round((s.at - from) / 1000, 2), ms: s.ms })),
  }
}

/** The event-loop gaps as spans on the CPU profile's clock (µs). */
const loopGapSpans = (stalls: Stall[]) =>
  stalls.filter((s) => s.kind === 'loop' && s.mono !== undefined).map((s) => ({ fromUs: s.mono!, toUs: s.mono! + s.ms * 1000 }))

/**
 * The collector main thread's time by function over the measured load (the profile ends at its
 * exit, `ended` ms before now) and, given the stall monitor's event-loop gaps (µs on the profile's
 * own clock), the time by function inside those gaps alone: what held the answers back.
 */
function summariseRun(profDir: string, started: number, ended: number, gaps: Array<{ fromUs: number; toUs: number }> = []) {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
  const file = readdirSync(profDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  if (!file) throw new Error(`no CPU profile written in ${profDir}`)
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile
  const underLoad = summarise(profile, { fromEndUs: (performance.now() - ended) * 1000, lengthUs: (ended - started) * 1000 })
  if (gaps.length === 0) return underLoad
  return { ...underLoad, inLoopGaps: summarise(profile, { spans: gaps }, 20) }
}

/** Runs the decide scenario and returns its figures (the report's `decide`). */
export async function runDecide(spec: DecideSpec) {
  const program = loadPrograms(join(ROOT, 'programs'), {}).find((p) => p.program.id === PROGRAM)!.program
  const dataDir = mkdtempSync(join(tmpdir(), 'attune-bench-decide-'))
  let server: Child | null = null
  try {
    const pop = await preparePopulation({ patients: spec.patients, days: spec.days, seed: spec.seed }, program, dataDir, spec.fresh)
    const { loaded } = pop
    log(
      `decide: ${loaded.inserted.toLocaleString('en-US')} events of ${spec.patients.toLocaleString('en-US')} patients × ${spec.days} days ${pop.cache.used ? `from the cache (copied in ${pop.cache.copyS} s)` : `loaded in ${round(loaded.loadS, 1)} s`}`,
    )
    // The population's patients, drawn again from the options it was loaded with.
    const patients = generatePopulation({ program, patients: spec.patients, days: spec.days, seed: spec.seed, now: pop.now }).patients
    const ids = patients.filter((p) => p.enrolled).map((p) => p.patientId)
    const body = () => {
      const userId = ids[Math.floor(Math.random() * ids.length)]!
      return Math.random() < spec.webShare
        ? `{"userId":"${userId}","channel":"web","slots":["${SLOT}"]}`
        : `{"userId":"${userId}","channel":"${OUTBOUND[Math.floor(Math.random() * OUTBOUND.length)]!}"}`
    }
    const headers = { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' }

    const t1 = performance.now()
    // The landed-id filter sized above the population's ids: at its default (10 million) the
    // start-up fill of a 10-million-event directory ends over capacity, and the first insert
    // after it (the first decisions) starts a second full fill — minutes of parsing ids on the
    // event loop, in the middle of the load (see the report's notes on landed-ids.ts).
    const landedFilterIds = String(Math.max(10_000_000, 2 * loaded.inserted))
    const profDir = join(dataDir, 'cpu-profile')
    server = await startChild(
      'collector/src/server.ts',
      {
        ATTUNE_DATA: dataDir,
        ATTUNE_DEMO_SEED: '0',
        ATTUNE_PROFILE_STORE: '1',
        ATTUNE_LANDED_FILTER_IDS: landedFilterIds,
        ATTUNE_SHUTDOWN_TIMEOUT_MS: String(spec.drainTimeoutS * 1000),
      },
      [
        ...(spec.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
        ...(spec.stalls ? ['--import', join(ROOT, 'bench', 'stall-monitor.mjs')] : []),
        ...spec.nodeFlags,
      ],
    )
    const idleBelow = spec.cpuProfile ? 0.4 : 0.1
    const profileIds = await untilProfilesReady(server.url, 900_000)
    const readyS = (performance.now() - t1) / 1000
    // After the profiles, start-up goes on: a clustering round and the landed-id filter (filled
    // from every stored id) keep the collector busy, at times for seconds on end.
    log(`decide: collector up, ${profileIds} ids' profiles in memory after ${round(readyS, 1)} s; waiting for it to go idle`)
    const t2 = performance.now()
    await untilIdle(server.child.pid, 900, idleBelow)
    const startIdleS = (performance.now() - t2) / 1000
    log(`decide: idle after ${round(startIdleS, 1)} s more; recording the patients' consent`)
    const consentStartedAt = Date.now()
    const consent = await grantConsent(server.url, patients, headers)
    const consentEndedAt = Date.now()
    log(`decide: ${consent.events} consent events in the profiles after ${consent.s} s; waiting for the collector to go idle`)
    const t3 = performance.now()
    const idleCores = await untilIdle(server.child.pid, 300, idleBelow)
    const idleWaitS = (performance.now() - t3) / 1000

    const busyBefore = await spec.quiet()
    const warm = await pacedLoad({ url: server.url, path: '/v1/decide', headers, body, rate: spec.rate, durationS: WARM_UP_S, maxSockets: spec.maxSockets })
    log(`decide: warm-up ${warm.sent} requests, p99 ${warm.latencyMs.p99} ms; now ${spec.rate} req/s for ${spec.durationS} s`)
    const counter = answerCounter()
    const runStartedAt = Date.now()
    const runStarted = performance.now()
    const run = await pacedLoad({
      url: server.url,
      path: '/v1/decide',
      headers,
      body,
      rate: spec.rate,
      durationS: spec.durationS,
      maxSockets: spec.maxSockets,
      serverPid: server.child.pid,
      onResponse: counter.onResponse,
    })
    const runEnded = performance.now()
    const runEndedAt = Date.now()
    const answers = counter.figures()
    log(
      `decide: p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms, max ${run.latencyMs.max} ms, ${run.non2xx} non-2xx, ${answers.memoryShare} from memory`,
    )
    server.child.kill('SIGTERM')
    const exit = await server.exited
    const runStalls = spec.stalls ? stallsIn(server.output(), runStartedAt, runEndedAt) : null
    const stalls = runStalls ? summariseStalls(runStalls, runStartedAt) : undefined
    // The same while the consent updates were ingested and every updated profile read again (a burst of refreshes).
    const consentStalls = spec.stalls ? summariseStalls(stallsIn(server.output(), consentStartedAt, consentEndedAt), consentStartedAt) : undefined
    if (spec.nodeFlags.length > 0) {
      writeFileSync(spec.serverLog, server.output())
      log(`decide: the collector's output is in ${spec.serverLog}`)
    }
    server = null
    const cpuProfile = spec.cpuProfile ? summariseRun(profDir, runStarted, runEnded, runStalls ? loopGapSpans(runStalls) : []) : undefined

    // The floor gets the same requests at the same rate.
    const floorBusyBefore = await spec.quiet()
    const floor = await startChild('bench/floor.ts', {})
    let floorRun: PacedResult
    try {
      floorRun = await pacedLoad({
        url: floor.url,
        path: '/v1/decide',
        headers,
        body,
        rate: spec.rate,
        durationS: spec.durationS,
        maxSockets: spec.maxSockets,
        serverPid: floor.child.pid,
      })
    } finally {
      floor.child.kill('SIGTERM')
      await floor.exited
    }
    log(`decide: floor p50 ${floorRun.latencyMs.p50} ms, p99 ${floorRun.latencyMs.p99} ms`)

    return {
      program: PROGRAM,
      population: {
        patients: spec.patients,
        enrolledPatients: ids.length,
        days: spec.days,
        seed: spec.seed,
        eventsLoaded: loaded.inserted,
        loadS: round(loaded.loadS, 1),
        buildS: pop.buildS === null ? null : round(pop.buildS, 1),
        cache: pop.cache,
      },
      collectorReadyS: round(readyS, 1),
      profileStoreIds: profileIds,
      consentEvents: consent.events,
      consentS: consent.s,
      startIdleS: round(startIdleS, 1),
      idleWaitS: round(idleWaitS, 1),
      serverCoresBeforeLoad: idleCores,
      machineBusyCoresBefore: busyBefore,
      settings: {
        rate: spec.rate,
        durationS: spec.durationS,
        webShare: spec.webShare,
        slot: SLOT,
        outboundChannels: OUTBOUND,
        maxSockets: spec.maxSockets,
        landedFilterIds: Number(landedFilterIds),
        // E-mail, SMS and calls are suppressed in the program's quiet hours: the answers differ by time of day.
        quietHours: inQuietHours(Date.now(), program.timeZone, program.contactPolicy.quietHours.from, program.contactPolicy.quietHours.to),
      },
      warmUp: { sent: warm.sent, latencyMs: warm.latencyMs, non2xx: warm.non2xx },
      decide: { ...paced(run), ...answers },
      floor: {
        server: 'bare Hono on @hono/node-server, reads the body, answers 204 (bench/floor.ts)',
        ...paced(floorRun),
        machineBusyCoresBefore: floorBusyBefore,
      },
      p99VsFloorP99: floorRun.latencyMs.p99 > 0 ? round(run.latencyMs.p99 / floorRun.latencyMs.p99, 1) : null,
      serverExit: exit,
      ...(cpuProfile ? { cpuProfile } : {}),
      ...(stalls ? { stalls } : {}),
      ...(consentStalls ? { stallsWhileConsentLanded: consentStalls } : {}),
    }
  } finally {
    if (server) {
      server.child.kill('SIGKILL')
      await server.exited
    }
    if (!spec.keepData) rmSync(dataDir, { recursive: true, force: true })
    else log(`decide: data kept in ${dataDir}`)
  }
}
