// Load at a fixed request rate, open loop: request i is sent at start + i / rate whether or not
// earlier ones have been answered (on another keep-alive socket when every open one is busy), and
// its latency runs from the moment it was handed to node:http until the last byte of the answer,
// with sub-millisecond resolution. autocannon's `overallRate` is not this: each connection sends
// its per-second allotment back to back at the start of every second and then waits (so 500 req/s
// arrive as bursts), and it "corrects" for coordinated omission with an expected interval of
// ceil(1 / per-connection rate) = 1 ms. The CPU accounting is that of load.ts.
import { Agent, request } from 'node:http'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { cpuSeconds, machineBusySeconds } from './child.ts'

/** What to send, how often, for how long. */
export interface PacedSpec {
  url: string
  path: string
  headers: Record<string, string>
  /** Called once per request, at its scheduled time. */
  body: () => string
  /** Requests per second. */
  rate: number
  durationS: number
  /** Keep-alive sockets at most; a request finding all of them busy waits (and the wait counts in its latency). */
  maxSockets: number
  /** Process whose CPU use over the run is reported as `server`. */
  serverPid?: number
  /** Each answer's status, body and latency in ms (e.g. to count what the server said). */
  onResponse?: (status: number, body: string, ms: number) => void
}

/** A paced run's figures. Latencies are of 2xx answers. */
export interface PacedResult {
  rate: number
  durationS: number
  sent: number
  /** Answers per second over the run (from the first send to the last answer). */
  answeredPerSec: number
  ok2xx: number
  non2xx: number
  statusCodes: Record<string, number>
  /** Requests that failed without an answer (timeouts apart). */
  errors: number
  timeouts: number
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number }
  /** How late the generator sent, against the schedule: its own lag, not the server's. */
  sendLagMs: { p99: number; max: number }
  /** Requests in flight at once, at most (each on its own socket). */
  maxInFlight: number
  /**
   * The generator's own hold-ups, which land in the latencies as if the server had caused them:
   * its event loop's delay and its garbage-collection pauses over 5 ms.
   */
  generator: { loopDelayMs: { p99: number; max: number }; gcOver5Ms: { count: number; maxMs: number } }
  /**
   * Answers slower than SLOW_MS, grouped into episodes (sent within 100 ms of the previous slow
   * one), the five with most answers: when in the run (s after the first send), how many, the slowest.
   */
  slowEpisodes: Array<{ atS: number; answers: number; maxMs: number }>
  cpuCoresUnderLoad: { loadGenerator: number; server: number | null; other: number | null }
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d
/** Nearest-rank quantile of sorted samples. */
const quantile = (sorted: Float64Array, q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
const TIMEOUT_MS = 30_000
/** An answer slower than this counts in `slowEpisodes` (the decide aim's p99). */
const SLOW_MS = 10

/** Groups the slow answers (send time and latency, ms, in send order) into episodes, largest first. */
function episodes(sentAt: Float64Array, latency: Float64Array, n: number): PacedResult['slowEpisodes'] {
  const out: PacedResult['slowEpisodes'] = []
  let last = -Infinity
  for (let k = 0; k < n; k++) {
    if (!(latency[k]! > SLOW_MS)) continue
    const cur = out.at(-1)
    if (cur && sentAt[k]! - last <= 100) {
      cur.answers++
      cur.maxMs = Math.max(cur.maxMs, round(latency[k]!))
    } else out.push({ atS: round(sentAt[k]! / 1000), answers: 1, maxMs: round(latency[k]!) })
    last = sentAt[k]!
  }
  return out.sort((a, b) => b.answers - a.answers).slice(0, 5)
}

/** Sends `rate × durationS` POSTs to `spec.url + spec.path` at a fixed pace and waits for every answer. */
export function pacedLoad(spec: PacedSpec): Promise<PacedResult> {
  const target = new URL(spec.path, spec.url)
  const agent = new Agent({ keepAlive: true, maxSockets: spec.maxSockets })
  const total = Math.round(spec.rate * spec.durationS)
  const interval = 1000 / spec.rate
  const latencies = new Float64Array(total)
  const lags = new Float64Array(total)
  // Per request in send order (NaN: no 2xx answer), for the slow episodes.
  const sentAt = new Float64Array(total)
  const bySend = new Float64Array(total).fill(NaN)
  const loopDelay = monitorEventLoopDelay({ resolution: 2 })
  let gcOver5 = 0
  let gcMax = 0
  const gcWatch = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration > 5) gcOver5++
      gcMax = Math.max(gcMax, e.duration)
    }
  })
  const statusCodes: Record<string, number> = {}
  let ok = 0
  let answered = 0
  let errors = 0
  let timeouts = 0
  let inFlight = 0
  let maxInFlight = 0

  return new Promise((resolve) => {
    loopDelay.enable()
    gcWatch.observe({ entryTypes: ['gc'] })
    const cpu0 = process.cpuUsage()
    const srv0 = cpuSeconds(spec.serverPid)
    const all0 = machineBusySeconds()
    const start = performance.now() + 20
    let lastAnswer = start
    let i = 0
    let settled = 0
    const finish = () => {
      const wallS = (performance.now() - start) / 1000
      const cpu = process.cpuUsage(cpu0)
      const srv1 = cpuSeconds(spec.serverPid)
      const all1 = machineBusySeconds()
      agent.destroy()
      loopDelay.disable()
      gcWatch.disconnect()
      const benchCores = (cpu.user + cpu.system) / 1e6 / wallS
      const serverCores = srv0 !== null && srv1 !== null ? (srv1 - srv0) / wallS : null
      const ms = latencies.subarray(0, ok).sort()
      const lag = lags.subarray(0, i).sort()
      resolve({
        rate: spec.rate,
        durationS: spec.durationS,
        sent: i,
        answeredPerSec: Math.round(answered / ((lastAnswer - start) / 1000)),
        ok2xx: ok,
        non2xx: answered - ok,
        statusCodes,
        errors,
        timeouts,
        latencyMs: {
          p50: round(quantile(ms, 0.5)),
          p90: round(quantile(ms, 0.9)),
          p99: round(quantile(ms, 0.99)),
          p999: round(quantile(ms, 0.999)),
          max: round(ms[ms.length - 1] ?? 0),
          mean: round(ms.reduce((s, x) => s + x, 0) / (ms.length || 1)),
        },
        sendLagMs: { p99: round(quantile(lag, 0.99)), max: round(lag[lag.length - 1] ?? 0) },
        maxInFlight,
        generator: {
          loopDelayMs: { p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
          gcOver5Ms: { count: gcOver5, maxMs: round(gcMax) },
        },
        slowEpisodes: episodes(sentAt, bySend, i),
        cpuCoresUnderLoad: {
          loadGenerator: round(benchCores),
          server: serverCores === null ? null : round(serverCores),
          other: all0 !== null && all1 !== null ? round(Math.max(0, (all1 - all0) / wallS - benchCores - (serverCores ?? 0))) : null,
        },
      })
    }
    const send = (k: number, scheduled: number) => {
      const body = spec.body()
      const t0 = performance.now()
      lags[k] = t0 - scheduled
      sentAt[k] = t0 - start
      maxInFlight = Math.max(maxInFlight, ++inFlight)
      let over = false
      let timedOut = false
      const done = () => {
        if (over) return
        over = true
        inFlight--
        if (++settled === total) finish()
      }
      const req = request(target, { method: 'POST', agent, headers: { ...spec.headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (b: Buffer) => chunks.push(b))
        res.on('end', () => {
          const t1 = performance.now()
          lastAnswer = Math.max(lastAnswer, t1)
          const status = res.statusCode ?? 0
          answered++
          statusCodes[status] = (statusCodes[status] ?? 0) + 1
          if (status >= 200 && status < 300) {
            latencies[ok++] = t1 - t0
            bySend[k] = t1 - t0
          }
          spec.onResponse?.(status, Buffer.concat(chunks).toString(), t1 - t0)
          done()
        })
        res.on('error', () => {
          if (!over) errors++
          done()
        })
      })
      req.setTimeout(TIMEOUT_MS, () => {
        timedOut = true
        timeouts++
        req.destroy(new Error('timeout'))
      })
      // A socket error ends the request here (the response's own errors surface on the request too).
      req.on('error', () => {
        if (!over && !timedOut) errors++
        done()
      })
      req.end(body)
    }
    // setTimeout fires at most about once a millisecond: each tick sends every request now due.
    const tick = () => {
      const now = performance.now()
      while (i < total && start + i * interval <= now) {
        send(i, start + i * interval)
        i++
      }
      if (i < total) setTimeout(tick, Math.max(0, start + i * interval - performance.now()))
    }
    if (total === 0) finish()
    else setTimeout(tick, 20)
  })
}
