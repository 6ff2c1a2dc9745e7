// Seeded randomness and hashing: Math.random cannot be seeded, and a synthetic population or a
// clustering must be the same for the same seed on every machine and Node version.

/** A 32-bit hash of a text: FNV-1a over its UTF-16 code units from `basis`, then a murmur3 finaliser. */
export function hash32(text: string, basis = 0x811c9dc5): number {
  let h = basis
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** A 32-bit seed from any parts. */
export function seedOf(...parts: Array<string | number>): number {
  return hash32(parts.join('\u0001'))
}

/** mulberry32 (public domain, Tommy Ettinger): 32 bits of state, fast, good enough for simulation. */
export class Random {
  #a: number

  constructor(seed: number) {
    this.#a = seed >>> 0
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0
    let t = this.#a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }

  /** An index drawn with probability proportional to its weight (-1 when all weights are 0). */
  weighted(weights: readonly number[]): number {
    let total = 0
    for (const w of weights) total += w
    if (!(total > 0)) return -1
    let x = this.next() * total
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!
      if (x < 0) return i
    }
    return weights.length - 1
  }

  /** A normally distributed number (Box–Muller). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }

  /** An exponentially distributed number with this mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  /** `n` lower-case hex digits. */
  hex(n: number): string {
    let s = ''
    while (s.length < n)
      s += Math.floor(this.next() * 0x10000)
        .toString(16)
        .padStart(4, '0')
    return s.slice(0, n)
  }
}
