// Temporary directories for tests. The embedded engine lives as long as the test process and may
// still be finishing a background merge in a data directory when a test removes it, so removal
// retries (Node retries ENOTEMPTY/EBUSY/EPERM) and, if the engine still holds files after that,
// leaves the directory in the system temp folder instead of failing a test that has passed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Removes a directory tree, tolerating files the embedded engine is still writing. */
export function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 })
  } catch (err) {
    process.stderr.write(`left ${dir} in place: ${(err as Error).message}\n`)
  }
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = 'attune-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => removeDir(dir) }
}
