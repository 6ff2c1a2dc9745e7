// The script-tag build: `<script async src="https://HOST/attune.js" data-key="pk_…"></script>`,
// with the stub `window.attune = window.attune || function(){(attune.q=attune.q||[]).push(arguments)}`
// so calls made before the script loads are replayed in order.
import { doc, win } from '../browser/globals.ts'
import { start, type Attune, type PersonalisationApi } from '../browser/start.ts'

type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[] }
type Global = { attune?: Stub; attunePersonalise?: (api: PersonalisationApi) => void }

// Set for classic scripts, async ones included, while they first run.
const script = doc?.currentScript as HTMLScriptElement | null
const key = script?.getAttribute('data-key')
if (win && script && key) {
  const src = new URL(script.src, win.location.href)
  const attr = (n: string) => script.hasAttribute(`data-${n}`)
  const api: Attune = start({
    writeKey: key,
    host: (script.getAttribute('data-host') ?? src.origin).replace(/\/$/, ''),
    cookie: attr('cookie'),
    requireConsent: attr('require-consent'),
    // The personalisation chunk sits beside this script (same version) and is fetched only by
    // pages with a slot or a questionnaire.
    loadPersonalisation: (p) => {
      const s = doc!.createElement('script')
      s.src = new URL('attune-personalise.js', src).href
      s.async = true
      s.onload = () => (win as Global).attunePersonalise?.(p)
      doc!.head.appendChild(s)
    },
  })
  const queued = (win as Global).attune?.q ?? []
  const command: Stub = (name, ...args) => {
    const f = api[name as keyof Attune] as ((...a: unknown[]) => unknown) | undefined
    if (typeof f === 'function') return f(...args)
  }
  ;(win as Global).attune = command
  for (const args of Array.from(queued)) command(...(Array.from(args) as [unknown, ...unknown[]]))
}
