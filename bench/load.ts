// One autocannon run against a URL, summarised; the load generator's own CPU use is measured
// so a run limited by the client rather than the server can be told apart.
import autocannon from 'autocannon'
import { cpuSeconds, machineBusySeconds } from './child.ts'

/** What to send. `body` is called once per request (unique ids per request). */
export interface LoadSpec {
  url: string
  path: string
  headers: Record<string, string>
  body: () => string
  durationS: number
  connections: number
  /** Process whose CPU use over the run is reported as `serverCpuCores`. */
  serverPid?: number
  /** Requests per second across all connections; unset: as fast as the server answers. */
  rate?: number
}

/** A run's figures. Latencies are of 2xx answers, in ms (autocannon's resolution: 1 ms). */
export interface LoadResult {
  durationS: number
  requests: number
  requestsPerSec: number
  ok2xx: number
  non2xx: number
  statusCodes: Record<string, number>
  errors: number
  timeouts: number
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number }
  /** Cores the bench process (autocannon) kept busy; near 1.0 means the client was the limit. */
  loadGeneratorCpuCores: number
  /** Cores the server process used (all its threads), when known. */
  serverCpuCores: number | null
  /**
   * Cores busy on the whole machine minus the two above: other work (tests, other benches)
   * sharing the machine. Well above 0.1 means the figures are depressed by noise.
   */
  otherCpuCores: number | null
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

/** Loads `spec.url + spec.path` with POSTs for `durationS` seconds. */
export async function load(spec: LoadSpec): Promise<LoadResult & { startedAt: number; endedAt: number }> {
  const cpu0 = process.cpuUsage()
  const srv0 = cpuSeconds(spec.serverPid)
  const all0 = machineBusySeconds()
  const startedAt = performance.now()
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 30,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    requests: [
      {
        method: 'POST',
        path: spec.path,
        headers: spec.headers,
        setupRequest: (req) => {
          req.body = spec.body()
          return req
        },
      },
    ],
  })
  const endedAt = performance.now()
  const cpu = process.cpuUsage(cpu0)
  const srv1 = cpuSeconds(spec.serverPid)
  const all1 = machineBusySeconds()
  const wallS = (endedAt - startedAt) / 1000
  const benchCores = (cpu.user + cpu.system) / 1e6 / wallS
  const serverCores = srv0 !== null && srv1 !== null ? (srv1 - srv0) / wallS : null
  const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx']
  return {
    startedAt,
    endedAt,
    durationS: round(result.duration, 3),
    requests,
    requestsPerSec: Math.round(requests / result.duration),
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0])),
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: round(result.latency.mean) },
    loadGeneratorCpuCores: round(benchCores),
    serverCpuCores: serverCores === null ? null : round(serverCores),
    otherCpuCores: all0 !== null && all1 !== null ? round(Math.max(0, (all1 - all0) / wallS - benchCores - (serverCores ?? 0))) : null,
  }
}
