// /health's states that need a service of their own: inserts failing, and the spool full.
// (The embedded engine opens one data directory per process, hence a file of its own.)
import { describe, expect, it } from 'vitest'
import { basic, DEMO, tempDir, testConfig, waitFor } from '../../../test/helpers.ts'
import { createService, type Service } from '../service.ts'

async function health(
  s: Service,
): Promise<{ status: number; body: { status: string; spool: { accepting: boolean }; writer: { lastError: string | null; lastErrorAt: string | null } } }> {
  const res = await s.app.request('/health')
  return { status: res.status, body: (await res.json()) as never }
}

describe('GET /health under failure', () => {
  it('reports degraded while inserts fail, and unavailable (503) while the full spool refuses requests', async () => {
    const tmp = tempDir()
    let failing = true
    const svc2 = await createService(testConfig(tmp.dir, { ATTUNE_SPOOL_MAX_BYTES: '8192' }), {
      log: () => {},
      wrapSink: (sink) => async (p) => {
        if (failing) throw new Error('injected insert failure')
        return sink(p)
      },
    })
    try {
      await svc2.ready
      const post = () =>
        svc2.app.request('/v1/track', {
          method: 'POST',
          headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'p-1', event: 'while_failing', properties: { pad: 'x'.repeat(500) } }),
        })
      expect((await post()).status).toBe(200)
      await waitFor(() => svc2.writer.state.consecutiveFailures > 0, 10_000, 'a failed insert')
      // Each state is polled briefly: on a loaded machine a ping can time out between two reads.
      let degraded = await health(svc2)
      await waitFor(async () => (degraded = await health(svc2)).body.status === 'degraded', 5_000, `degraded, last seen ${JSON.stringify(degraded.body)}`)
      expect(degraded.status).toBe(200)
      expect(degraded.body.writer.lastError).toBe('injected insert failure')
      expect(Date.now() - Date.parse(degraded.body.writer.lastErrorAt!)).toBeLessThan(30_000)
      const statuses: number[] = []
      for (let i = 0; i < 20 && !statuses.includes(503); i++) statuses.push((await post()).status)
      expect(
        statuses.filter((s) => s !== 200 && s !== 503),
        `statuses ${statuses.join(',')}`,
      ).toEqual([])
      expect(statuses.at(-1), `statuses ${statuses.join(',')}`).toBe(503)
      let full = await health(svc2)
      await waitFor(async () => (full = await health(svc2)).status === 503, 5_000, `503, last seen ${JSON.stringify(full.body)}`)
      expect(full.body).toMatchObject({ status: 'unavailable', spool: { accepting: false } })
      failing = false
      await waitFor(async () => (await health(svc2)).body.status === 'ok', 20_000, 'recovery')
      expect((await post()).status).toBe(200)
    } finally {
      await svc2.close({ drain: false })
      tmp.remove()
    }
  })
})
