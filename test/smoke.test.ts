import { describe, expect, it } from 'vitest'
import { basic, DEMO, startService, waitFor } from './helpers.ts'

describe('smoke', () => {
  it('lands a tracked event in ClickHouse', async () => {
    const { service, stop } = await startService()
    const res = await service.app.request('/v1/track', {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'p-1', event: 'diary_downloaded', messageId: 'm-1' }),
    })
    expect(res.status).toBe(200)
    await waitFor(async () => (await service.db.query<{ c: number }>('SELECT count() c FROM events'))[0]!.c > 0)
    const rows = await service.db.query<{ event: string; channel: string }>('SELECT event, channel FROM events')
    expect(rows).toEqual([{ event: 'diary_downloaded', channel: 'server' }])
    await stop()
  })
})
