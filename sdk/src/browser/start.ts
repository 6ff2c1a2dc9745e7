import { Tracker, type Consent } from '../core/tracker.ts'
import type { Sender, Store } from '../core/types.ts'
import { contentIds, pageContext, takeClickToken, watchGoals, watchNavigation } from './capture.ts'
import { doc, nav, win } from './globals.ts'
import { consentStore, cookieStore, localStore } from './storage.ts'
import { send as browserSend } from './transport.ts'

/** How a site starts the SDK (the script tag's data attributes, or the ESM options). */
export interface StartOptions {
  writeKey: string
  /** Collector origin; default: where the script came from. */
  host: string
  /** Keep the anonymous id in a first-party cookie instead of localStorage. */
  cookie?: boolean
  /** Send and store nothing until `consent({analytics: true})`. */
  requireConsent?: boolean
  /** Page views, SPA navigation, goal clicks, link tokens, slots: on unless false. */
  autocapture?: boolean
  /** Where the personalisation chunk is loaded from (the script build sets it). */
  loadPersonalisation?: (api: PersonalisationApi) => void
  /** For tests: storage and transport. */
  store?: Store
  send?: Sender
}

/** What the lazily loaded personalisation chunk gets from the core. */
export interface PersonalisationApi {
  host: string
  writeKey: string
  ids(): { anonymousId: string; userId?: string }
  track(event: string, props: Record<string, unknown>): void
  page(): Record<string, unknown>
}

/** The SDK's commands, as `attune('track', …)` or `api.track(…)`. */
export interface Attune {
  page(properties?: Record<string, unknown>): void
  track(event: string, properties?: Record<string, unknown>): void
  goal(name: string, properties?: Record<string, unknown>): void
  /** Links the browser to a patient; `traits.token` is the identity token the site's backend signed for `patientId` (without it the collector keeps the browser anonymous). */
  identify(patientId: string, traits?: { token?: string } & Record<string, unknown>): void
  reset(): void
  consent(c: Consent): void
  flush(): Promise<void>
}

const CONSENT_KEY = 'attune_consent'

/** Global Privacy Control or Do Not Track: honoured unless the site states consent itself. */
function privacySignal(): boolean {
  const n = nav as (Navigator & { globalPrivacyControl?: boolean }) | undefined
  return n?.globalPrivacyControl === true || n?.doNotTrack === '1'
}

/** Starts tracking in this page. @example start({ writeKey: 'pk_…', host: 'https://collect.example.org' }).goal('diary_downloaded') */
export function start(o: StartOptions): Attune {
  const base = o.store ?? localStore()
  const device = o.cookie ? cookieStore(base) : base
  let stated: Consent | undefined
  try {
    stated = JSON.parse(device.get(CONSENT_KEY) ?? 'null') ?? undefined
  } catch {
    stated = undefined
  }
  const analytics = () => stated?.analytics ?? (!o.requireConsent && !privacySignal())
  const store = consentStore(device, analytics)
  const tracker = new Tracker({
    writeKey: o.writeKey,
    host: o.host,
    send: o.send ?? browserSend,
    store,
    context: () => ({ ...pageContext(), locale: nav?.language }),
  })
  tracker._queue._enabled = analytics()
  const guard =
    <A extends unknown[]>(f: (...a: A) => void) =>
    (...a: A): void => {
      try {
        // Consent refused: nothing is made at all. Not yet stated: made and held in memory.
        if (stated?.analytics !== false) f(...a)
      } catch {
        // Nothing the SDK does may throw into the host page.
      }
    }
  const page = guard((props: Record<string, unknown> = {}) => {
    const content = contentIds()
    tracker._page({ ...props, ...(content.length ? { content } : {}) })
  })
  const api: Attune = {
    page,
    track: guard((e: string, p?: Record<string, unknown>) => tracker._track(String(e), p)),
    goal: guard((n: string, p?: Record<string, unknown>) => tracker._goal(String(n), p)),
    identify: guard((id: string, t?: Record<string, unknown>) => tracker._identify(String(id), t)),
    reset: guard(() => tracker._reset()),
    consent(c) {
      try {
        stated = { ...stated, ...c }
        if (stated.analytics) {
          store.commit()
          device.set(CONSENT_KEY, JSON.stringify(stated))
          tracker._queue._enabled = true
          void tracker._flush()
        } else {
          tracker._queue._enabled = false
          tracker._forget()
          device.del(CONSENT_KEY)
        }
      } catch {
        // Never into the host page.
      }
    },
    flush: () => tracker._flush().catch(() => {}),
  }
  if (o.autocapture === false || !win || !doc) return api

  const link = takeClickToken()
  if (link) api.track(link.channel === 'sms' ? 'sms_click' : 'email_click', { token: link.token, url: link.url })
  page()
  watchNavigation(() => page())
  watchGoals((name, props) => api.goal(name, props))
  // Hidden is the last moment a mobile browser reliably gives; pagehide covers the rest. Back
  // online, the retry backoff (at most 30 s) sends what waited.
  const bye = () => {
    if (doc!.visibilityState === 'hidden' && tracker._queue._enabled) tracker._queue._beacon()
  }
  doc.addEventListener('visibilitychange', bye)
  win.addEventListener('pagehide', bye)
  if (o.loadPersonalisation && doc.querySelector('[data-attune-slot],[data-attune-questionnaire]') && (stated?.personalisation ?? analytics())) {
    o.loadPersonalisation({
      host: o.host,
      writeKey: o.writeKey,
      ids: () => ({ anonymousId: tracker._aid(), ...(tracker._uid() ? { userId: tracker._uid() } : {}) }),
      track: (e, p) => api.track(e, p),
      page: pageContext,
    })
  }
  return api
}
