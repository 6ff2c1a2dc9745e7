// The demo seed on an empty data directory, then a collector on the same directory serving the
// seeded profiles (what `npm start` will do on a fresh checkout).
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { basic, DEMO, ROOT, startService, tempDir } from '../../test/helpers.ts'
import { seedDemo } from '../index.ts'

const tmp = tempDir()
afterAll(() => tmp.remove())

describe('seedDemo', () => {
  it('loads a small population once, and a collector started afterwards serves its profiles', async () => {
    const first = await seedDemo({ dataDir: tmp.dir, programsDir: join(ROOT, 'programs') })
    expect(first.skipped).toBe(false)
    expect(first.stats).toMatchObject({ rejected: [], refused: [], quarantined: 0 })
    expect(first.stats!.inserted).toBeGreaterThan(1000)
    expect(first.examples).toHaveLength(3)
    expect(await seedDemo({ dataDir: tmp.dir, programsDir: join(ROOT, 'programs') })).toMatchObject({ skipped: true })

    const svc = await startService({ dir: tmp.dir })
    try {
      const res = await svc.service.app.request(`/v1/profiles/${first.examples[0]}`, { headers: { authorization: basic(DEMO.secretKey) } })
      expect(res.status).toBe(200)
      const profile = (await res.json()) as { ids: string[]; channels: unknown[]; needs: Array<{ inferred: number }> }
      expect(profile.channels.length).toBeGreaterThan(0)
      expect(profile.needs.some((n) => n.inferred > 0)).toBe(true)
    } finally {
      await svc.stop({ keep: true })
    }
  })
})
