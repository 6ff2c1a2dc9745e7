import { retryable, retryDelay } from './retry.ts'
import type { Message, Sender, SendResult, Store } from './types.ts'

/** Where and how the queue sends. */
export interface QueueOptions {
  url: string
  writeKey: string
  send: Sender
  store: Store
}

/** Flush at this many events… */
export const FLUSH_AT = 20
/** …or this long after the first queued one. */
export const FLUSH_MS = 1000
/** Events kept while they cannot be sent; the oldest are dropped first (guarantee D10). */
export const MAX_QUEUED = 1000
const QUEUE_KEY = 'attune_q'
const DROPPED_KEY = 'attune_dropped'

/**
 * Batches messages to `/v1/batch`, persists those not yet acknowledged (so they survive a reload
 * or an offline afternoon), retries with backoff, and gives up on a batch only when the collector
 * refuses it for good. Every message keeps its messageId, so a batch sent twice lands once.
 */
export class Queue {
  _o: QueueOptions
  _q: Message[]
  _timer: ReturnType<typeof setTimeout> | undefined
  _attempt = 0
  _sending = false
  _enabled = true

  constructor(o: QueueOptions) {
    this._o = o
    let saved: Message[] = []
    try {
      saved = JSON.parse(o.store.get(QUEUE_KEY) ?? '[]') as Message[]
    } catch {
      // A damaged queue is dropped rather than breaking the page.
    }
    this._q = saved
    if (this._q.length) this._schedule(0)
  }

  /** Events dropped because the queue was full, since the last successful send. */
  get _dropped(): number {
    return Number(this._o.store.get(DROPPED_KEY)) || 0
  }

  _push(m: Message): void {
    const q = this._q
    q.push(m)
    if (q.length > MAX_QUEUED) {
      q.splice(0, q.length - MAX_QUEUED)
      this._o.store.set(DROPPED_KEY, String(this._dropped + 1))
    }
    this._save()
    if (q.length >= FLUSH_AT) this._schedule(0)
    else if (!this._timer) this._schedule(FLUSH_MS)
  }

  _save(): void {
    if (this._q.length) this._o.store.set(QUEUE_KEY, JSON.stringify(this._q))
    else this._o.store.del(QUEUE_KEY)
  }

  _schedule(ms: number): void {
    clearTimeout(this._timer)
    this._timer = setTimeout(() => {
      this._timer = undefined
      void this._flush()
    }, ms)
  }

  _body(batch: Message[]): string {
    const dropped = this._dropped
    return JSON.stringify({ batch, sentAt: new Date().toISOString(), writeKey: this._o.writeKey, ...(dropped ? { context: { attune: { dropped } } } : {}) })
  }

  /** Sends what is queued, a batch at a time; resolves when the queue is empty or a retry is scheduled. */
  async _flush(): Promise<void> {
    if (this._sending || !this._enabled) return
    this._sending = true
    try {
      while (this._q.length && this._enabled) {
        const batch = this._q.slice(0, FLUSH_AT)
        let r: SendResult
        try {
          r = await this._o.send(this._o.url, this._body(batch), false)
        } catch {
          r = { status: 0 }
        }
        if (r.status >= 200 && r.status < 300) {
          this._attempt = 0
          this._o.store.del(DROPPED_KEY)
        } else if (retryable(r.status)) {
          this._schedule(retryDelay(++this._attempt, r.retryAfter))
          return
        }
        // Sent, or refused for good: either way these leave the queue.
        this._q = this._q.filter((m) => !batch.includes(m))
        this._save()
      }
    } finally {
      this._sending = false
    }
  }

  /** The page is going away: hand what is queued to a beacon, and keep it persisted in case the beacon is lost. */
  _beacon(): void {
    if (!this._q.length || !this._enabled) return
    for (let i = 0; i < this._q.length; i += FLUSH_AT) void this._o.send(this._o.url, this._body(this._q.slice(i, i + FLUSH_AT)), true)
  }

  /** Empties the queue and its storage (consent withdrawn, or reset). */
  _clear(): void {
    clearTimeout(this._timer)
    this._timer = undefined
    this._q = []
    this._o.store.del(QUEUE_KEY)
    this._o.store.del(DROPPED_KEY)
  }
}
