import { EventEmitter } from 'node:events'
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeFrames, encodeFrames, MAX_PAYLOAD_BYTES } from './frame.ts'

/** A position in the spool: a segment number and a byte offset inside it. */
export interface SpoolPosition {
  segment: number
  offset: number
}

/** The spool is at its size limit: the collector answers 503 with Retry-After. */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError'
}

/** Writing or syncing the spool failed: nothing in the request was acknowledged. */
export class SpoolWriteError extends Error {
  override readonly name = 'SpoolWriteError'
}

/** File operations the spool performs on its active segment; tests inject failures here. */
export interface SpoolIo {
  writev(fh: FileHandle, buffers: Buffer[]): Promise<number>
  datasync(fh: FileHandle): Promise<void>
}

const realIo: SpoolIo = {
  async writev(fh, buffers) {
    let written = 0
    let pending = buffers
    const total = buffers.reduce((n, b) => n + b.length, 0)
    while (written < total) {
      const { bytesWritten } = await fh.writev(pending)
      written += bytesWritten
      if (written < total) {
        // A short write: continue with what is left.
        let skip = bytesWritten
        const rest: Buffer[] = []
        for (const b of pending) {
          if (skip >= b.length) skip -= b.length
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b)
            skip = 0
          }
        }
        pending = rest
      }
    }
    return written
  },
  datasync: (fh) => fh.datasync(),
}

/** Spool settings. */
export interface SpoolOptions {
  dir: string
  /** Unconsumed bytes at which appends are refused (D6). */
  maxBytes: number
  /** Size at which the active segment is sealed and a new one started. */
  segmentBytes: number
  io?: SpoolIo
}

/** Counters the spool keeps for /metrics and /health. */
export interface SpoolStats {
  depthBytes: number
  segments: number
  appendedRecords: number
  damagedStretches: number
  damagedBytes: number
  syncs: number
}

interface Segment {
  id: number
  path: string
  /** Bytes known to be whole records on disk (synced, or found there at start-up). */
  size: number
  sealed: boolean
}

interface Group {
  frames: Buffer[]
  bytes: number
  records: number
  resolve: () => void
  reject: (e: Error) => void
  promise: Promise<void>
}

function newGroup(): Group {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {})
  return { frames: [], bytes: 0, records: 0, resolve, reject, promise }
}

const SEGMENT_FILE = /^(\d{12})\.seg$/
const segName = (id: number) => `${String(id).padStart(12, '0')}.seg`

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * An append-only, framed, fsynced log of accepted events under the data directory.
 * Appends from concurrent requests are grouped into one write and one fdatasync; a promise
 * resolves only after its bytes are synced. A reader (the writer to ClickHouse) consumes from
 * a checkpoint that moves only after ClickHouse confirmed the insert.
 */
export class Spool extends EventEmitter {
  readonly #dir: string
  readonly #opts: SpoolOptions
  readonly #io: SpoolIo
  #segments: Segment[] = []
  #active: { seg: Segment; fh: FileHandle } | null = null
  #checkpoint: SpoolPosition = { segment: 0, offset: 0 }
  #read: SpoolPosition = { segment: 0, offset: 0 }
  #group: Group = newGroup()
  #flushing: Promise<void> | null = null
  /** Bytes of the group being written and synced: not yet in the depth, but already accepted. */
  #inflightBytes = 0
  #closed = false
  #readFh: { id: number; fh: FileHandle } | null = null
  #stats = { appendedRecords: 0, damagedStretches: 0, damagedBytes: 0, syncs: 0 }
  /** Records appended since start-up and not yet handed to the reader (approximate after a restart). */
  unreadRecords = 0
  /** When the oldest unread record was appended (ms), or null. */
  oldestUnreadAt: number | null = null

  private constructor(opts: SpoolOptions) {
    super()
    this.#opts = opts
    this.#dir = opts.dir
    this.#io = opts.io ?? realIo
  }

