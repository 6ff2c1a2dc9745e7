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
}

/**
 * Worker threads that run ingestBody, so parsing and the pipeline of large bodies use the
 * second core instead of the event loop that also answers requests and feeds the spool
 * (measured: the event loop was the limit at about 35 µs per event). A worker that dies is
 * replaced; the requests it held fail with 500 and their senders retry.
 */
export class IngestPool {
  readonly #keys: ProgramKey[]
  readonly #slots: Slot[] = []
  #next = 0
  #id = 0
  #closed = false

  constructor(keys: ProgramKey[], size: number) {
    this.#keys = keys
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn())
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./ingest-worker.mjs', import.meta.url), { workerData: { keys: this.#keys } })
    const slot: Slot = { worker, pending: new Map() }
    worker.on('message', (m: { id?: number; outcome?: IngestOutcome; failure?: string }) => {
      if (m.id === undefined) return
      const p = slot.pending.get(m.id)
      slot.pending.delete(m.id)
      if (m.outcome) p?.resolve(m.outcome)
      else p?.reject(new Error(`ingestion worker failed: ${m.failure}`))
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

  /** Ingests one request on the next worker. */
  run(req: RawIngestRequest): Promise<IngestOutcome> {
    const slot = this.#slots[this.#next++ % this.#slots.length]!
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject })
      slot.worker.postMessage({ id, req })
    })
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#slots.map((s) => s.worker.terminate()))
  }
}
