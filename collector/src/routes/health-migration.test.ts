// A migration that cannot be applied (an applied file changed) stops the retries, is named on
// /health, and events are still accepted into the spool. (A file of its own: one engine per process.)
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createDb, migrate, TABLES } from '../../../analytics/index.ts'
import { basic, DEMO, tempDir, testConfig, waitFor } from '../../../test/helpers.ts'
import { createService } from '../service.ts'

describe('GET /health with a migration that cannot be applied', () => {
  it('names the problem, keeps accepting and does not retry', async () => {
    const tmp = tempDir()
    const db = createDb({ mode: 'embedded', path: join(tmp.dir, 'clickhouse') })
    await migrate(db)
    await db.command(`ALTER TABLE ${TABLES.migrations} UPDATE checksum = 'edited' WHERE version = 1 SETTINGS mutations_sync = 1`)
    await db.close()
    const logs: string[] = []
    const svc = await createService(testConfig(tmp.dir), { log: (m) => logs.push(m) })
    try {
      await waitFor(() => logs.some((l) => l.startsWith('migrations cannot be applied')), 10_000, 'the migration error')
      const res = await svc.app.request('/health')
      const body = (await res.json()) as { status: string; clickhouse: { migrated: boolean; migrationError?: string } }
      expect(res.status).toBe(200)
      expect(body.status).toBe('degraded')
      expect(body.clickhouse).toMatchObject({ migrated: false, migrationError: 'migration 1_events changed after it was applied; add a new migration instead' })
      const post = await svc.app.request('/v1/track', {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'p-1', event: 'kept' }),
      })
      expect(post.status).toBe(200)
      expect(svc.spool.depthBytes()).toBeGreaterThan(0)
      expect(logs.filter((l) => l.startsWith('ClickHouse not ready'))).toEqual([])
    } finally {
      await svc.close({ drain: false })
      tmp.remove()
    }
  })
})
