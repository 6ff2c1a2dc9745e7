import { crc32 } from 'node:zlib'

// Record layout: MAGIC(4) | payload length (u32 LE) | CRC32 of the payload (u32 LE) | payload.
// 0xFF never occurs in UTF-8, and payloads are UTF-8 JSON, so a scan for MAGIC after damage
// can only stop at a real header (or inside another header's length/CRC, which then fails).
const MAGIC = Buffer.from([0xff, 0xa7, 0x5e, 0xff])
/** Bytes of a frame header. */
export const HEADER_BYTES = 12
/** Largest payload a frame may carry; anything longer is damage, not data. */
export const MAX_PAYLOAD_BYTES = 1 << 20

/**
 * Frames payloads (UTF-8 text or bytes) back to back in one buffer of its own, transferable
 * from a worker, each written once in place: no per-record buffer, no second copy.
 */
export function encodeFrames(payloads: ReadonlyArray<string | Uint8Array>): Buffer {
  const lengths = new Array<number>(payloads.length)
  let total = 0
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!
    const n = typeof p === 'string' ? Buffer.byteLength(p) : p.byteLength
    if (n > MAX_PAYLOAD_BYTES) throw new RangeError(`spool record of ${n} bytes exceeds ${MAX_PAYLOAD_BYTES}`)
    lengths[i] = n
    total += HEADER_BYTES + n
  }
  const out = Buffer.from(new ArrayBuffer(total))
  let pos = 0
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!
    const n = lengths[i]!
    MAGIC.copy(out, pos)
    out.writeUInt32LE(n, pos + 4)
    if (typeof p === 'string') out.write(p, pos + HEADER_BYTES, n, 'utf8')
    else out.set(p, pos + HEADER_BYTES)
    out.writeUInt32LE(crc32(out.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + n)), pos + 8)
    pos += HEADER_BYTES + n
  }
  return out
}

/** Wraps one payload in a frame. */
export function encodeFrame(payload: string | Uint8Array): Buffer {
  return encodeFrames([payload])
}

/** What a scan of a byte range found. */
export interface DecodeResult {
  /** Complete, checksummed payloads in order. */
  records: Buffer[]
  /** Bytes consumed from the start of the buffer; the rest must be read again with more data. */
  consumed: number
  /** Damaged stretches skipped (each counted once). */
  damaged: number
  /** Bytes skipped as damage or torn tail. */
  skippedBytes: number
}

/**
 * Decodes frames from `buf`. With `final` (the end of a sealed segment) an incomplete tail is
 * damage and skipped; otherwise decoding stops before it so the caller can read more.
 * Stops after `maxRecords` records.
 */
export function decodeFrames(buf: Buffer, final: boolean, maxRecords = Infinity): DecodeResult {
  const records: Buffer[] = []
  let pos = 0
  let damaged = 0
  let skippedBytes = 0
  let inDamage = false
  const skipTo = (next: number) => {
    if (!inDamage) damaged++
    inDamage = true
    skippedBytes += next - pos
    pos = next
  }
  // Skips to the next MAGIC after `pos`. Without one, a non-final buffer keeps its last
  // MAGIC.length - 1 bytes: they may be the start of a header cut by the end of the read, and
  // skipping them would lose that whole record. Returns false when decoding must stop there.
  const resync = (): boolean => {
    const found = buf.indexOf(MAGIC, pos + 1)
    if (found !== -1) skipTo(found)
    else if (final) skipTo(buf.length)
    else {
      skipTo(Math.max(pos + 1, buf.length - MAGIC.length + 1))
      return false
    }
    return true
  }
  while (pos < buf.length && records.length < maxRecords) {
    if (buf.length - pos < HEADER_BYTES) {
      if (!final) break
      skipTo(buf.length)
      break
    }
    if (buf[pos] !== MAGIC[0] || buf[pos + 1] !== MAGIC[1] || buf[pos + 2] !== MAGIC[2] || buf[pos + 3] !== MAGIC[3]) {
      if (!resync()) break
      continue
    }
    const len = buf.readUInt32LE(pos + 4)
    if (len > MAX_PAYLOAD_BYTES) {
      if (!resync()) break
      continue
    }
    const end = pos + HEADER_BYTES + len
    if (end > buf.length) {
      if (!final) break
      resync()
      continue
    }
    const payload = buf.subarray(pos + HEADER_BYTES, end)
    if (crc32(payload) !== buf.readUInt32LE(pos + 8)) {
      if (!resync()) break
      continue
    }
    records.push(payload)
    inDamage = false
    pos = end
  }
  return { records, consumed: pos, damaged, skippedBytes }
}
