import type { Store } from '../core/types.ts'
import { doc, localStorageOrNone } from './globals.ts'

/** A store in memory only (nothing on the device). */
export function memoryStore(): Store {
  const m = new Map<string, string>()
  return { get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v), del: (k) => void m.delete(k) }
}

/** localStorage, falling back to memory; writes that fail (quota) are ignored. */
export function localStore(): Store {
  const s = localStorageOrNone()
  if (!s) return memoryStore()
  // Full, or blocked (Safari private mode): the page goes on and the value is lost.
  const safe =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R | null => {
      try {
        return f(...a)
      } catch {
        return null
      }
    }
  return { get: safe((k) => s.getItem(k)), set: safe((k, v) => s.setItem(k, v)), del: safe((k) => s.removeItem(k)) }
}

/** The anonymous id in a first-party cookie (`data-cookie`), so subdomains share it; the rest in `rest`. */
export function cookieStore(rest: Store, days = 365): Store {
  const name = 'attune_aid'
  return {
    get: (k) => (k === name ? (doc?.cookie.match(/(?:^|; )attune_aid=([^;]*)/)?.[1] ?? null) : rest.get(k)),
    set: (k, v) => (k === name && doc ? void (doc.cookie = `${name}=${v}; path=/; max-age=${days * 86400}; samesite=lax`) : rest.set(k, v)),
    del: (k) => (k === name && doc ? void (doc.cookie = `${name}=; path=/; max-age=0`) : rest.del(k)),
  }
}

/**
 * Writes go to memory until `allowed()`; then to `device`, with what was held so far (guarantee
 * P9: nothing is stored on the device before consent when the program requires it).
 */
export function consentStore(device: Store, allowed: () => boolean): Store & { commit(): void } {
  const held = memoryStore()
  const keys = new Set<string>()
  return {
    get: (k) => (allowed() ? device.get(k) : (held.get(k) ?? null)),
    set: (k, v) => (allowed() ? device.set(k, v) : (keys.add(k), held.set(k, v))),
    // Forgetting is always allowed (consent withdrawn clears the device).
    del: (k) => (held.del(k), keys.delete(k), device.del(k)),
    commit() {
      for (const k of keys) {
        const v = held.get(k)
        if (v !== null) device.set(k, v)
      }
      keys.clear()
    },
  }
}
