import type { Spool } from './spool.ts'

/** Stores one batch of spooled payloads; throws to have the same batch retried. */
export type BatchSink = (payloads: Buffer[]) => Promise<void>

/** Writer settings. */
export interface WriterOptions {
  /** Flush when this many records are waiting (D7: at most 100k rows an insert). */
  maxRows: number
  /** Flush when the oldest waiting record is this old. */
  maxAgeMs: number
  /** Bytes read from the spool for one batch, at most. */
  maxBytes: number
  /** First and largest retry delay; delays double between them, with jitter (D10). */
  retryMinMs: number
  retryMaxMs: number
  /** An insert that has not answered by then counts as failed and is retried. */
  insertTimeoutMs: number
  onBatch?: (info: { rows: number; ms: number }) => void
  onError?: (error: Error, attempt: number) => void
}

/** What the writer reports on /health and /metrics. */
export interface WriterState {
  running: boolean
  lastError: string | null
  lastErrorAt: number | null
  lastSuccessAt: number | null
  consecutiveFailures: number
  batches: number
  rows: number
}

/**
 * Drains the spool into a sink in batches (size and age thresholds), retrying a failed batch
 * with backoff until it lands, and moving the spool checkpoint only after the sink confirmed.
 */
export class SpoolWriter {
  readonly #spool: Spool
  readonly #sink: BatchSink
  readonly #opts: WriterOptions
  #loop: Promise<void> | null = null
  #stopping = false
  #drainOnStop = true
  #wake: (() => void) | null = null
  #ready: Promise<void>
  readonly state: WriterState = { running: false, lastError: null, lastErrorAt: null, lastSuccessAt: null, consecutiveFailures: 0, batches: 0, rows: 0 }

  constructor(spool: Spool, sink: BatchSink, opts: WriterOptions, ready: Promise<void> = Promise.resolve()) {
    this.#spool = spool
    this.#sink = sink
    this.#opts = opts
    this.#ready = ready
    spool.on('data', () => this.#poke())
  }

  /** Starts draining in the background. */
  start(): void {
    if (this.#loop) return
    this.state.running = true
    this.#loop = this.#run().finally(() => {
      this.state.running = false
    })
  }

  #poke(): void {
    const w = this.#wake
    this.#wake = null
    w?.()
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = null
        resolve()
      }, ms)
      this.#wake = () => {
        clearTimeout(t)
        resolve()
      }
    })
  }

  async #run(): Promise<void> {
    await this.#ready
    while (true) {
      const s = this.#spool
      const due =
        s.unreadRecords > 0 &&
        (this.#stopping || s.unreadRecords >= this.#opts.maxRows || s.oldestUnreadAt === null || Date.now() - s.oldestUnreadAt >= this.#opts.maxAgeMs)
      if (!due) {
        if (this.#stopping) return
        const wait = s.unreadRecords > 0 && s.oldestUnreadAt !== null ? Math.max(1, this.#opts.maxAgeMs - (Date.now() - s.oldestUnreadAt)) : 1000
        await this.#sleep(wait)
        continue
      }
      const { records, end } = await s.read(this.#opts.maxRows, this.#opts.maxBytes)
      if (records.length > 0) {
        const ok = await this.#store(records)
        if (!ok) return
      }
      await s.commit(end)
    }
  }

  async #store(records: Buffer[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        await withTimeout(this.#sink(records), this.#opts.insertTimeoutMs)
        const ms = performance.now() - t0
        this.state.batches++
        this.state.rows += records.length
        this.state.lastSuccessAt = Date.now()
        this.state.consecutiveFailures = 0
        this.#opts.onBatch?.({ rows: records.length, ms })
        return true
      } catch (e) {
        const err = e as Error
        this.state.lastError = err.message
        this.state.lastErrorAt = Date.now()
        this.state.consecutiveFailures++
        this.#opts.onError?.(err, attempt)
        if (this.#stopping && !this.#drainOnStop) return false
        const base = Math.min(this.#opts.retryMaxMs, this.#opts.retryMinMs * 2 ** (attempt - 1))
        await this.#sleep(base / 2 + Math.random() * (base / 2))
        if (this.#stopping && !this.#drainOnStop) return false
      }
    }
  }

  /**
   * Stops the writer. With `drain`, everything spooled is written first (bounded by
   * `timeoutMs`); whatever is left stays in the spool for the next start.
   */
  async stop(opts: { drain: boolean; timeoutMs: number }): Promise<void> {
    this.#stopping = true
    this.#drainOnStop = opts.drain
    this.#poke()
    if (!this.#loop) return
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#drainOnStop = false
        this.#poke()
        resolve()
      }, opts.timeoutMs).unref(),
    )
    await Promise.race([this.#loop, timer])
    await this.#loop
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`insert did not answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}
