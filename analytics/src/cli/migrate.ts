// `npm run migrate [-- --dry-run]`: applies (or lists) pending ClickHouse migrations.
import { createDb } from '../storage/client.ts'
import { migrate } from '../storage/migrate.ts'
import { storageConfigFromEnv } from '../storage/storage-config.ts'

const dryRun = process.argv.includes('--dry-run')
const storage = storageConfigFromEnv(process.env, process.env.ATTUNE_DATA || './data')
const db = createDb(storage)
try {
  const report = await migrate(db, { dryRun })
  const verb = dryRun ? 'would apply' : 'applied'
  console.log(`${storage.mode === 'embedded' ? `embedded ClickHouse at ${storage.path}` : storage.url}: ${report.alreadyApplied} already applied`)
  for (const m of report.applied) console.log(`${verb} ${String(m.version).padStart(3, '0')}_${m.name} (${m.statements.length} statements)`)
  if (report.applied.length === 0) console.log('nothing to apply')
} finally {
  await db.close()
}
