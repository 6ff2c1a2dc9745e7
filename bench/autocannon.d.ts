// The part of autocannon 9's programmatic API the benchmark uses (the package ships no types,
// and adding @types/autocannon would touch package.json, which the bench does not own).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  /** One request as autocannon builds it; `setupRequest` may change any field. */
  export interface RawRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  /** An entry of `requests`: a template plus an optional hook run before every send. */
  export interface RequestSpec extends RawRequest {
    setupRequest?: (req: RawRequest, context: Record<string, unknown>) => RawRequest | null | undefined
  }

  /** Options of a run (a subset). */
  export interface Options {
    url: string
    connections?: number
    pipelining?: number
    duration?: number
    amount?: number
    timeout?: number
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    requests?: RequestSpec[]
    overallRate?: number
    title?: string
  }

  /** hdr-histogram-percentiles-obj shape. */
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p2_5: number
    p50: number
    p75: number
    p90: number
    p97_5: number
    p99: number
    p99_9: number
    sent?: number
  }

  /** What a finished run reports. */
  export interface Result {
    duration: number
    start: Date
    finish: Date
    errors: number
    timeouts: number
    non2xx: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
    latency: Histogram
    requests: Histogram
    throughput: Histogram
  }

  /** A running instance. */
  export interface Instance extends EventEmitter {
    stop(): void
  }

  function autocannon(opts: Options): Instance & PromiseLike<Result>
  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance

  export default autocannon
}
