// Shared test fixtures: a collector on the embedded engine in a temporary directory, and the
// demo program's keys.
import { spawn, type ChildProcess } from 'node:child_process'
import { join, resolve } from 'node:path'
import { removeDir, tempDir } from './temp-dir.ts'
import { configFromEnv, createService, signIdentityToken, type CollectorConfig, type Service, type ServiceHooks } from '../collector/index.ts'

export { removeDir, tempDir }

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..')

/** The demo program's keys and secrets (programs/psoriasis-demo.json). */
export const DEMO = {
  program: 'psoriasis-demo',
  writeKey: 'pk_demo_psoriasis_7f3a9c2e',
  secretKey: 'sk_demo_psoriasis_4b81d6f0e2',
  callKey: 'sk_demo_psoriasis_call_91c2a7',
  printKey: 'sk_demo_psoriasis_print_5e0b3d',
  identitySecret: 'demo_identity_secret_psoriasis_5b7e19c04a2d86f3',
} as const

/** An identity token for a demo patient, as the site's backend signs one at login (valid for a day). */
export function identityToken(patient: string, program: string = DEMO.program, secret: string = DEMO.identitySecret): string {
  return signIdentityToken({ program, patient, expires: Math.floor(Date.now() / 1000) + 86_400 }, secret)
}

/** Collector configuration for tests: a temp data dir, the repository's programs, fast batches. */
export function testConfig(dataDir: string, env: Record<string, string> = {}): CollectorConfig {
  // Clusters only when a test asks for them: no clustering round at every service start.
  const config = configFromEnv({
    ATTUNE_DATA: dataDir,
    ATTUNE_PROGRAMS: join(ROOT, 'programs'),
    ATTUNE_BATCH_MAX_AGE_MS: '50',
    ATTUNE_CLUSTER_SCHEDULE: '0',
    ...env,
  })
  return { ...config, writer: { ...config.writer, retryMinMs: 50, retryMaxMs: 500 } }
}

/** Starts an in-process service on a temp directory; `stop` drains, closes and removes it. */
export async function startService(
  opts: { env?: Record<string, string>; hooks?: ServiceHooks; dir?: string } = {},
): Promise<{ service: Service; dir: string; logs: string[]; stop: (o?: { keep?: boolean; drain?: boolean }) => Promise<void> }> {
  const tmp = opts.dir ? { dir: opts.dir, remove: () => removeDir(opts.dir!) } : tempDir()
  const logs: string[] = []
  const service = await createService(testConfig(tmp.dir, opts.env), { log: (m) => logs.push(m), ...opts.hooks })
  await service.ready
  return {
    service,
    dir: tmp.dir,
    logs,
    async stop(o = {}) {
      await service.close({ drain: o.drain ?? true })
      if (!o.keep) tmp.remove()
    },
  }
}

/** Waits until `check` returns true, polling; throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** HTTP Basic header for a key, as Segment's libraries send it. */
export const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`

/** A collector started as its own process (`collector/src/server.ts`), on a free port. */
export interface ServerProcess {
  child: ChildProcess
  url: string
  output: () => string
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string | null>
}

/**
 * Starts `collector/src/server.ts` (or a fixture script that serves the collector) as a child
 * process with PORT=0 and waits for its URL. A variable given as `null` is left unset.
 */
export async function startServerProcess(
  env: Record<string, string | null>,
  script = 'collector/src/server.ts',
  nodeFlags: string[] = [],
): Promise<ServerProcess> {
  // No synthetic demo population in fresh data directories: tests and benchmarks count what they send.
  const merged: Record<string, string | null | undefined> = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    ATTUNE_PROGRAMS: join(ROOT, 'programs'),
    ATTUNE_DEMO_SEED: '0',
    ...env,
  }
  for (const [k, v] of Object.entries(merged)) if (v === null || v === undefined) delete merged[k]
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(ROOT, script)], {
    cwd: ROOT,
    env: merged as NodeJS.ProcessEnv,
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

/** The collector's Prometheus samples by `name{labels}`. */
export async function scrapeMetrics(app: { request(path: string): Response | Promise<Response> }): Promise<Map<string, number>> {
  const res = await app.request('/metrics')
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line)
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]))
  }
  return out
}

/** Sum of every sample of a metric (all label sets), optionally only those whose labels contain `having`. */
export function metricTotal(samples: Map<string, number>, name: string, having = ''): number {
  let n = 0
  for (const [k, v] of samples) if ((k === name || k.startsWith(`${name}{`)) && k.includes(having)) n += v
  return n
}