  /** Opens the spool, recovering what earlier runs left; appends go to a new segment. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    const s = new Spool(opts)
    await s.#recover()
    return s
  }

  async #recover(): Promise<void> {
    await mkdir(this.#dir, { recursive: true })
    try {
      const cp = JSON.parse(await readFile(join(this.#dir, 'checkpoint.json'), 'utf8')) as SpoolPosition
      if (Number.isInteger(cp.segment) && Number.isInteger(cp.offset)) this.#checkpoint = cp
    } catch {
      // No checkpoint yet: everything on disk is unconsumed.
    }
    const files = (await readdir(this.#dir)).filter((f) => SEGMENT_FILE.test(f)).sort()
    for (const f of files) {
      const id = Number(SEGMENT_FILE.exec(f)![1])
      const path = join(this.#dir, f)
      if (id < this.#checkpoint.segment) {
        await rm(path, { force: true })
        continue
      }
      const { size } = await stat(path)
      this.#segments.push({ id, path, size, sealed: true })
    }
    if (this.#segments.length > 0 && this.#checkpoint.segment < this.#segments[0]!.id) {
      this.#checkpoint = { segment: this.#segments[0]!.id, offset: 0 }
    }
    this.#read = { ...this.#checkpoint }
    // Records left from before are unread; their count is unknown until read, so flag at least one.
    if (this.depthBytes() > 0) {
      this.unreadRecords = 1
      this.oldestUnreadAt = 0
    }
    await this.#openNewSegment()
  }

  async #openNewSegment(): Promise<void> {
    const last = this.#segments[this.#segments.length - 1]
    const id = Math.max(last ? last.id + 1 : 1, this.#checkpoint.segment)
    const path = join(this.#dir, segName(id))
    const fh = await open(path, 'wx')
    await fsyncDir(this.#dir)
    const seg: Segment = { id, path, size: 0, sealed: false }
    this.#segments.push(seg)
    this.#active = { seg, fh }
  }

  /**
   * Bytes not landed yet: from the checkpoint to the end of the last synced record, plus those
   * accepted into a write that has not synced (so "0" means everything appended or queued is in
   * ClickHouse).
   */
  depthBytes(): number {
    let n = this.#inflightBytes + this.#group.bytes
    for (const s of this.#segments) {
      if (s.id < this.#checkpoint.segment) continue
      n += s.size - (s.id === this.#checkpoint.segment ? this.#checkpoint.offset : 0)
    }
    return Math.max(0, n)
  }

  /** When the spool began refusing appends for lack of room; cleared by the next append that fits or a checkpoint. */
  refusingSince: number | null = null

  /** Counters for metrics and health. */
  stats(): SpoolStats {
    return { depthBytes: this.depthBytes(), segments: this.#segments.length, ...this.#stats }
  }

  /**
   * Appends payloads as one unit and resolves once they are synced to disk. Throws
   * SpoolFullError when over the size limit and SpoolWriteError when the disk fails.
   */
  append(payloads: ReadonlyArray<string | Uint8Array>): Promise<void> {
    return this.appendFrames(encodeFrames(payloads), payloads.length)
  }

  /** Like {@link append} for records already framed with encodeFrames (by an ingestion worker). */
  appendFrames(framed: Buffer, records: number): Promise<void> {
    try {
      return this.#enqueue(framed, records)
    } catch (e) {
      return Promise.reject(e as Error)
    }
  }

  /**
   * Puts payloads into the next grouped write at once, or throws SpoolFullError / SpoolWriteError
   * (closed) at once; the promise it returns settles like {@link append}'s. For records whose
   * caller does not wait for the sync (the decide endpoint's own decisions).
   */
  queue(payloads: ReadonlyArray<string | Uint8Array>): Promise<void> {
    return this.#enqueue(encodeFrames(payloads), payloads.length)
  }

  #enqueue(framed: Buffer, records: number): Promise<void> {
    if (this.#closed) throw new SpoolWriteError('spool is closed')
    const bytes = framed.length
    if (this.depthBytes() + bytes > this.#opts.maxBytes) {
      this.refusingSince ??= Date.now()
      throw new SpoolFullError(`spool holds ${this.depthBytes()} bytes, limit ${this.#opts.maxBytes}`)
    }
    this.refusingSince = null
    const g = this.#group
    g.frames.push(framed)
    g.bytes += bytes
    g.records += records
    if (!this.#flushing) this.#flushing = this.#flushLoop()
    return g.promise
  }

  async #flushLoop(): Promise<void> {
    // Let the requests that arrive in this tick join the group before the write.
    await new Promise<void>((r) => setImmediate(r))
    while (this.#group.frames.length > 0) {
      const g = this.#group
      this.#group = newGroup()
      this.#inflightBytes = g.bytes
      try {
        await this.#writeGroup(g)
        g.resolve()
      } catch (e) {
        this.#inflightBytes = 0
        g.reject(new SpoolWriteError(`spool write failed: ${(e as Error).message}`))
      }
    }
    this.#flushing = null
  }

  async #writeGroup(g: Group): Promise<void> {
    if (!this.#active) await this.#openNewSegment()
    let active = this.#active!
    if (active.seg.size > 0 && active.seg.size + g.bytes > this.#opts.segmentBytes) {
      await this.#sealActive()
      await this.#openNewSegment()
      active = this.#active!
    }
    try {
      await this.#io.writev(active.fh, g.frames)
      await this.#io.datasync(active.fh)
    } catch (e) {
      // After a failed write or fsync the file's state is unknown: seal it at its last good
      // size and start a fresh segment for the next group.
      await active.fh.truncate(active.seg.size).catch(() => {})
      await this.#sealActive()
      throw e
    }
    this.#stats.syncs++
    // In the same step, so depthBytes never counts the group twice (in flight and in the segment).
    this.#inflightBytes = 0
    active.seg.size += g.bytes
    this.#stats.appendedRecords += g.records
    if (this.unreadRecords === 0) this.oldestUnreadAt = Date.now()
    this.unreadRecords += g.records
    this.emit('data')
  }

  async #sealActive(): Promise<void> {
    if (!this.#active) return
    const { seg, fh } = this.#active
    this.#active = null
    seg.sealed = true
    await fh.close().catch(() => {})
  }

  /**
   * Reads up to `maxRecords` records (about `maxBytes`) after the read position. Returns them
   * with the position just past the last one, to be passed to `commit` once they are stored.
   */
  async read(maxRecords: number, maxBytes: number): Promise<{ records: Buffer[]; end: SpoolPosition }> {
    const records: Buffer[] = []
    const window = Math.max(maxBytes, MAX_PAYLOAD_BYTES * 2)
    while (records.length < maxRecords) {
      const seg = this.#segments.find((s) => s.id === this.#read.segment) ?? this.#segments.find((s) => s.id > this.#read.segment)
      if (!seg) break
      if (seg.id !== this.#read.segment) this.#read = { segment: seg.id, offset: 0 }
      const available = seg.size - this.#read.offset
      if (available <= 0) {
        if (seg.sealed && this.#segments.some((s) => s.id > seg.id)) {
          this.#read = { segment: seg.id + 1, offset: 0 }
          continue
        }
        break
      }
      const len = Math.min(available, window)
      const buf = Buffer.allocUnsafe(len)
      const fh = await this.#readHandle(seg)
      const { bytesRead } = await fh.read(buf, 0, len, this.#read.offset)
      const chunk = buf.subarray(0, bytesRead)
      const final = seg.sealed && bytesRead === available
      const res = decodeFrames(chunk, final, maxRecords - records.length)
      this.#stats.damagedStretches += res.damaged
      this.#stats.damagedBytes += res.skippedBytes
      records.push(...res.records)
      const consumed = res.consumed
      if (consumed === 0) break
      this.#read = { segment: seg.id, offset: this.#read.offset + consumed }
    }
    this.unreadRecords = Math.max(0, this.unreadRecords - records.length)
    if (this.#readPositionAtEnd()) {
      this.unreadRecords = 0
      this.oldestUnreadAt = null
    } else if (this.unreadRecords === 0) {
      // A backlog (replay after a restart, or a batch cut at maxRecords): read on at once.
      this.unreadRecords = 1
      this.oldestUnreadAt = 0
    }
    return { records, end: { ...this.#read } }
  }

  #readPositionAtEnd(): boolean {
    const last = this.#segments[this.#segments.length - 1]
    if (!last) return true
    return this.#read.segment > last.id || (this.#read.segment === last.id && this.#read.offset >= last.size)
  }

  async #readHandle(seg: Segment): Promise<FileHandle> {
    if (this.#readFh?.id === seg.id) return this.#readFh.fh
    if (this.#readFh) await this.#readFh.fh.close().catch(() => {})
    const fh = await open(seg.path, 'r')
    this.#readFh = { id: seg.id, fh }
    return fh
  }

  /** Moves the read position back to the checkpoint (after a failed insert is abandoned). */
  rewind(): void {
    this.#read = { ...this.#checkpoint }
    // What lies between the checkpoint and the end is unread again: make it due at once.
    if (!this.#readPositionAtEnd()) {
      this.unreadRecords = Math.max(1, this.unreadRecords)
      this.oldestUnreadAt = 0
    }
  }

  /** Records that everything before `pos` is stored in ClickHouse; drops consumed segments. */
  async commit(pos: SpoolPosition): Promise<void> {
    const tmp = join(this.#dir, 'checkpoint.json.tmp')
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(JSON.stringify(pos))
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(this.#dir, 'checkpoint.json'))
    await fsyncDir(this.#dir)
    this.#checkpoint = { ...pos }
    this.refusingSince = null
    const drop = this.#segments.filter(
      (s) => s.sealed && (s.id < pos.segment || (s.id === pos.segment && pos.offset >= s.size && this.#segments.some((t) => t.id > s.id))),
    )
    for (const s of drop) {
      if (this.#readFh?.id === s.id) {
        await this.#readFh.fh.close().catch(() => {})
        this.#readFh = null
      }
      await rm(s.path, { force: true })
    }
    this.#segments = this.#segments.filter((s) => !drop.includes(s))
  }

  /** Refuses further appends and waits for those pending (before a final drain). */
  async stopAppending(): Promise<void> {
    this.#closed = true
    while (this.#flushing) await this.#flushing
  }

  /** Waits for pending appends, then closes files. */
  async close(): Promise<void> {
    await this.stopAppending()
    await this.#sealActive()
    if (this.#readFh) await this.#readFh.fh.close().catch(() => {})
    this.#readFh = null
  }
}
