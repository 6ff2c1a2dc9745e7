import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32 } from 'node:zlib'
import { decodeFrames, encodeFrame, encodeFrames, HEADER_BYTES, MAX_PAYLOAD_BYTES } from './frame.ts'

// Payloads are UTF-8 JSON in the spool; the resync after damage relies on 0xFF never
// occurring in them, so the generators produce UTF-8 text (any code point, also NUL).
const payloadArb = fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s, 'utf8'))
const payloadsArb = fc.array(payloadArb, { minLength: 0, maxLength: 40 })

interface Layout {
  buf: Buffer
  /** [start, end) of each frame in `buf`. */
  spans: Array<[number, number]>
}

function layout(payloads: Buffer[]): Layout {
  const frames = payloads.map(encodeFrame)
  const spans: Array<[number, number]> = []
  let pos = 0
  for (const f of frames) {
    spans.push([pos, pos + f.length])
    pos += f.length
  }
  return { buf: Buffer.concat(frames), spans }
}

/** Truncates `buf` at `cut` and XORs the bytes at `flips` (offsets taken modulo the length). */
function damage(l: Layout, cutFraction: number | null, flips: Array<{ at: number; xor: number }>): { buf: Buffer; touched: Set<number>; cut: number } {
  const cut = cutFraction === null ? l.buf.length : Math.floor(cutFraction * l.buf.length)
  const buf = Buffer.from(l.buf.subarray(0, cut))
  const touched = new Set<number>()
  if (buf.length > 0) {
    for (const { at, xor } of flips) {
      const i = at % buf.length
      buf[i] = buf[i]! ^ xor
      touched.add(i)
    }
  }
  // Two flips at one offset may cancel out; only bytes that differ count as damage.
  for (const i of [...touched]) if (buf[i] === l.buf[i]) touched.delete(i)
  return { buf, touched, cut }
}

/** Indices of frames whose bytes all survived: wholly before the cut and none changed. */
function intactFrames(l: Layout, cut: number, touched: Set<number>): number[] {
  const out: number[] = []
  l.spans.forEach(([s, e], i) => {
    if (e > cut) return
    for (const t of touched) if (t >= s && t < e) return
    out.push(i)
  })
  return out
}

/** Decodes `buf` fed in chunks as a tailing reader would: non-final, carrying the unconsumed rest. */
function decodeStreaming(buf: Buffer, cuts: number[]): { records: Buffer[]; damaged: number; skippedBytes: number } {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b)
  const records: Buffer[] = []
  let damaged = 0
  let skippedBytes = 0
  let start = 0
  for (const p of [...points, buf.length]) {
    const final = p === buf.length
    if (p < start) continue
    // Like the spool reader, read again from the first unconsumed byte up to the new end.
    for (let guard = 0; guard < 10_000; guard++) {
      const chunk = buf.subarray(start, p)
      const r = decodeFrames(chunk, final)
      records.push(...r.records.map((x) => Buffer.from(x)))
      damaged += r.damaged
      skippedBytes += r.skippedBytes
      start += r.consumed
      if (r.consumed === 0 || start >= p) break
    }
  }
  return { records, damaged, skippedBytes }
}

