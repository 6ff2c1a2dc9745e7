import { urlPatternToRegExp, type Catalogue } from '../../../analytics/index.ts'
import type { Draft, RequestFacts } from './types.ts'

// Content ids come from pages and backends: kept only in a plain shape (no surrogates, no
// separators), at most 50 a touch.
const CONTENT_ID = /^[A-Za-z0-9_.:-]{1,100}$/
const MAX_CONTENT = 50

/** Content ids sent with the event: `properties.content` as an id or a list of ids. */
function sentContent(properties: unknown): string[] {
  const c = (properties as { content?: unknown } | undefined)?.content
  const list = typeof c === 'string' ? [c] : Array.isArray(c) ? c : []
  return list.filter((x): x is string => typeof x === 'string' && CONTENT_ID.test(x))
}

// Compiled once per catalogue (a worker receives its own copy of the keys, so this is per thread).
const pageMatchers = new WeakMap<Catalogue, Array<{ content: string; re: RegExp }>>()
function matchers(catalogue: Catalogue) {
  let m = pageMatchers.get(catalogue)
  if (!m) pageMatchers.set(catalogue, (m = catalogue.pages.map((p) => ({ content: p.content, re: urlPatternToRegExp(p.pattern) }))))
  return m
}

/** Goals of the program this event reaches: its name matches a goal event and every `where` property equals. */
function goalsReached(d: Draft, catalogue: Catalogue): string[] {
  const name = d.row.event || d.row.type
  const props = (d.msg as { properties?: Record<string, unknown> }).properties ?? {}
  const out: string[] = []
  for (const g of catalogue.goals) {
    if (g.events.some((e) => e.event === name && Object.entries(e.where ?? {}).every(([k, v]) => props[k] === v))) out.push(g.id)
  }
  return out
}

/**
 * Step 10: the goals of the program this touch reaches, what the touch showed (content ids sent with it; for a page view also the catalogue
 * items whose URL patterns match its path) and the need weights of that content, summed per
 * need, from the program's catalogue as it is now: the needs models add these up.
 */
export function needsStep(d: Draft, facts: RequestFacts): Draft {
  const catalogue = facts.key.catalogue
  if (catalogue?.goals.length) d.row.goal_ids = goalsReached(d, catalogue)
  const ids = new Set(sentContent((d.msg as { properties?: unknown }).properties))
  if (catalogue && d.row.type === 'page' && d.row.page_path) for (const m of matchers(catalogue)) if (m.re.test(d.row.page_path)) ids.add(m.content)
  if (ids.size === 0) return d
  const content = [...ids].slice(0, MAX_CONTENT)
  d.row.content_ids = content
  if (!catalogue) return d
  const sums = new Map<string, number>()
  for (const id of content) for (const [need, w] of Object.entries(catalogue.needs[id] ?? {})) sums.set(need, (sums.get(need) ?? 0) + w)
  d.row.need_ids = [...sums.keys()]
  d.row.need_weights = [...sums.values()]
  return d
}
