import { secretHash, type ProgramKey } from '../../analytics/index.ts'

/** Compiles an origin pattern (`https://*.example.com`, `http://localhost:*`) to a matcher. */
export function originMatcher(pattern: string): (origin: string) => boolean {
  const m = /^(https?):\/\/(\*\.)?([^:/]+|\[[0-9a-f:]+\])(?::(\d+|\*))?$/i.exec(pattern)
  if (!m) return () => false
  const [, scheme, wildcard, host, port] = m
  const defaultPort = scheme!.toLowerCase() === 'https' ? '443' : '80'
  return (origin: string) => {
    let u: URL
    try {
      u = new URL(origin)
    } catch {
      return false
    }
    if (u.protocol !== `${scheme!.toLowerCase()}:`) return false
    const h = u.hostname.toLowerCase()
    const want = host!.toLowerCase()
    if (wildcard ? !h.endsWith(`.${want}`) : h !== want) return false
    const p = u.port || defaultPort
    return port === '*' || p === (port ?? defaultPort)
  }
}

/**
 * Looks keys up by value through their SHA-256 (the index is built from hashes; the values of
 * recent requests are remembered in memory only, to spare the hashing) and answers whether an
 * origin may use a write key. Replaced in place when a program document changes, so
 * every holder of the index sees the new keys at once.
 */
export class KeyIndex {
  #byHash = new Map<string, { key: ProgramKey; origins: Array<(o: string) => boolean> }>()
  #anyOrigin: Array<(o: string) => boolean> = []
  // The same few keys arrive on every request: their hashes are remembered (bounded, since any
  // caller can send any text as a key).
  readonly #hashes = new Map<string, string>()

  constructor(keys: readonly ProgramKey[]) {
    this.replace(keys)
  }

  /** Makes these the only keys: lookups and origin answers from here on use them. */
  replace(keys: readonly ProgramKey[]): void {
    const byHash = new Map<string, { key: ProgramKey; origins: Array<(o: string) => boolean> }>()
    const anyOrigin: Array<(o: string) => boolean> = []
    for (const k of keys) {
      const origins = k.origins.map(originMatcher)
      byHash.set(k.hash, { key: k, origins })
      anyOrigin.push(...origins)
    }
    this.#byHash = byHash
    this.#anyOrigin = anyOrigin
    this.#answers.clear()
  }

  #hash(value: string): string {
    let h = this.#hashes.get(value)
    if (h === undefined) {
      h = secretHash(value)
      if (this.#hashes.size >= 1_000) this.#hashes.clear()
      this.#hashes.set(value, h)
    }
    return h
  }

  /** The key with this value, if any. */
  find(value: string): ProgramKey | undefined {
    return this.#byHash.get(this.#hash(value))?.key
  }

  /** The key with this hash, if any. */
  byHash(hash: string): ProgramKey | undefined {
    return this.#byHash.get(hash)?.key
  }

  // A site's browsers send the same Origin on every request, and each request asks twice (CORS
  // headers, then the key's allowlist): answers are remembered instead of parsing the URL per pattern.
  readonly #answers = new Map<string, boolean>()

  #remember(cacheKey: string, answer: () => boolean): boolean {
    let a = this.#answers.get(cacheKey)
    if (a === undefined) {
      a = answer()
      if (this.#answers.size >= 10_000) this.#answers.clear()
      this.#answers.set(cacheKey, a)
    }
    return a
  }

  /** Whether a write key may be used from this origin (K2). */
  originAllowed(value: string, origin: string): boolean {
    const hash = this.#hash(value)
    const entry = this.#byHash.get(hash)
    if (!entry) return false
    return this.#remember(`${hash}\n${origin}`, () => entry.origins.some((m) => m(origin)))
  }

  /** Whether any write key allows this origin: the answer to a CORS preflight, which carries no key. */
  anyKeyAllows(origin: string): boolean {
    if (!origin) return false
    return this.#remember(`\n${origin}`, () => this.#anyOrigin.some((m) => m(origin)))
  }
}
