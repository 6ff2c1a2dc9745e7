import type { ProgramKey } from '../../analytics/index.ts'

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
 * Looks keys up by value and answers whether an origin may use a write key. Replaced in place
 * when a program document changes, so every holder of the index sees the new keys at once.
 */
export class KeyIndex {
  #byKey = new Map<string, { key: ProgramKey; origins: Array<(o: string) => boolean> }>()
  #anyOrigin: Array<(o: string) => boolean> = []

  constructor(keys: readonly ProgramKey[]) {
    this.replace(keys)
  }

  /** Makes these the only keys: lookups and origin answers from here on use them. */
  replace(keys: readonly ProgramKey[]): void {
    const byKey = new Map<string, { key: ProgramKey; origins: Array<(o: string) => boolean> }>()
    const anyOrigin: Array<(o: string) => boolean> = []
    for (const k of keys) {
      const origins = k.origins.map(originMatcher)
      byKey.set(k.key, { key: k, origins })
      anyOrigin.push(...origins)
    }
    this.#byKey = byKey
    this.#anyOrigin = anyOrigin
    this.#answers.clear()
  }

  /** The key with this value, if any. */
  find(value: string): ProgramKey | undefined {
    return this.#byKey.get(value)?.key
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
    const entry = this.#byKey.get(value)
    if (!entry) return false
    return this.#remember(`${value}\n${origin}`, () => entry.origins.some((m) => m(origin)))
  }

  /** Whether any write key allows this origin: the answer to a CORS preflight, which carries no key. */
  anyKeyAllows(origin: string): boolean {
    if (!origin) return false
    return this.#remember(`\n${origin}`, () => this.#anyOrigin.some((m) => m(origin)))
  }
}
