import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir } from '../../../test/temp-dir.ts'
import { createDb, type Db } from './client.ts'
import { loadMigrations, migrate, splitStatements } from './migrate.ts'
import { TABLES } from './tables.ts'

let dir: string
let db: Db
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'attune-migrate-'))
  db = createDb({ mode: 'embedded', path: join(dir, 'clickhouse') })
})
afterAll(async () => {
  await db.close()
  removeDir(dir)
})

describe('migrations', () => {
  it('split statements on a semicolon at the end of a line', () => {
    expect(splitStatements("-- why: x\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory;\n\nSELECT 1;")).toEqual([
      "CREATE TABLE a (s String DEFAULT ';') ENGINE = Memory",
      'SELECT 1',
    ])
  })

  it('dry run applies nothing; a run applies in order and records; a second run is a no-op', async () => {
    const dry = await migrate(db, { dryRun: true })
    expect(dry.applied.map((m) => m.version)).toEqual(loadMigrations().map((m) => m.version))
    expect(await db.query(`EXISTS TABLE ${TABLES.events}`)).toEqual([{ result: 0 }])
    const first = await migrate(db)
    expect(first.applied.length).toBeGreaterThan(0)
    expect(await db.query(`EXISTS TABLE ${TABLES.events}`)).toEqual([{ result: 1 }])
    const second = await migrate(db)
    expect(second.applied).toEqual([])
    expect(second.alreadyApplied).toBe(first.applied.length)
  })

  it('refuses an applied migration whose file changed', async () => {
    const changed = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m))
    await expect(migrate(db, { migrations: changed })).rejects.toThrow(/changed after it was applied/)
  })

  it('refuses badly named or unexplained files', () => {
    const d = mkdtempSync(join(tmpdir(), 'attune-mig-files-'))
    writeFileSync(join(d, '001_a.sql'), 'SELECT 1;')
    expect(() => loadMigrations(d)).toThrow(/must open with a '-- why:' line/)
    writeFileSync(join(d, '001_a.sql'), '-- why: a\nSELECT 1;')
    writeFileSync(join(d, '003_c.sql'), '-- why: c\nSELECT 1;')
    expect(() => loadMigrations(d)).toThrow(/expected version 2/)
    rmSync(d, { recursive: true, force: true })
  })

  it('uses no Buffer tables and no async inserts (D8)', async () => {
    const engines = await db.query<{ engine: string }>('SELECT engine FROM system.tables WHERE database = currentDatabase()')
    expect(engines.map((e) => e.engine)).not.toContain('Buffer')
    for (const m of loadMigrations()) for (const s of m.statements) expect(s).not.toMatch(/ENGINE\s*=\s*Buffer|async_insert\s*=\s*1/i)
  })

  it('scopes insert settings to their statement (a tokened insert does not swallow the next one)', async () => {
    await db.command('CREATE TABLE scoped (id String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100')
    await db.insertRows('scoped', [{ id: 'a' }], 'token-1')
    await db.insertRows('scoped', [{ id: 'a' }], 'token-1')
    await db.insertRows('scoped', [{ id: 'b' }])
    await db.insertJsonLines('scoped', '{"id":"c"}\n')
    expect(await db.query('SELECT id FROM scoped ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'c' }])
  })

  it('deduplicates a retried events insert in the materialized views too', async () => {
    const row = {
      message_id: 'm1',
      program: 'p',
      type: 'track',
      event: 'x',
      channel: 'web',
      ts: '2026-11-23 10:00:00.000',
      original_ts: '2026-11-23 10:00:00.000',
      received_at: '2026-11-23 10:00:00.000',
    }
    await db.insertJsonLines(TABLES.events, `${JSON.stringify(row)}\n`, 'tok-mv')
    await db.insertJsonLines(TABLES.events, `${JSON.stringify(row)}\n`, 'tok-mv')
    expect(await db.query(`SELECT count() c FROM ${TABLES.events}`)).toEqual([{ c: 1 }])
    expect(await db.query(`SELECT count() c FROM ${TABLES.eventIds}`)).toEqual([{ c: 1 }])
  })
})
