import type { Draft, RequestFacts } from './types.ts'

const UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const
/** Query parameters kept in stored URLs: campaign fields and Attune's click token (P8). */
const KEPT_PARAMS = new Set<string>([...UTM, 'atn'])

const pathOnly = (s: string): string => s.split(/[?#]/)[0]!.slice(0, 2000)

function parseUrl(raw: string): URL | null {
  try {
    return new URL(raw)
  } catch {
    return null
  }
}

/** A URL without its fragment and without query parameters other than utm_* and atn (a given parsed URL is changed in place). */
export function stripUrl(raw: string, parsed: URL | null = parseUrl(raw)): string {
  // Not an absolute URL: keep the path only.
  if (!parsed) return pathOnly(raw)
  const u = parsed
  u.hash = ''
  u.username = ''
  u.password = ''
  for (const k of [...u.searchParams.keys()]) if (!KEPT_PARAMS.has(k)) u.searchParams.delete(k)
  return u.toString().slice(0, 2000)
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {})

/**
 * Step 7: page URL, path, title and referrer, stripped of query strings; UTM fields from the URL,
 * else from `context.campaign`. Properties that carry URLs are stripped the same way.
 */
export function campaignStep(d: Draft, _facts: RequestFacts): Draft {
  const page = obj(d.context.page)
  const m = d.msg as { properties?: Record<string, unknown>; name?: string }
  const props = m.properties ?? {}
  const url = str(page.url) || str(props.url)
  const referrer = str(page.referrer) || str(props.referrer)
  const u = url ? parseUrl(url) : null
  d.row.page_path = pathOnly(str(page.path) || str(props.path) || u?.pathname || '')
  if (u) for (const k of UTM) d.row[k] = (u.searchParams.get(k) ?? '').slice(0, 200)
  if (url) d.row.page_url = stripUrl(url, u)
  d.row.page_title = (str(page.title) || str(props.title) || str(m.name)).slice(0, 500)
  if (referrer) d.row.referrer = stripUrl(referrer)
  const campaign = obj(d.context.campaign)
  const fromContext: Record<(typeof UTM)[number], string> = {
    utm_source: str(campaign.source),
    utm_medium: str(campaign.medium),
    utm_campaign: str(campaign.name) || str(campaign.campaign),
    utm_term: str(campaign.term),
    utm_content: str(campaign.content),
  }
  for (const k of UTM) if (!d.row[k] && fromContext[k]) d.row[k] = fromContext[k].slice(0, 200)
  // The stored context and properties keep only the stripped URLs.
  if (d.context.page) {
    const p = { ...page }
    if (p.url) p.url = d.row.page_url
    if (p.referrer) p.referrer = d.row.referrer
    delete p.search
    d.context.page = p
  }
  if (props.url || props.referrer || props.search) {
    const stripped = JSON.parse(d.row.properties || '{}') as Record<string, unknown>
    if (typeof stripped.url === 'string') stripped.url = stripUrl(stripped.url)
    if (typeof stripped.referrer === 'string') stripped.referrer = stripUrl(stripped.referrer)
    delete stripped.search
    d.row.properties = JSON.stringify(stripped)
  }
  return d
}
