// Clusters over need vectors on the embedded engine: three groups of people reading different
// content are found as three clusters, labelled by their dominant needs, and the profile says
// which cluster a patient is in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterStore } from '../collector/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'
import { DAY_MS } from '../analytics/index.ts'

let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc?.stop())

const GROUPS = { itch: '/demo/itch', treatment: '/demo/treatments', support: '/demo/support' } as const

describe('need clusters', () => {
  it('finds the groups, labels them by their dominant needs, and profiles name the cluster', async () => {
    const batch: object[] = []
    let n = 0
    for (const [group, path] of Object.entries(GROUPS)) {
      for (let i = 0; i < 8; i++) {
        const anon = `a-cl-${group}-${i}`
        for (let v = 0; v < 3; v++)
          batch.push({
            type: 'page',
            anonymousId: anon,
            messageId: `cl-${n++}`,
            timestamp: new Date(Date.now() - (v + 1) * DAY_MS).toISOString(),
            context: { page: { path, url: `http://localhost:5173${path}` } },
          })
        batch.push({
          type: 'identify',
          anonymousId: anon,
          userId: `p-cl-${group}-${i}`,
          messageId: `cl-${n++}`,
          context: { identityToken: identityToken(`p-cl-${group}-${i}`) },
        })
      }
    }
    const res = await svc.service.app.request('/v1/batch', {
      method: 'POST',
      headers: { authorization: basic(DEMO.writeKey), 'content-type': 'application/json', origin: 'http://localhost:5173' },
      body: JSON.stringify({ batch }),
    })
    expect(res.status).toBe(200)
    await waitFor(
      async () => Number((await svc.service.db.query<{ c: string }>("SELECT count() c FROM events WHERE message_id LIKE 'cl-%'"))[0]!.c) === batch.length,
      20_000,
      'the events',
    )
    const get = (q = '') =>
      svc.service.app.request(`/v1/admin/programs/${DEMO.program}/clusters?k=3&minSize=3${q}`, { headers: { authorization: basic(DEMO.secretKey) } })
    const body = (await (await get()).json()) as {
      people: number
      clusters: Array<{ id: string; label: string; size: number; centroid: Record<string, number> }>
    }
    expect(body.people).toBe(24)
    expect(body.clusters.map((c) => c.size)).toEqual([8, 8, 8])
    const program = svc.service.programs.find((p) => p.program.id === DEMO.program)!.program
    // Each group's cluster is labelled by the top need of the content its pages show.
    for (const path of Object.values(GROUPS)) {
      const item = program.content.find((c) => c.urlPatterns.some((p) => p === path))!
      const top = Object.entries(item.needs).sort((a, b) => b[1] - a[1])[0]![0]
      expect(
        body.clusters.some((c) => c.label.split(' + ')[0] === top),
        `${path} → ${top}`,
      ).toBe(true)
    }
    const profile = (await (await svc.service.app.request('/v1/profiles/p-cl-itch-0', { headers: { authorization: basic(DEMO.secretKey) } })).json()) as {
      cluster: { id: string; label: string }
    }
    const other = (await (await svc.service.app.request('/v1/profiles/p-cl-itch-5', { headers: { authorization: basic(DEMO.secretKey) } })).json()) as {
      cluster: { id: string }
    }
    expect(profile.cluster.id).toBe(other.cluster.id)
    expect((await svc.service.app.request(`/v1/admin/programs/${DEMO.program}/clusters`, { headers: { authorization: basic(DEMO.writeKey) } })).status).toBe(
      403,
    )
    // The schedule computes every program with needs at once, then daily.
    const logs: string[] = []
    const store = new ClusterStore(svc.service.db, (m) => logs.push(m))
    store.schedule(() => svc.service.programs.map((p) => p.program))
    await waitFor(() => store.latest(DEMO.program) !== undefined, 20_000, 'the scheduled clustering')
    expect(store.latest(DEMO.program)!.members.size).toBe(24)
    await store.stop()
    expect(logs.join('\n')).toMatch(/clusters of psoriasis-demo: \d+ over 24 people/)
    expect(
      (await svc.service.app.request(`/v1/admin/programs/${DEMO.program}/clusters?k=0`, { headers: { authorization: basic(DEMO.secretKey) } })).status,
    ).toBe(400)
  })
})
