// Servers under test run as their own processes, so they never share an event loop (or a
// core's time slice) with autocannon in the bench process.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..')

/** A child Node process that printed `listening on <url>`. */
export interface Child {
  child: ChildProcess
  url: string
  output: () => string
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string | null>
}

/** Runs `script` with `node --import tsx [nodeFlags]` and waits until it prints its URL. */
export async function startChild(script: string, env: Record<string, string>, nodeFlags: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', resolve(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | string | null>((res) => child.on('exit', (code, signal) => res(signal ?? code)))
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${script} did not start within 60 s:\n${out}`)), 60_000)
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(t)
        child.stdout!.off('data', onData)
        res(m[1]!)
      }
    }
    child.stdout!.on('data', onData)
    void exited.then(() => {
      clearTimeout(t)
      rej(new Error(`${script} exited before listening:\n${out}`))
    })
  })
  return { child, url, output: () => out, exited }
}

/** CPU seconds (user + system, all threads) a process has used so far; null off Linux. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // USER_HZ is 100 on every Linux the project targets.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

/** CPU seconds all processes on the machine have used so far (busy, not idle or iowait); null off Linux. */
export function machineBusySeconds(): number | null {
  try {
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100
  } catch {
    return null
  }
}
