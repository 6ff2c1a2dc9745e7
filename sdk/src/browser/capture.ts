import { doc, win } from './globals.ts'

/** Content ids of what the page shows (`data-attune-content`, not inside `hidden`), which the needs models weigh. */
export function contentIds(): string[] {
  const ids = new Set<string>()
  doc?.querySelectorAll('[data-attune-content]').forEach((el) => {
    if (!el.closest('[hidden]')) for (const id of (el.getAttribute('data-attune-content') ?? '').split(/[\s,]+/)) if (id) ids.add(id)
  })
  return [...ids]
}

/** The page as the collector reads it (UTM fields come from `url`). */
export function pageContext(): Record<string, unknown> {
  const l = win?.location
  return l && doc ? { page: { path: l.pathname, url: l.href, title: doc.title, referrer: doc.referrer } } : {}
}

/** Calls `onChange` when a single-page app moves to another path or query (pushState, replaceState, back/forward). */
export function watchNavigation(onChange: () => void): void {
  const h = win?.history
  if (!h) return
  let last = win!.location.pathname + win!.location.search
  const check = () => {
    const now = win!.location.pathname + win!.location.search
    if (now !== last) {
      last = now
      // After the app has shown the new view (it changes the address first), so its content ids count.
      setTimeout(onChange, 0)
    }
  }
  for (const name of ['pushState', 'replaceState'] as const) {
    const original = h[name]
    h[name] = function (this: History, ...args: Parameters<History['pushState']>) {
      const r = original.apply(this, args)
      check()
      return r
    }
  }
  win!.addEventListener('popstate', check)
}

/** Calls `onGoal` for clicks on elements with `data-attune-goal` (and an optional `data-attune-value`). */
export function watchGoals(onGoal: (name: string, props: Record<string, unknown>) => void): void {
  doc?.addEventListener(
    'click',
    (e) => {
      const el = (e.target as Element | null)?.closest?.('[data-attune-goal]')
      if (!el) return
      const value = Number(el.getAttribute('data-attune-value'))
      const href = el.getAttribute('href')
      onGoal(el.getAttribute('data-attune-goal')!, { ...(value ? { value } : {}), ...(href ? { href } : {}) })
    },
    true,
  )
}

/**
 * The signed token of an Attune e-mail or SMS link (`atn` in the query), taken out of the address
 * bar with replaceState so it is neither bookmarked nor shared; the channel is read from its
 * payload (the collector verifies the signature, the SDK does not need to).
 */
export function takeClickToken(): { token: string; channel: 'email' | 'sms'; url: string } | null {
  const l = win?.location
  if (!l?.search.includes('atn=')) return null
  const url = new URL(l.href)
  const token = url.searchParams.get('atn')
  if (!token) return null
  url.searchParams.delete('atn')
  try {
    win!.history.replaceState(win!.history.state, '', url.pathname + url.search + url.hash)
  } catch {
    // A sandboxed frame may refuse; the token is still sent once.
  }
  let channel: 'email' | 'sms' = 'email'
  try {
    const payload = JSON.parse(atob(token.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/'))) as { ch?: string }
    if (payload.ch === 'sms') channel = 'sms'
  } catch {
    // Not a token we can read: sent as an e-mail click; the collector says it is invalid.
  }
  return { token, channel, url: url.href }
}
