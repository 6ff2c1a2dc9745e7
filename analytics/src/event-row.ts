/** One row of the `events` landing table, as the collector writes it (times as ClickHouse text). */
export interface EventRow {
  message_id: string
  program: string
  type: string
  event: string
  channel: string
  user_id: string
  anonymous_id: string
  ts: string
  original_ts: string
  received_at: string
  sent_at: string | null
  historical: 0 | 1
  key_id: string
  page_url: string
  page_path: string
  page_title: string
  referrer: string
  utm_source: string
  utm_medium: string
  utm_campaign: string
  utm_term: string
  utm_content: string
  browser: string
  browser_version: string
  os: string
  os_version: string
  device_type: string
  is_bot: 0 | 1
  ip_prefix: string
  library_name: string
  library_version: string
  previous_id: string
  group_id: string
  properties: string
  traits: string
  context: string
}

// Events of one request share their seconds; formatting a Date costs about 1 µs, a lookup far less.
const prefixes = new Map<number, string>()

/** Formats a JS time as ClickHouse DateTime64(3) text in UTC. */
export function chTime(ms: number): string {
  const sec = Math.floor(ms / 1000)
  let cachedPrefix = prefixes.get(sec)
  if (cachedPrefix === undefined) {
    const iso = new Date(sec * 1000).toISOString()
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`
    if (prefixes.size >= 4096) prefixes.clear()
    prefixes.set(sec, cachedPrefix)
  }
  const milli = ms - sec * 1000
  return cachedPrefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli
}
