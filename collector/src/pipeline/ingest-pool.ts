import { Worker } from 'node:worker_threads'
import type { ProgramKey } from '../../../analytics/index.ts'
import type { IngestOutcome, RawIngestRequest } from './ingest-body.ts'

interface Pending {
  resolve: (o: IngestOutcome) => void
  reject: (e: Error) => void
}

interface Slot {
  worker: Worker
  pending: Map<number, Pending>
  /** The worker has loaded its code and takes requests. */
  ready: boolean
}

/** A request on its way to a worker, and the answer coming back. */
export interface PoolRequest {
  id: number
  req: RawIngestRequest
}
export type PoolAnswer = { id: number; outcome: IngestOutcome } | { id: number; failure: string }

/**
 * Worker threads that run ingestBody, so parsing and the pipeline use the other cores instead
 * of the event loop that also answers requests and feeds the spool (measured: the event loop
 * was the limit at about 35 µs per event). Requests that arrive in the same turn of the event
 * loop travel to one worker as one message and come back as one, so a single-event request
 * costs a share of a message, not two messages (a message each way cost about as much as the
 * whole pipeline of a small event). A worker that dies is replaced; the requests it held fail
 * with 500 and their senders retry.
 */
export class IngestPool {
  #keys: ProgramKey[]
  readonly #slots: Slot[] = []
  #next = 0
  #id = 0
  #closed = false
  /** Requests of this turn of the event loop, and the worker they go to. */
  #outbox: PoolRequest[] = []
  #outboxSlot: Slot | null = null

  constructor(keys: ProgramKey[], size: number) {
    this.#keys = keys
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn())
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./ingest-worker.mjs', import.meta.url), { workerData: { keys: this.#keys } })
    const slot: Slot = { worker, pending: new Map(), ready: false }
    worker.on('message', (m: { answers?: PoolAnswer[]; ready?: boolean }) => {
      if (m.ready) slot.ready = true
      for (const a of m.answers ?? []) {
        const p = slot.pending.get(a.id)
        slot.pending.delete(a.id)
        if ('outcome' in a) p?.resolve(a.outcome)
        else p?.reject(new Error(`ingestion worker failed: ${a.failure}`))
      }
    })
    const fail = (why: string) => {
      for (const p of slot.pending.values()) p.reject(new Error(`ingestion worker ${why}`))
      slot.pending.clear()
      const i = this.#slots.indexOf(slot)
      if (i >= 0 && !this.#closed) this.#slots[i] = this.#spawn()
    }
    worker.on('error', (e) => fail(`error: ${e.name}`))
    worker.on('exit', (code) => fail(`exited with ${code}`))
    worker.unref()
    return slot
  }

  /**
   * Gives every worker these keys (a program document changed). Messages to a worker arrive in
   * order, so every request handed to the pool after this call is ingested with them; a worker
   * started later (a replacement) gets them as its workerData.
   */
  setKeys(keys: ProgramKey[]): void {
    this.#keys = keys
    for (const s of this.#slots) s.worker.postMessage({ keys })
  }

  /** Whether a worker is ready to take requests. */
  get ready(): boolean {
    return this.#slots.some((s) => s.ready)
  }

  /** How many workers are ready, of how many. */
  get workers(): { ready: number; total: number } {
    return { ready: this.#slots.filter((s) => s.ready).length, total: this.#slots.length }
  }

  /**
   * Ingests one request on a ready worker (with the other requests of this turn of the event
   * loop), or returns null while none is ready (at start, or while a dead one is replaced:
   * loading a worker's code takes about a second, too long to keep a request waiting).
   */
  run(req: RawIngestRequest): Promise<IngestOutcome> | null {
    if (!this.#outboxSlot) {
      let slot: Slot | undefined
      for (let i = 0; i < this.#slots.length && !slot; i++) {
        const s = this.#slots[this.#next++ % this.#slots.length]!
        if (s.ready) slot = s
      }
      if (!slot) return null
      this.#outboxSlot = slot
      setImmediate(this.#flush)
    }
    const slot = this.#outboxSlot
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject })
      this.#outbox.push({ id, req })
    })
  }

  #flush = (): void => {
    const slot = this.#outboxSlot!
    const requests = this.#outbox
    this.#outbox = []
    this.#outboxSlot = null
    // A worker replaced in the meantime has already failed these requests.
    if (this.#slots.includes(slot)) slot.worker.postMessage({ requests })
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#slots.map((s) => s.worker.terminate()))
  }
}
