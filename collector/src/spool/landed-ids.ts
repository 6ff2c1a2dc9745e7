import { hash32, landedIdCount, landedIdPages, type Db } from '../../../analytics/index.ts'

/** The filter's key for a message id of a program (as the sink's dedup tokens name it). */
export const landedKey = (program: string, messageId: string): string => `${program}\u0000${messageId}`

// Two independent 32-bit hashes (FNV-1a bases apart), from which double hashing derives the k bit positions.
const hash = (key: string, basis: number) => hash32(key, basis)

/**
 * A Bloom filter over the ids that have landed: "certainly not landed" or "maybe". The writer
 * asks ClickHouse only about the maybes, so its de-duplication check no longer reads every id
 * of the program in `event_ids` for every batch (a cost that grew with the table: 3 µs a row
 * at 1M ids, every batch). No false negatives: an id is added once its insert succeeded.
 */
export class BloomFilter {
  readonly capacity: number
  readonly #bits: Uint32Array
  readonly #m: number
  readonly #k: number
  count = 0

  constructor(capacity: number, falsePositiveRate = 0.01) {
    this.capacity = Math.max(1, capacity)
    this.#m = Math.max(1024, Math.ceil((-this.capacity * Math.log(falsePositiveRate)) / Math.LN2 ** 2))
    this.#k = Math.max(1, Math.round((this.#m / this.capacity) * Math.LN2))
    this.#bits = new Uint32Array(Math.ceil(this.#m / 32))
  }

  /** Memory the bits take. */
  get bytes(): number {
    return this.#bits.byteLength
  }

  add(key: string): void {
    const h1 = hash(key, 0x811c9dc5)
    const h2 = hash(key, 0x01b3a4c7) | 1
    for (let i = 0; i < this.#k; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0
      const pos = bit % this.#m
      this.#bits[pos >>> 5]! |= 1 << (pos & 31)
    }
    this.count++
  }

  has(key: string): boolean {
    const h1 = hash(key, 0x811c9dc5)
    const h2 = hash(key, 0x01b3a4c7) | 1
    for (let i = 0; i < this.#k; i++) {
      const pos = ((h1 + Math.imul(i, h2)) >>> 0) % this.#m
      if ((this.#bits[pos >>> 5]! & (1 << (pos & 31))) === 0) return false
    }
    return true
  }
}

/**
 * The landed ids the writer knows of: a Bloom filter filled from `event_ids` at start and kept
 * up to date by the sink. Until it is filled (and while a fuller one is rebuilt) every id is a
 * maybe. Sound only while this process is the one writer of its ClickHouse, which the embedded
 * engine's data-directory lock guarantees; with a shared ClickHouse server it stays off.
 */
export class LandedIds {
  #filter: BloomFilter | null = null
  /** A filter being filled, which sees every add too. */
  #next: BloomFilter | null = null
  #loading: Promise<void> | null = null
  #closed = false
  readonly #db: Db
  readonly #capacity: number
  readonly #log: (m: string) => void

  constructor(db: Db, opts: { capacity: number; log: (m: string) => void }) {
    this.#db = db
    this.#capacity = opts.capacity
    this.#log = opts.log
  }

  /** Whether the filter is filled and answers. */
  get ready(): boolean {
    return this.#filter !== null
  }

  get size(): number {
    return this.#filter?.count ?? 0
  }

  /** False only for an id that certainly has not landed. */
  mayHave(key: string): boolean {
    return this.#filter ? this.#filter.has(key) : true
  }

  add(key: string): void {
    this.#filter?.add(key)
    this.#next?.add(key)
  }

  /**
   * Builds a fresh filter from `event_ids` (at start, daily so ids past the 35-day window leave
   * it, and when it holds more ids than it was sized for) and swaps it in when full. On a
   * failure the current filter stays (or every id stays a maybe) and the next call tries again.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#loading ??= this.#fill().finally(() => {
      this.#loading = null
    })
    return this.#loading
  }

  async #fill(): Promise<void> {
    const started = Date.now()
    try {
      // Sized for twice what is stored: a filter filled to its capacity at start would be
      // saturated by the first insert and start a second full fill under load.
      const stored = await landedIdCount(this.#db)
      const next = new BloomFilter(Math.max(this.#capacity, 2 * stored, 2 * (this.#filter?.count ?? 0)))
      this.#next = next
      for await (const page of landedIdPages(this.#db)) {
        if (this.#closed) return
        for (const r of page) next.add(landedKey(r.program, r.message_id))
      }
      this.#filter = next
      this.#log(`landed-id filter holds ${next.count} ids (${Math.round(next.bytes / 1024 / 1024)} MB), filled in ${Date.now() - started} ms`)
    } catch (e) {
      this.#log(`landed-id filter could not be filled (${(e as Error).message}); ids are checked in ClickHouse`)
    } finally {
      this.#next = null
    }
  }

  /** Stops filling (at the next page) and waits for it, so ClickHouse can be closed. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#loading
  }

  /** Rebuild when the filter holds more than it was sized for (its false positives climb). */
  get saturated(): boolean {
    return this.#filter !== null && this.#filter.count > this.#filter.capacity
  }
}
