import { Queue } from './queue.ts'
import type { MessageBody, Sender, Store } from './types.ts'

/** The SDK's name and version, on every message (the wire payload is pinned by a golden test). */
export const LIBRARY = { name: 'attune.js', version: '0.1.0' }

/** What a tracker is built from. */
export interface TrackerOptions {
  writeKey: string
  /** Collector origin, e.g. `https://collect.example.org`. */
  host: string
  send: Sender
  store: Store
  /** Context added to every message (page, locale, …), read when the message is made. */
  context?: () => Record<string, unknown>
}

/** Consent as the site states it; undefined: not stated. */
export interface Consent {
  analytics?: boolean
  personalisation?: boolean
}

const ANON_KEY = 'attune_aid'
const USER_KEY = 'attune_uid'
const TOKEN_KEY = 'attune_itk'
const SESSION_KEY = 'attune_sess'
/** A session ends after 30 minutes without an event (the web analytics convention). */
export const SESSION_MS = 30 * 60 * 1000

/** A v4 UUID from crypto.getRandomValues, for browsers without crypto.randomUUID. */
export function uuid(): string {
  const c = globalThis.crypto
  // randomUUID exists only in secure contexts (https, localhost); getRandomValues everywhere.
  return c.randomUUID
    ? c.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (d) => (+d ^ (c.getRandomValues(new Uint8Array(1))[0]! & (15 >> (+d / 4)))).toString(16))
}

/**
 * Ids, sessions and messages, independent of the DOM: the browser layer feeds it page views and
 * clicks, the queue sends what it makes.
 */
export class Tracker {
  _o: TrackerOptions
  _queue: Queue

  constructor(o: TrackerOptions) {
    this._o = o
    this._queue = new Queue({ url: `${o.host}/v1/batch`, writeKey: o.writeKey, send: o.send, store: o.store })
  }

  /** The browser's anonymous id, made on first use. */
  _aid(): string {
    let id = this._o.store.get(ANON_KEY)
    if (!id) this._o.store.set(ANON_KEY, (id = uuid()))
    return id
  }

  _uid(): string | undefined {
    return this._o.store.get(USER_KEY) ?? undefined
  }

  /** The session id: a new one after SESSION_MS without an event. */
  _session(): string {
    const now = Date.now()
    const [id, last] = (this._o.store.get(SESSION_KEY) ?? '').split('.')
    const current = id && now - Number(last) < SESSION_MS ? id : uuid()
    this._o.store.set(SESSION_KEY, `${current}.${now}`)
    return current
  }

  _send(m: MessageBody & { context?: Record<string, unknown> }): void {
    const userId = this._uid()
    // The collector takes the patient id only with the token the site's backend signed for it.
    const token = userId && this._o.store.get(TOKEN_KEY)
    this._queue._push({
      ...m,
      messageId: uuid(),
      timestamp: new Date().toISOString(),
      anonymousId: this._aid(),
      ...(userId ? { userId } : {}),
      context: { ...this._o.context?.(), ...m.context, library: LIBRARY, sessionId: this._session(), ...(token ? { identityToken: token } : {}) },
    })
  }

  /** @example tracker.page({ content: ['itch-basics'] }) */
  _page(properties: Record<string, unknown> = {}, name?: string): void {
    this._send({ type: 'page', ...(name ? { name } : {}), properties })
  }

  /** @example tracker.track('diary_downloaded', { format: 'pdf' }) */
  _track(event: string, properties: Record<string, unknown> = {}): void {
    this._send({ type: 'track', event, properties })
  }

  /** A goal reached: a `goal_reached` event naming it (programs weigh goals by name). */
  _goal(name: string, properties: Record<string, unknown> = {}): void {
    this._track('goal_reached', { ...properties, goal: name })
  }

  /**
   * Links this browser to a pseudonymous patient id, proven by the identity token the site's
   * backend signed for it (`traits.token`, kept on the device and sent with every message, never
   * as a trait); without one the collector keeps the browser anonymous.
   * @example tracker.identify('p-000123', { token: 'eyJ2Ijox…' })
   */
  _identify(userId: string, traits: Record<string, unknown> = {}): void {
    const { token, ...rest } = traits
    // Another patient on this browser (a shared computer, no logout): a new anonymous id and
    // session, so what this browser does from now on is never the first patient's.
    const before = this._uid()
    // biome-ignore lint/suspicious/noDoubleEquals: a page may pass a number; the stored id is its text, and 42 is the same patient as '42'
    if (before && before != userId) for (const k of [ANON_KEY, SESSION_KEY]) this._o.store.del(k)
    this._o.store.set(USER_KEY, String(userId))
    if (typeof token === 'string') this._o.store.set(TOKEN_KEY, token)
    else this._o.store.del(TOKEN_KEY)
    this._send({ type: 'identify', traits: rest })
  }

  /** Forgets the patient and the anonymous id (a shared computer, a logout); what is queued still goes. */
  _reset(): void {
    for (const k of [ANON_KEY, USER_KEY, TOKEN_KEY, SESSION_KEY]) this._o.store.del(k)
  }

  /** Consent withdrawn: nothing queued is sent and nothing stays on the device. */
  _forget(): void {
    this._queue._clear()
    this._reset()
  }

  _flush(): Promise<void> {
    return this._queue._flush()
  }
}
