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
  #sleepers = new Set<{ onData: boolean; wake: () => void }>()
  #giveUp = deferred()
  #ready: Promise<void>
  readonly state: WriterState = { running: false, lastError: null, lastErrorAt: null, lastSuccessAt: null, consecutiveFailures: 0, batches: 0, rows: 0 }

  constructor(spool: Spool, sink: BatchSink, opts: WriterOptions, ready: Promise<void> = Promise.resolve()) {
    this.#spool = spool
    this.#sink = sink
    this.#opts = opts
    this.#ready = ready
    spool.on('data', () => this.#poke(true))
  }

  /** Starts draining in the background. */
  start(): void {
    if (this.#loop) return
    this.state.running = true
    this.#loop = this.#run()
      .catch((e: unknown) => this.#failed(e as Error, this.state.consecutiveFailures + 1))
      .finally(() => {
        this.state.running = false
      })
  }

  /** True once the writer should stop without writing more: stop without drain, or the drain timed out. */
  get #givingUp(): boolean {
    return this.#stopping && !this.#drainOnStop
  }

  #stopWriting(): void {
    this.#drainOnStop = false
    this.#giveUp.resolve()
    this.#poke(false)
  }

  /** Wakes sleepers: new data wakes only the idle wait, a stop wakes every wait. */
  #poke(data: boolean): void {
    for (const s of [...this.#sleepers]) if (!data || s.onData) s.wake()
  }

  // A retry delay must not be cut short by new data: under load every synced append emits
  // 'data', which would turn the backoff into a retry per request against a ClickHouse that
  // is already failing.
  #sleep(ms: number, onData: boolean): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        onData,
        wake: () => {
          clearTimeout(t)
          this.#sleepers.delete(sleeper)
          resolve()
        },
      }
      const t = setTimeout(sleeper.wake, ms)
      this.#sleepers.add(sleeper)
    })
  }

  #failed(err: Error, attempt: number): void {
    this.state.lastError = err.message
    this.state.lastErrorAt = Date.now()
    this.state.consecutiveFailures++
    this.#opts.onError?.(err, attempt)
  }

  #backoff(attempt: number): number {
    const base = Math.min(this.#opts.retryMaxMs, this.#opts.retryMinMs * 2 ** (attempt - 1))
    return base / 2 + Math.random() * (base / 2)
  }

  async #run(): Promise<void> {
    // ClickHouse may never become ready (unreachable at shutdown): then stop without writing.
    if (!(await Promise.race([this.#ready.then(() => true), this.#giveUp.promise.then(() => false)]))) return
    let spoolFailures = 0
    while (true) {
      const s = this.#spool
      if (this.#givingUp) return
      const due =
        s.unreadRecords > 0 &&
        (this.#stopping || s.unreadRecords >= this.#opts.maxRows || s.oldestUnreadAt === null || Date.now() - s.oldestUnreadAt >= this.#opts.maxAgeMs)
      if (!due) {
        if (this.#stopping) return
        const wait = s.unreadRecords > 0 && s.oldestUnreadAt !== null ? Math.max(1, this.#opts.maxAgeMs - (Date.now() - s.oldestUnreadAt)) : 1000
        await this.#sleep(wait, true)
        continue
      }
      try {
        const { records, end } = await s.read(this.#opts.maxRows, this.#opts.maxBytes)
        if (records.length > 0) {
          const ok = await this.#store(records)
          if (!ok) {
            // Not stored: the next writer (or start) reads these again from the checkpoint.
            s.rewind()
            return
          }
        }
        await s.commit(end)
        spoolFailures = 0
      } catch (e) {
        // Reading the spool or writing the checkpoint failed. Start again from the checkpoint:
        // a batch stored but not checkpointed is read again, and the sink drops ids already landed.
        this.#failed(e as Error, ++spoolFailures)
        s.rewind()
        await this.#sleep(this.#backoff(spoolFailures), false)
      }
    }
  }

  async #store(records: Buffer[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        // Giving up abandons an insert in flight: nothing is checkpointed, so the next start
        // reads the batch again and the sink drops whatever of it did land.
        const stored = await Promise.race([
          withTimeout(this.#sink(records), this.#opts.insertTimeoutMs).then(() => true),
          this.#giveUp.promise.then(() => false),
        ])
        if (!stored) return false
        const ms = performance.now() - t0
        this.state.batches++
        this.state.rows += records.length
        this.state.lastSuccessAt = Date.now()
        this.state.consecutiveFailures = 0
        this.#opts.onBatch?.({ rows: records.length, ms })
        return true
      } catch (e) {
        this.#failed(e as Error, attempt)
        if (this.#givingUp) return false
        await this.#sleep(this.#backoff(attempt), false)
        if (this.#givingUp) return false
      }
    }
  }

  /**
   * Stops the writer. With `drain`, everything spooled is written first (bounded by
   * `timeoutMs`); whatever is left stays in the spool for the next start.
   */
  async stop(opts: { drain: boolean; timeoutMs: number }): Promise<void> {
    this.#stopping = true
    if (opts.drain) this.#poke(false)
    else this.#stopWriting()
    if (!this.#loop) return
    const timer = opts.drain ? setTimeout(() => this.#stopWriting(), opts.timeoutMs) : undefined
    try {
      await this.#loop
    } finally {
      clearTimeout(timer)
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
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
