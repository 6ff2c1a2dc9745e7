// `npm start` listens on loopback unless HOST opens it, and its banner says what it listens on.
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { afterAll, describe, expect, it } from 'vitest'
import { configFromEnv } from '../collector/index.ts'
import { removeDir, startServerProcess, tempDir, type ServerProcess } from './helpers.ts'

const dirs: string[] = []
const procs: ServerProcess[] = []
afterAll(async () => {
  for (const p of procs) {
    p.child.kill('SIGTERM')
    await p.exited
  }
  for (const d of dirs) removeDir(d)
})

/** Whether a TCP connection to host:port is accepted. */
const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host, port, timeout: 2000 }, () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
    s.on('timeout', () => {
      s.destroy()
      resolve(false)
    })
  })

describe('where the collector listens', () => {
  it('defaults to loopback', () => {
    expect(configFromEnv({}).host).toBe('127.0.0.1')
  })

  it('without HOST answers on loopback only, and its banner says so', async () => {
    const dir = tempDir()
    dirs.push(dir.dir)
    const proc = await startServerProcess({ HOST: null, ATTUNE_DATA: dir.dir })
    procs.push(proc)
    const port = Number(new URL(proc.url).port)
    expect(proc.output()).toMatch(new RegExp(`listening on http://127\\.0\\.0\\.1:${port} \\(this machine only; HOST opens it\\)`))
    expect(proc.output()).not.toContain('WARNING')
    expect(await reachable('127.0.0.1', port)).toBe(true)
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address)
    for (const address of others) expect(await reachable(address, port), address).toBe(false)
  })

  it('with HOST=0.0.0.0 says it listens on every interface and warns that the demo keys are public', async () => {
    const dir = tempDir()
    dirs.push(dir.dir)
    const proc = await startServerProcess({ HOST: '0.0.0.0', ATTUNE_DATA: dir.dir })
    procs.push(proc)
    expect(proc.output()).toMatch(/listening on http:\/\/0\.0\.0\.0:\d+ \(every network interface\)/)
    expect(proc.output()).toMatch(/WARNING\s+demo programs psoriasis-demo, smoking-cessation-demo are reachable from the network/)
  })
})
