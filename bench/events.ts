// Request bodies for the load: a realistic server-side `track` event (~420 bytes of JSON) with
// a random UUID as messageId (as Segment's libraries send), built by string splicing so the
// load generator stays cheap.
import { randomUUID } from 'node:crypto'

/** The demo program's backend key (programs/psoriasis-demo.json), sent as HTTP Basic user. */
export const SECRET_KEY = 'sk_demo_psoriasis_4b81d6f0e2'

/** `Authorization` header for a key, as Segment's libraries send it. */
export const basicAuth = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`

/** Patients the events are spread over (user ids repeat, as in a real program). */
const PATIENTS = 10_000

/**
 * Splits one event into text around its two varying fields, so an event is three string
 * concatenations instead of a JSON.stringify. `withType` adds `"type":"track"` for /v1/batch.
 */
function template(withType: boolean): { head: string; mid: string; tail: string } {
  const MID = '\u0000MID\u0000'
  const UID = '\u0000UID\u0000'
  const event = {
    ...(withType ? { type: 'track' } : {}),
    messageId: MID,
    userId: UID,
    event: 'diary_entry_saved',
    timestamp: new Date().toISOString(),
    properties: { severity: 3, itch: 5, bodyArea: 'elbows', photoAttached: false },
    context: {
      library: { name: 'analytics-node', version: '3.1.0' },
      ip: '203.0.113.42',
      userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
    },
  }
  const text = JSON.stringify(event)
  const [head = '', rest = ''] = text.split(JSON.stringify(MID))
  const [mid = '', tail = ''] = rest.split(JSON.stringify(UID))
  return { head, mid, tail }
}

/** Makes request bodies; every event gets a fresh UUID as messageId. */
export function eventFactory() {
  const single = template(false)
  const batched = template(true)
  let n = 0
  const one = (t: { head: string; mid: string; tail: string }) => {
    const i = n++
    return `${t.head}"${randomUUID()}"${t.mid}"p-${String(i % PATIENTS).padStart(6, '0')}"${t.tail}`
  }
  return {
    /** Body of POST /v1/track: one event. */
    single: () => one(single),
    /** Body of POST /v1/batch: `size` events in a Segment batch envelope. */
    batch: (size: number) => {
      const parts: string[] = new Array(size)
      for (let k = 0; k < size; k++) parts[k] = one(batched)
      return `{"batch":[${parts.join(',')}],"sentAt":"${new Date().toISOString()}"}`
    },
  }
}
