import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Db } from './client.ts'
import { TABLES } from './tables.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))
const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/

/** A migration problem that retrying cannot fix (a bad file, or an applied file that changed). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError'
}

/** One numbered, forward-only migration file. */
export interface Migration {
  version: number
  name: string
  checksum: string
  statements: string[]
}

/** Result of a migration run: what was applied (or, in a dry run, would be). */
export interface MigrationReport {
  applied: Migration[]
  alreadyApplied: number
  dryRun: boolean
}

/** Splits a migration file into statements: `;` at the end of a line ends one. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0)
}

/** Reads the numbered `.sql` files in order; a gap or a duplicate number is an error. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = []
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue
    const m = FILE_NAME.exec(file)
    if (!m) throw new MigrationError(`migration file ${file}: name must be NNN_snake_case.sql`)
    const text = readFileSync(`${dir}/${file}`, 'utf8')
    if (!/^--\s*why:/.test(text)) throw new MigrationError(`migration file ${file}: must open with a '-- why:' line`)
    const version = Number(m[1])
    if (out.length > 0 && version !== out[out.length - 1]!.version + 1) {
      throw new MigrationError(`migration file ${file}: expected version ${out[out.length - 1]!.version + 1}`)
    }
    out.push({ version, name: m[2]!, checksum: createHash('sha256').update(text).digest('hex'), statements: splitStatements(text) })
  }
  return out
}

/**
 * Applies pending migrations in order and records each; idempotent. An applied migration
 * whose file changed is refused: migrations are forward-only, so write a new one.
 */
export async function migrate(db: Db, opts: { dryRun?: boolean; migrations?: Migration[] } = {}): Promise<MigrationReport> {
  const migrations = opts.migrations ?? loadMigrations()
  await db.command(
    `CREATE TABLE IF NOT EXISTS ${TABLES.migrations} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version`,
  )
  const done = await db.query<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${TABLES.migrations} ORDER BY version`)
  const applied = new Map(done.map((r) => [Number(r.version), r.checksum]))
  const pending: Migration[] = []
  for (const m of migrations) {
    const sum = applied.get(m.version)
    if (sum === undefined) pending.push(m)
    else if (sum !== m.checksum) throw new MigrationError(`migration ${m.version}_${m.name} changed after it was applied; add a new migration instead`)
  }
  if (!opts.dryRun) {
    for (const m of pending) {
      for (const stmt of m.statements) await db.command(stmt)
      await db.insertRows(TABLES.migrations, [{ version: m.version, name: m.name, checksum: m.checksum }])
    }
  }
  return { applied: pending, alreadyApplied: applied.size, dryRun: !!opts.dryRun }
}
