// Every browser global the SDK touches, read once here and possibly undefined (a worker, a
// server render, a locked-down WebView): nothing else in the SDK reads `window` directly.

/** The window, when there is one. */
export const win: (Window & typeof globalThis) | undefined = typeof window === 'undefined' ? undefined : window
/** The document, when there is one. */
export const doc: Document | undefined = win?.document
/** The navigator, when there is one. */
export const nav: Navigator | undefined = win?.navigator

/** localStorage, or undefined where reading it throws (sandboxed frames, blocked storage). */
export function localStorageOrNone(): Storage | undefined {
  try {
    return win?.localStorage
  } catch {
    return undefined
  }
}
