// A click from an e-mail link, sent by a browser with the demo write key, read back from the
// `events` table of the real embedded ClickHouse: a valid token links the browser to the
// patient, an expired one links nothing, and no token is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signClickToken, type Service } from '../collector/index.ts'
import { basic, DEMO, startService, waitFor } from './helpers.ts'
import { DAY_MS } from '../analytics/index.ts'

let svc: Awaited<ReturnType<typeof startService>>
let service: Service

beforeAll(async () => {
  svc = await startService()
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

const ORIGIN = 'http://localhost:5173'
const LANDING = `${ORIGIN}/demo/`
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'

/** A link token from the demo program's own secret, as the click-link CLI makes it. */
function token(expires: number, nowMs = Date.now()): string {
  const secret = service.programs.find((p) => p.program.id === DEMO.program)!.linkSecret!
  return signClickToken({ program: DEMO.program, patient: 'p-000123', message: 'msg-1', campaign: 'itch-tips', channel: 'email', expires }, secret, nowMs)
}

/** What the SDK sends on landing: the token as a property, the URL without it (the page context may still hold it). */
async function click(messageId: string, atn: string): Promise<void> {
  const res = await service.app.request('/v1/track', {
    method: 'POST',
    headers: { authorization: basic(DEMO.writeKey), 'content-type': 'application/json', origin: ORIGIN, 'user-agent': FIREFOX },
    body: JSON.stringify({
      event: 'email_click',
      anonymousId: `anon-${messageId}`,
      messageId,
      properties: { token: atn, url: LANDING },
      context: { page: { url: `${LANDING}?atn=${atn}`, path: '/demo/' } },
    }),
  })
  expect(res.status, await res.text()).toBe(200)
}

async function landed(ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const q = 'SELECT * FROM events WHERE program = {program:String} AND message_id IN {ids:Array(String)}'
  let rows: Array<Record<string, unknown>> = []
  await waitFor(
    async () => (rows = await service.db.query<Record<string, unknown>>(q, { program: DEMO.program, ids })).length >= ids.length,
    20_000,
    'clicks in ClickHouse',
  )
  return new Map(rows.map((r) => [r.message_id as string, r]))
}

describe('click tokens (email_click from a browser)', () => {
  it('a valid token links the browser to the patient; an expired one does not; no token is stored', async () => {
    const now = Date.now()
    const valid = token(Math.floor(now / 1000) + 30 * 86_400)
    const expired = token(Math.floor(now / 1000) - 60, now - DAY_MS)
    await click('click-valid', valid)
    await click('click-expired', expired)
    const rows = await landed(['click-valid', 'click-expired'])

    const v = rows.get('click-valid')!
    expect({
      user_id: v.user_id,
      anonymous_id: v.anonymous_id,
      channel: v.channel,
      utm_campaign: v.utm_campaign,
      page_url: v.page_url,
      key_id: v.key_id,
    }).toEqual({
      user_id: 'p-000123',
      anonymous_id: 'browser:anon-click-valid',
      channel: 'email',
      utm_campaign: 'itch-tips',
      page_url: LANDING,
      key_id: 'web-demo',
    })
    expect(JSON.parse(v.properties as string)).toEqual({ url: LANDING, attune_message: 'msg-1', attune_campaign: 'itch-tips', token_status: 'verified' })

    const e = rows.get('click-expired')!
    expect({ user_id: e.user_id, anonymous_id: e.anonymous_id, channel: e.channel, utm_campaign: e.utm_campaign }).toEqual({
      user_id: '',
      anonymous_id: 'browser:anon-click-expired',
      channel: 'email',
      utm_campaign: '',
    })
    expect(JSON.parse(e.properties as string)).toEqual({ url: LANDING, token_status: 'expired' })

    // Neither token, nor its signature, nor the parameter, in any column.
    for (const [id, r] of rows) {
      for (const [col, value] of Object.entries(r)) {
        if (typeof value !== 'string') continue
        for (const t of [valid, expired]) {
          expect(value, `${id}.${col}`).not.toContain(t.split('.')[0])
          expect(value, `${id}.${col}`).not.toContain(t.split('.')[1])
        }
        expect(value, `${id}.${col}`).not.toContain('atn=')
      }
    }
  })
})
