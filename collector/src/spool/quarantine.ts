import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Where spooled records that ClickHouse refuses as data (a value it cannot parse) are kept,
 * one NDJSON line each with the reason, so one bad row neither blocks the writer nor is lost.
 * Files live under the data directory, one per UTC day; they hold pseudonymous event rows.
 */
export class Quarantine {
  readonly #dir: string

  constructor(dir: string) {
    this.#dir = dir
  }

  /** Appends records with their reason and syncs before returning. */
  async put(records: ReadonlyArray<{ payload: Buffer; reason: string }>): Promise<void> {
    if (records.length === 0) return
    await mkdir(this.#dir, { recursive: true })
    const at = new Date().toISOString()
    const lines = records.map((r) => `${JSON.stringify({ at, reason: r.reason.slice(0, 500), record: r.payload.toString('utf8') })}\n`).join('')
    const fh = await open(join(this.#dir, `${at.slice(0, 10)}.ndjson`), 'a')
    try {
      await fh.writeFile(lines)
      await fh.datasync()
    } finally {
      await fh.close()
    }
  }
}
