import {
  isContentUsable,
  matchesUrlPattern,
  programKey,
  secretForm,
  type ContentItem,
  type Goal,
  type Program,
  type ProgramKey,
} from '../../analytics/index.ts'
import { localMidnights } from './local-days.ts'

/** Offline and messaging channels whose events a backend sends with a secret key. */
export type SenderChannel = 'server' | 'email' | 'sms' | 'call' | 'print'

/** A page of the program's site: its path and the catalogue items a view of it touches. */
export interface Page {
  path: string
  title: string
  /** Every item whose URL patterns match the path (what the collector's needs step adds). */
  items: number[]
  /** The item the page was made for (sent as `properties.content`), or -1. */
  primary: number
  /** The need weights a view adds, summed over `items`, in `World.needs` order. */
  weights: number[]
}

/** A goal the generator reaches with an event of its own making (not a page, answer, click or call). */
export interface EmittedGoal {
  goal: Goal
  event: string
  properties: Record<string, string | number | boolean>
  channel: SenderChannel | 'web'
}

/** The program as the generator sees it: keys, pages, content per channel and day, goals, all precomputed. */
export interface World {
  program: Program
  needs: string[]
  days: number
  now: number
  /** UTC instant of local midnight of each simulated day, oldest first. */
  midnights: number[]
  content: ContentItem[]
  /** Need weights of each content item, in `needs` order. */
  contentWeights: number[][]
  /** Whether each item may be chosen on each day (`usable[day][item]`). */
  usable: boolean[][]
  pages: Page[]
  home: Page
  /** Content indexes with a variant for the channel. */
  byChannel: Record<'email' | 'sms' | 'call' | 'print', number[]>
  /** The site: its write key and origin, and the identity secret its backend signs logged-in patients' tokens with. */
  browser: { key: string; keyId: string; origin: string; identitySecret?: string }
  senders: Record<SenderChannel, { key: string; keyId: string; channel: string }>
  goals: EmittedGoal[]
  /** The program's adherence check-in (`program.adherence`): the goal's event, sent on the reminder schedule instead of at random; null without one. */
  checkin: { goal: EmittedGoal; everyDays: number } | null
  locale: string
  pageOf(path: string): Page
}

const LANGUAGE: Record<string, string> = { DE: 'de', AT: 'de', CH: 'de', GB: 'en', IE: 'en', US: 'en', FR: 'fr', ES: 'es', IT: 'it', NL: 'nl' }
// Events the generator makes for their own reasons: a goal they reach is reached as a side effect.
const OWN_EVENTS = new Set(['questionnaire_answered', 'email_click', 'email_opened', 'sms_click', 'sms_delivered', 'call_completed', 'print_delivered'])

/** A concrete path for a URL pattern (`*` filled with a word), or null when none matches. */
function concretePath(pattern: string): string | null {
  for (const fill of ['', 'overview']) {
    const path = pattern.replace(/\*\*|\*/g, fill).replace(/\/{2,}/g, '/')
    const candidate = path.endsWith('/') && path.length > 1 && pattern.endsWith('*') ? `${path}overview` : path
    if (matchesUrlPattern(pattern, candidate)) return candidate
  }
  return null
}

/** A concrete origin an origin pattern allows (`*.` as `www.`, port `*` as 8080). */
export function originFor(pattern: string): string {
  return pattern.replace('://*.', '://www.').replace(/:\*$/, ':8080')
}

/** Resolves keys from the program document when the loaded keys are not given (a demo document's literal keys only). */
function keysOf(program: Program, keys?: readonly ProgramKey[]): ProgramKey[] {
  if (keys) return keys.filter((k) => k.program === program.id)
  const out: ProgramKey[] = []
  for (const kind of ['write', 'secret'] as const) {
    for (const k of program.keys[kind]) {
      if (secretForm(k.key) !== 'literal') throw new Error(`key ${k.id} of ${program.id} is not in the document: pass the loaded keys (loadPrograms(...).keys)`)
      out.push(
        programKey({
          program: program.id,
          kind,
          id: k.id,
          key: k.key,
          origins: 'origins' in k ? k.origins : [],
          channel: 'channel' in k ? k.channel : 'web',
          ...('scopes' in k ? { scopes: k.scopes } : {}),
        }),
      )
    }
  }
  return out
}

/** The value of a key the population sends with; a key given only as its hash cannot send. */
function sendingValue(k: ProgramKey): string {
  if (!k.value) throw new Error(`key ${k.id} of ${k.program} is given as its hash: the population needs the key itself (env:NAME)`)
  return k.value
}

