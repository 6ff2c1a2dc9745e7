// `npx tsx bench/profile.ts [track|batch]`: the collector under single-event (or batch) load
// with `node --cpu-prof`, then the main thread's time by function (self and inclusive) and by
// package or source file, as JSON on stdout. BENCH_DURATION_S (default 8) sets the load time.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ROOT } from './child.ts'
import { basicAuth, eventFactory, SECRET_KEY } from './events.ts'
import { startCollector } from './ingest.ts'
import { load } from './load.ts'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
/** A V8 CPU profile as `node --cpu-prof` writes it. */
export interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

/** Where a frame's code lives: a package, a repository file, a Node internal, or a pseudo-frame. */
function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const path = url.replace(/^file:\/\//, '')
  const nm = path.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (path.startsWith('node:')) return 'node internals'
  return path.startsWith(ROOT) ? relative(ROOT, path) : path
}

function frameName(f: CallFrame): string {
  return `${f.functionName || '(anonymous)'} ${placeOf(f.url, f.functionName)}:${f.lineNumber + 1}`
}

/**
 * Self and inclusive time per function and self time per place, in ms and % of the samples
 * taken in `window` (µs before the profile's end: the load, not start-up or the drain).
 */
export function summarise(
  profile: CpuProfile,
  window: { fromEndUs: number; lengthUs: number } | { spans: Array<{ fromUs: number; toUs: number }> } | null = null,
  top = 30,
) {
  // A window before the profile's end, or spans on the profile's own clock (µs).
  const spans =
    window === null
      ? [{ fromUs: -Infinity, toUs: Infinity }]
      : 'spans' in window
        ? [...window.spans].sort((a, b) => a.fromUs - b.fromUs)
        : [{ fromUs: profile.endTime - window.fromEndUs - window.lengthUs, toUs: profile.endTime - window.fromEndUs }]
  let span = 0
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const place = new Map<string, number>()
  let total = 0
  let t = profile.startTime
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0
    while (span < spans.length && t > spans[span]!.toUs) span++
    if (span >= spans.length || t < spans[span]!.fromUs) return
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    total += dt
    const node = byId.get(id)!
    const name = frameName(node.callFrame)
    self.set(name, (self.get(name) ?? 0) + dt)
    const p = placeOf(node.callFrame.url, node.callFrame.functionName)
    place.set(p, (place.get(p) ?? 0) + dt)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = frameName(byId.get(cur)!.callFrame)
      if (seen.has(f)) continue
      seen.add(f)
      inclusive.set(f, (inclusive.get(f) ?? 0) + dt)
    }
  })
  const rank = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), pct: Math.round((1000 * ms) / total) / 10 }))
  return { totalMs: Math.round(total), byPlace: rank(place, 25), selfTop: rank(self, top), inclusiveTop: rank(inclusive, top) }
}

const isMain = import.meta.filename === process.argv[1]
if (isMain) {
  const mode = process.argv[2] === 'batch' ? 'batch' : 'track'
  const durationS = Number(process.env.BENCH_DURATION_S ?? 8)
  const dataDir = mkdtempSync(join(tmpdir(), 'attune-profile-'))
  const profDir = join(dataDir, 'profile')
  const server = await startCollector(dataDir, 120, ['--cpu-prof', `--cpu-prof-dir=${profDir}`])
  const make = eventFactory()
  const r = await load({
    url: server.url,
    path: mode === 'batch' ? '/v1/batch' : '/v1/track',
    headers: { authorization: basicAuth(SECRET_KEY), 'content-type': 'application/json' },
    body: mode === 'batch' ? () => make.batch(100) : make.single,
    durationS,
    connections: 50,
    serverPid: server.child.pid,
  })
  server.child.kill('SIGTERM')
  await server.exited
  const tailUs = (performance.now() - r.endedAt) * 1000
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's
  // loader runs in a worker and writes its own profile).
  const file = readdirSync(profDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  if (!file) throw new Error(`no profile written in ${profDir}:\n${server.output()}`)
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile
  const underLoad = summarise(profile, { fromEndUs: tailUs, lengthUs: (r.endedAt - r.startedAt) * 1000 })
  // After the load: SIGTERM, the spool drained into ClickHouse, exit.
  const drain = summarise(profile, { fromEndUs: 0, lengthUs: tailUs }, 15)
  console.log(
    JSON.stringify(
      {
        mode,
        requestsPerSec: r.requestsPerSec,
        latencyMs: r.latencyMs,
        serverCpuCores: r.serverCpuCores,
        drainS: Math.round(tailUs / 1000) / 1000,
        underLoad,
        drain,
      },
      null,
      2,
    ),
  )
  if (process.env.BENCH_KEEP_DATA !== '1') rmSync(dataDir, { recursive: true, force: true })
  else console.error(`profile kept in ${join(profDir, file)}`)
}
