import { browserId } from '../../collector/index.ts'
import type { SyntheticMessage } from './patient-events.ts'
import type { PopulationRequest } from './population.ts'

/** How to reach the collector. */
export interface HttpSendOptions {
  /** The collector's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string
  /** Requests in flight at once. Default 16 (each waits for the collector's grouped fsync: 4 gave 3,000 events/s on loopback, 16 about 9,000). */
  concurrency?: number
  /**
   * A secret key with the import scope: every request goes with it, as a backend importing the
   * history would send it (browser events with their address, user agent and channel in
   * `context`). Without it, history older than the collector's live window (7 days) is refused.
   */
  importKey?: string
  /** Attempts per request before giving up on it. Default 10. */
  maxAttempts?: number
  onProgress?: (p: HttpSendStats & { patientsDone: number }) => void
  /** For tests: the fetch to use and how to wait. */
  fetch?: typeof fetch
  sleep?: (ms: number) => Promise<void>
}

/** What sending did. */
export interface HttpSendStats {
  requests: number
  events: number
  accepted: number
  rejected: Array<{ keyId: string; index: number; reason: string; field: string; message: string }>
  /** Requests the collector refused for good (a 4xx other than 408/429), or that failed every attempt. */
  failed: Array<{ keyId: string; status: number; body: string }>
  /** Attempts repeated after 408, 429, 5xx or a network error. */
  retries: number
  ms: number
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504])

/**
 * Sends requests to the collector's `/v1/batch`, `concurrency` at a time: the key as the HTTP
 * Basic user (or every request with `importKey`), the write key's allowed `Origin`, the browser's `User-Agent`. 408, 429 and 5xx
 * (`spool_full`, `spool_unavailable`) and network errors are retried with backoff (1 s doubling
 * to 30 s, or the `Retry-After` the collector gives); the message ids make a retry harmless.
 */
export async function sendHttp(requests: AsyncIterable<PopulationRequest>, opts: HttpSendOptions): Promise<HttpSendStats> {
  const started = performance.now()
  const doFetch = opts.fetch ?? fetch
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const endpoint = `${opts.url.replace(/\/$/, '')}/v1/batch`
  const maxAttempts = opts.maxAttempts ?? 10
  const stats: HttpSendStats = { requests: 0, events: 0, accepted: 0, rejected: [], failed: [], retries: 0, ms: 0 }
  let patientsDone = 0

  const sendOne = async (req: PopulationRequest): Promise<void> => {
    const imported = opts.importKey !== undefined && req.kind === 'write'
    // A backend names a browser by its stored id (browser:<anonymousId>), as ingestion stores a write key's.
    const asBackend = (m: SyntheticMessage) => ({
      ...m,
      ...(typeof m.anonymousId === 'string' ? { anonymousId: browserId(m.anonymousId) } : {}),
      context: { channel: 'web', ...(m.context as object), ip: req.ip, userAgent: req.userAgent },
    })
    const body = JSON.stringify(imported ? { batch: req.body.batch.map(asBackend) } : req.body)
    const headers: Record<string, string> = {
      authorization: `Basic ${Buffer.from(`${opts.importKey ?? req.key}:`).toString('base64')}`,
      'content-type': 'application/json',
      'user-agent': req.userAgent,
      'x-forwarded-for': req.ip,
      ...(req.origin ? { origin: req.origin } : {}),
    }
    let delay = 1000
    for (let attempt = 1; ; attempt++) {
      let status = 0
      let text = ''
      let retryAfter = NaN
      try {
        const res = await doFetch(endpoint, { method: 'POST', headers, body })
        status = res.status
        text = await res.text()
        retryAfter = Number(res.headers.get('retry-after'))
      } catch (e) {
        text = (e as Error).message
      }
      if (status === 200) {
        const answer = JSON.parse(text) as { accepted: number; rejected: Array<{ index: number; reason: string; field: string; message: string }> }
        stats.accepted += answer.accepted
        for (const r of answer.rejected) stats.rejected.push({ keyId: req.keyId, ...r })
        return
      }
      if ((status !== 0 && !RETRY_STATUS.has(status)) || attempt >= maxAttempts) {
        stats.failed.push({ keyId: req.keyId, status, body: text.slice(0, 500) })
        return
      }
      stats.retries++
      const jitter = 1 + Math.random() * 0.25
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : delay * jitter)
      delay = Math.min(30_000, delay * 2)
    }
  }

  const inFlight = new Set<Promise<void>>()
  for await (const req of requests) {
    stats.requests++
    stats.events += req.body.batch.length
    const p: Promise<void> = sendOne(req).finally(() => {
      inFlight.delete(p)
      patientsDone = Math.max(patientsDone, req.patientsDone)
      opts.onProgress?.({ ...stats, patientsDone, ms: performance.now() - started })
    })
    inFlight.add(p)
    if (inFlight.size >= (opts.concurrency ?? 16)) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  stats.ms = performance.now() - started
  return stats
}