/** Builds the generator's view of a program for `days` days ending at `now`. */
export function buildWorld(program: Program, days: number, now: number, loadedKeys?: readonly ProgramKey[], siteOrigin?: string): World {
  const needs = program.needs.map((n) => n.id)
  const content = program.content
  const vector = (w: Record<string, number>) => needs.map((n) => w[n] ?? 0)
  const contentWeights = content.map((c) => vector(c.needs))
  const midnights = localMidnights(program.timeZone, now, days)
  const usable = midnights.map((m) =>
    content.map((c) => isContentUsable(c, { market: program.market, now: new Date(m + 12 * 3_600_000), timeZone: program.timeZone })),
  )
  const cache = new Map<string, Page>()
  const pageOf = (path: string, primary = -1): Page => {
    let page = cache.get(path)
    if (page) return page
    const items: number[] = []
    content.forEach((c, i) => {
      if (c.urlPatterns.some((p) => matchesUrlPattern(p, path))) items.push(i)
    })
    const weights = needs.map((_, n) => items.reduce((s, i) => s + contentWeights[i]![n]!, 0))
    const owner = primary >= 0 ? primary : (items[0] ?? -1)
    page = { path, title: owner >= 0 ? (content[owner]!.channels.web?.headline ?? content[owner]!.title) : program.name, items, primary: owner, weights }
    cache.set(path, page)
    return page
  }
  const pages: Page[] = []
  content.forEach((c, i) => {
    for (const pattern of c.urlPatterns) {
      const path = concretePath(pattern)
      if (path && !cache.has(path)) pages.push(pageOf(path, i))
    }
  })
  // The home page: the shallowest page of the site (`/demo/`), else the root.
  const home =
    [...pages].sort((a, b) => a.path.split('/').filter(Boolean).length - b.path.split('/').filter(Boolean).length || a.path.length - b.path.length)[0] ??
    pageOf('/')
  const withVariant = (ch: 'email' | 'sms' | 'call' | 'print') => content.flatMap((c, i) => (c.channels[ch] ? [i] : []))

  const keys = keysOf(program, loadedKeys)
  const write = keys.find((k) => k.kind === 'write')
  if (!write) throw new Error(`program ${program.id} has no write key`)
  const secret = keys.filter((k) => k.kind === 'secret')
  const server = secret.find((k) => k.channel === 'server') ?? secret[0]
  if (!server) throw new Error(`program ${program.id} has no secret key`)
  const sender = (ch: SenderChannel) => {
    const k = secret.find((s) => s.channel === ch) ?? server
    return { key: sendingValue(k), keyId: k.id, channel: ch }
  }

  const goals: EmittedGoal[] = []
  for (const goal of program.goals) {
    const web = goal.events.find((e) => e.event === 'goal_reached' && typeof e.where?.goal === 'string')
    const spec = web ?? goal.events.find((e) => !OWN_EVENTS.has(e.event))
    // Goals reached only by answers, clicks or calls come from those events.
    if (!spec || goal.events.some((e) => OWN_EVENTS.has(e.event))) continue
    const prefix = spec.event.split('_')[0]!
    const channel: EmittedGoal['channel'] = web ? 'web' : prefix === 'email' || prefix === 'sms' || prefix === 'call' || prefix === 'print' ? prefix : 'server'
    goals.push({ goal, event: spec.event, properties: { ...(spec.where ?? {}) }, channel })
  }

  const checkinGoal = program.adherence ? goals.find((g) => g.goal.id === program.adherence!.goal) : undefined
  const checkin = checkinGoal && program.adherence ? { goal: checkinGoal, everyDays: program.adherence.everyDays } : null

  return {
    program,
    needs,
    days,
    now,
    midnights,
    content,
    contentWeights,
    usable,
    pages,
    home,
    byChannel: { email: withVariant('email'), sms: withVariant('sms'), call: withVariant('call'), print: withVariant('print') },
    browser: {
      key: sendingValue(write),
      keyId: write.id,
      origin: siteOrigin ?? originFor(write.origins[0] ?? 'http://localhost:8080'),
      ...(write.identitySecret ? { identitySecret: write.identitySecret } : {}),
    },
    senders: { server: sender('server'), email: sender('email'), sms: sender('sms'), call: sender('call'), print: sender('print') },
    goals,
    checkin,
    locale: `${LANGUAGE[program.market] ?? 'en'}-${program.market}`,
    pageOf: (path) => pageOf(path),
  }
}

/** Cosine similarity of two non-negative vectors (0 when either is zero). */
export function similarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0
}
