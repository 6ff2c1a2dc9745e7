import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../test/helpers.ts'
import { lockDataDir } from './data-lock.ts'

describe('lockDataDir', () => {
  it('refuses a directory another running process holds, and takes over a dead one’s', async () => {
    const { dir, remove } = tempDir()
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      writeFileSync(join(dir, 'LOCK'), String(other.pid))
      expect(() => lockDataDir(dir)).toThrow(`data directory ${dir} is in use by process ${other.pid}`)
      other.kill('SIGKILL')
      await new Promise((r) => other.once('exit', r))
      const release = lockDataDir(dir)
      expect(existsSync(join(dir, 'LOCK'))).toBe(true)
      release()
      expect(existsSync(join(dir, 'LOCK'))).toBe(false)
    } finally {
      other.kill('SIGKILL')
      remove()
    }
  })
})
