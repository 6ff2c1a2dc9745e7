// Servers under test run as their own processes, so they never share an event loop (or a
// core's time slice) with autocannon in the bench process.
import { startServerProcess, type ServerProcess } from '../test/helpers.ts'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..')

/** A child Node process that printed `listening on <url>`. */
export type Child = ServerProcess

/** The node flags `npm start` gives the collector (package.json's start script), so the bench measures the same process. */
export const SERVER_NODE_FLAGS: string[] = (() => {
  const words = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/)
  // `node <flags> --import tsx collector/src/server.ts`: the flags between node and --import.
  const from = words.indexOf('node')
  const to = words.indexOf('--import')
  if (from < 0 || to < from) throw new Error(`package.json's start script is not "node <flags> --import tsx …": ${words.join(' ')}`)
  return words.slice(from + 1, to)
})()

/** Runs `script` with `node [nodeFlags] --import tsx` (the collector with `SERVER_NODE_FLAGS` first) and waits until it prints its URL. */
export function startChild(script: string, env: Record<string, string>, nodeFlags: string[] = []): Promise<Child> {
  return startServerProcess(env, script, script === 'collector/src/server.ts' ? [...SERVER_NODE_FLAGS, ...nodeFlags] : nodeFlags)
}

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
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number)
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100
  } catch {
    return null
  }
}

/**
 * Waits (at most `timeoutS`) until the process uses under `belowCores` (0.1) over 2 s, so start-up
 * work (a clustering round) is not in the figures; the cores last seen. A process under
 * `--cpu-prof` never idles below ~0.25 cores (the sampler's signals), so profiled runs pass more.
 */
export async function untilIdle(pid: number | undefined, timeoutS: number, belowCores = 0.1): Promise<number | null> {
  const end = Date.now() + timeoutS * 1000
  let cores: number | null = null
  while (Date.now() < end) {
    const a = cpuSeconds(pid)
    await new Promise((r) => setTimeout(r, 2000))
    const b = cpuSeconds(pid)
    cores = a === null || b === null ? null : Math.round(((b - a) / 2) * 100) / 100
    if (cores === null || cores < belowCores) break
  }
  return cores
}