describe('frame', () => {
  it('round-trips payloads in order, with the header layout documented in frame.ts', () => {
    const payloads = ['{"a":1}', '', 'ü€𝄞', 'x'.repeat(5000)].map((s) => Buffer.from(s))
    const buf = Buffer.concat(payloads.map(encodeFrame))
    expect(buf.length).toBe(payloads.reduce((n, p) => n + p.length + HEADER_BYTES, 0))
    expect(buf.readUInt32LE(4)).toBe(payloads[0]!.length)
    const r = decodeFrames(buf, true)
    expect(r.records.map(String)).toEqual(payloads.map(String))
    expect(r).toMatchObject({ consumed: buf.length, damaged: 0, skippedBytes: 0 })
  })

  it('refuses a payload above the limit', () => {
    expect(() => encodeFrame(Buffer.alloc(MAX_PAYLOAD_BYTES + 1))).toThrow(RangeError)
    expect(decodeFrames(encodeFrame(Buffer.alloc(MAX_PAYLOAD_BYTES, 0x41)), true).records[0]!.length).toBe(MAX_PAYLOAD_BYTES)
  })

  it('stops at maxRecords and reports where to continue', () => {
    const l = layout(['a', 'bb', 'ccc'].map((s) => Buffer.from(s)))
    const r = decodeFrames(l.buf, true, 2)
    expect(r.records.map(String)).toEqual(['a', 'bb'])
    expect(r.consumed).toBe(l.spans[1]![1])
    expect(decodeFrames(l.buf.subarray(r.consumed), true).records.map(String)).toEqual(['ccc'])
  })

  it('a non-final decode leaves an incomplete tail for the next read, a final one skips and counts it', () => {
    const l = layout(['one', 'two'].map((s) => Buffer.from(s)))
    const torn = l.buf.subarray(0, l.buf.length - 2)
    const open = decodeFrames(torn, false)
    expect(open.records.map(String)).toEqual(['one'])
    expect(open).toMatchObject({ consumed: l.spans[0]![1], damaged: 0, skippedBytes: 0 })
    const sealed = decodeFrames(torn, true)
    expect(sealed.records.map(String)).toEqual(['one'])
    expect(sealed).toMatchObject({ consumed: torn.length, damaged: 1, skippedBytes: torn.length - l.spans[0]![1] })
  })

  it('round-trips random payload lists (fast-check)', () => {
    fc.assert(
      fc.property(payloadsArb, (payloads) => {
        const l = layout(payloads)
        const r = decodeFrames(l.buf, true)
        expect(r.records).toEqual(payloads)
        expect(r.damaged).toBe(0)
        expect(r.consumed).toBe(l.buf.length)
      }),
      { numRuns: 300 },
    )
  })

  // D4: truncated and flipped bytes at random offsets; every complete record comes back, in
  // order, nothing is invented, and the damage is counted.
  it('recovers every intact record after truncation and byte flips, and counts the damage (fast-check)', () => {
    fc.assert(
      fc.property(
        payloadsArb,
        fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { nil: null }),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 6 }),
        (payloads, cutFraction, flips) => {
          const l = layout(payloads)
          const d = damage(l, cutFraction, flips)
          const intact = intactFrames(l, d.cut, d.touched)
          const r = decodeFrames(d.buf, true)
          expect(r.records).toEqual(intact.map((i) => payloads[i]))
          expect(r.consumed).toBe(d.buf.length)
          // Every byte is either part of a recovered frame or counted as skipped.
          expect(r.skippedBytes).toBe(d.buf.length - r.records.reduce((n, p) => n + HEADER_BYTES + p.length, 0))
          const lost = l.spans.some(([s], i) => s < d.cut && !intact.includes(i))
          expect(r.damaged > 0).toBe(lost)
          expect(r.damaged).toBeLessThanOrEqual(payloads.length - intact.length)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('decoding in arbitrary chunks (a reader tailing the active segment) finds the same records (fast-check)', () => {
    fc.assert(
      fc.property(
        payloadsArb,
        fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { nil: null }),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (payloads, cutFraction, flips, cuts) => {
          const l = layout(payloads)
          const d = damage(l, cutFraction, flips)
          const intact = intactFrames(l, d.cut, d.touched)
          const r = decodeStreaming(d.buf, cuts)
          expect(r.records).toEqual(intact.map((i) => payloads[i]))
          expect(r.skippedBytes).toBe(d.buf.length - r.records.reduce((n, p) => n + HEADER_BYTES + p.length, 0))
          const lost = l.spans.some(([s], i) => s < d.cut && !intact.includes(i))
          expect(r.damaged > 0).toBe(lost)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('a corrupted length field does not swallow the record after it', () => {
    const l = layout(['first', 'second', 'third'].map((s) => Buffer.from(s)))
    const buf = Buffer.from(l.buf)
    buf[l.spans[0]![0] + 7] = 0x40 // length of the first record now > MAX_PAYLOAD_BYTES
    for (const final of [true, false]) {
      // Cut inside the second record's magic, as a tailing read may.
      const chunk = final ? buf : buf.subarray(0, l.spans[1]![0] + 2)
      const r = decodeFrames(chunk, final)
      if (final) expect(r.records.map(String)).toEqual(['second', 'third'])
      else {
        expect(r.records).toEqual([])
        expect(r.consumed).toBeLessThanOrEqual(l.spans[1]![0])
        expect(decodeFrames(buf.subarray(r.consumed), true).records.map(String)).toEqual(['second', 'third'])
      }
    }
  })
})

/** The record layout written out by hand: magic, length (u32 LE), CRC32 (u32 LE), payload. */
function referenceFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(HEADER_BYTES)
  head.set([0xff, 0xa7, 0x5e, 0xff], 0)
  head.writeUInt32LE(payload.length, 4)
  head.writeUInt32LE(crc32(payload), 8)
  return Buffer.concat([head, payload])
}

describe('encodeFrames', () => {
  it('writes the documented layout for text and byte payloads, in one buffer of its own', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 30 }), (payloads) => {
        const together = encodeFrames(payloads)
        const asBytes = payloads.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))
        expect(together.equals(Buffer.concat(asBytes.map(referenceFrame)))).toBe(true)
        expect(together.byteOffset).toBe(0)
        expect(together.buffer.byteLength).toBe(together.length)
        expect(decodeFrames(together, true).records).toEqual(asBytes)
      }),
      { numRuns: 300 },
    )
  })
})
