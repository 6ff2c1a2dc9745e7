// The harness of the fuzz tests (test/fuzz/*.test.ts), which fuzz every public endpoint a write key
// or a secret key reaches, in-process (app.request) on the real embedded ClickHouse: ingestion
// (batch, import and the six message types), decide, questionnaires, profiles and timelines, and
// program administration (GET, the versions, and PUT with documents that cannot be used, or keys
// that may not use it, so the active program is never replaced). The material is hostile: deep
// nesting (far beyond 64 levels, built as text), nulls and wrong types in every field, huge and
// tiny numbers, lone surrogates, U+0000, RTL marks, 10,000-character strings, prototype keys,
// random keys, origins and encodings, bodies that are not JSON, and bodies just over the limits.
// Whatever comes in: the answer is 2xx or 4xx (never 5xx), JSON, errors in the documented shape,
// within a timeout; the counters add up; everything accepted lands; nothing is logged as a server
// error.
//
// Here: a request sent with a timeout, the checks every answer must pass, the answers tallied,
// Prometheus samples scraped, the lane runner (`fuzz`, `phase`), failures formatted, and what a
// fuzzed collector must show at the end (`leavesNothingBehind`).
//
// FUZZ_SEED=<n> runs with another seed (the default is fixed, so a failure reproduces);
// FUZZ_SCALE=<k> sends k times as many requests (a longer hunt).
import fc from 'fast-check'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { Service } from '../../collector/index.ts'
import { basic, DEMO, identityToken, metricTotal, scrapeMetrics, startService, waitFor } from '../helpers.ts'
import { DAY_MS } from '../../analytics/index.ts'

export const SEED = Number(process.env.FUZZ_SEED ?? 20_261_207)
export const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1))
/** No request may take longer than this to be answered (and its body read). */
const REQUEST_TIMEOUT_MS = 20_000

/** A collector started for a fuzz test file (`startService()`). */
export type Collector = Awaited<ReturnType<typeof startService>>

export interface Req {
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
}

export interface Answer {
  status: number
  contentType: string | null
  text: string
}

/** A request as a short text for failure messages (long bodies cut). */
function show(r: Req): string {
  const body =
    r.body === undefined ? '' : ` body (${r.body.length} bytes): ${JSON.stringify(r.body.subarray(0, 400).toString('latin1'))}${r.body.length > 400 ? '…' : ''}`
  return `${r.method} ${r.path.length > 300 ? `${r.path.slice(0, 300)}…` : r.path} headers ${JSON.stringify(r.headers, (_, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v))}${body}`
}

/** Rejects when `p` has not settled within the timeout: a request that hangs fails the run. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)),
      ),
    ])
  } finally {
    clearTimeout(timer)
  }
}

async function send(service: Service, r: Req): Promise<Answer> {
  const res = await within(
    Promise.resolve(service.app.request(r.path, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) })),
    show(r),
  )
  const text = await within(res.text(), show(r))
  return { status: res.status, contentType: res.headers.get('content-type'), text }
}

export interface ErrorAnswer {
  error: { code: string; message: string; field?: string; rejected?: Rejected[] }
  code: string
  message: string
}
export interface Rejected {
  index: number
  reason: string
  field: string
  message: string
}

/** Tally of answers per phase: `status code` → count. */
type Tally = Map<string, number>
export const tallies = new Map<string, Tally>()
function count(phase: string, a: Answer, body: unknown): void {
  const t = tallies.get(phase) ?? new Map<string, number>()
  tallies.set(phase, t)
  const e = a.status >= 400 ? (body as ErrorAnswer).error : undefined
  const k = e
    ? `${a.status} ${e.code}${e.code === 'invalid_body' && e.field ? ` ${/^[\w()]+$/.test(e.field.split(/[.[]/)[0]!) ? e.field.split(/[.[]/)[0] : '…'}` : ''}`
    : `${a.status} ok`
  t.set(k, (t.get(k) ?? 0) + 1)
}

/**
 * What every answer must be: 2xx or 4xx, JSON, and an error answer in the documented shape
 * (`error.code`, `error.message`, the code and message again at the top level). The parsed body.
 */
function checked(phase: string, r: Req, a: Answer): unknown {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  request: ${show(r)}\n  answer: ${a.status} ${a.contentType} ${a.text.slice(0, 600)}`)
  }
  if (!((a.status >= 200 && a.status < 300) || (a.status >= 400 && a.status < 500))) fail(`status ${a.status} is neither 2xx nor 4xx`)
  if (!/^application\/json/.test(a.contentType ?? '')) fail('the answer is not JSON (content-type)')
  let body: unknown
  try {
    body = JSON.parse(a.text)
  } catch {
    fail('the answer body is not JSON')
  }
  if (a.status >= 400) {
    const e = body as Partial<ErrorAnswer> | null
    if (!e || typeof e !== 'object' || !e.error || typeof e.error !== 'object') fail('an error answer without `error`')
    if (typeof e!.error!.code !== 'string' || e!.error!.code === '') fail('error.code is not a string')
    if (typeof e!.error!.message !== 'string') fail('error.message is not a string')
    if (e!.code !== e!.error!.code) fail('top-level code is not error.code')
    if (e!.message !== e!.error!.message) fail('top-level message is not error.message')
    if (e!.error!.code === 'internal') fail('an internal error')
  }
  count(phase, a, body)
  return body
}

/** Prometheus samples by `name{labels}`. */
export const scrape = (service: Service): Promise<Map<string, number>> => scrapeMetrics(service.app)

/** Sum of every sample of a metric (all label sets). */
export const total = (samples: Map<string, number>, name: string): number => metricTotal(samples, name)

/**
 * Runs a property `numRuns` times over `lanes` concurrent fast-check runs (each its own seed), so
 * requests overlap as they do in production and share the spool's grouped syncs. The first
 * failure stops the other lanes and is thrown with its shrunk counterexample.
 */
async function fuzz<T>(name: string, arb: fc.Arbitrary<T>, run: (t: T) => Promise<void>, numRuns: number, lanes: number): Promise<void> {
  // The lane that failed first goes on alone, shrinking its counterexample; the others stop.
  let failedLane: number | undefined
  const results = await Promise.allSettled(
    Array.from({ length: lanes }, (_, lane) =>
      fc.assert(
        fc.asyncProperty(arb, async (t) => {
          if (failedLane !== undefined && failedLane !== lane) return
          try {
            await run(t)
          } catch (e) {
            failedLane ??= lane
            throw e
          }
        }),
        { numRuns: Math.ceil((numRuns * SCALE) / lanes), seed: SEED + lane * 7919 + name.length },
      ),
    ),
  )
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}

export function failure(why: string, r: Req, a: Answer): Error {
  return new Error(`${why}\n  request: ${show(r)}\n  answer: ${a.status} ${a.text.slice(0, 600)}`)
}

/** What the quarantine holds (rows ClickHouse refused): the first few, with the reason and the ids. */
export function quarantined(svc: Collector): string {
  const dir = join(svc.dir, 'quarantine')
  if (!existsSync(dir)) return 'nothing'
  const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
  return `${lines.length} rows, e.g.:\n${lines
    .slice(0, 3)
    .map((l) => {
      const q = JSON.parse(l) as { reason: string; record: string }
      const row = JSON.parse(q.record) as unknown[]
      return `  event ${JSON.stringify(row[3])} user_id ${JSON.stringify(row[5])} anonymous_id ${JSON.stringify(row[6])}: ${q.reason.split('\n')[0]!.slice(0, 200)}`
    })
    .join('\n')}`
}

/**
 * Fuzzes one endpoint family: every answer checked (see `checked`), then by `verify`; the error
 * answers seen must be exactly the increase of `attune_requests_rejected_total`.
 */
export async function phase<G>(
  service: Service,
  name: string,
  arb: fc.Arbitrary<G>,
  build: (g: G) => { r: Req; plain?: Buffer },
  verify: (g: G, r: Req, a: Answer, body: unknown, plain: Buffer | undefined) => void,
  numRuns: number,
  lanes: number,
) {
  let errors = 0
  let requests = 0
  const before = await scrape(service)
  await fuzz(
    name,
    arb,
    async (g) => {
      const { r, plain } = build(g)
      const a = await send(service, r)
      requests++
      const body = checked(name, r, a)
      if (a.status >= 400) errors++
      verify(g, r, a, body, plain)
    },
    numRuns,
    lanes,
  )
  const after = await scrape(service)
  console.log(`${name}: ${requests} requests, ${errors} error answers`, Object.fromEntries(tallies.get(name) ?? []))
  expect(requests).toBeGreaterThanOrEqual(numRuns * SCALE)
  expect(total(after, 'attune_requests_rejected_total') - total(before, 'attune_requests_rejected_total')).toBe(errors)
  return { before, after, errors }
}

/** Waits until the ingestion workers (which take compressed and large bodies) are all ready. */
export async function workersReady(service: Service): Promise<void> {
  if (service.pool) await waitFor(() => service.pool!.workers.ready === service.pool!.workers.total, 30_000, 'the ingestion workers')
}

/** What a fuzzed collector must show at the end: the spool drained, no server error logged, the counters adding up, nothing quarantined. */
export async function leavesNothingBehind(svc: Collector): Promise<void> {
  const service = svc.service
  await waitFor(() => service.spool.depthBytes() === 0, 30_000, 'the spool to drain')
  // Each checked on its own: one failing does not hide the others.
  expect
    .soft(
      svc.logs.filter((l) => l.includes('internal') || l.startsWith('5')),
      'server errors logged',
    )
    .toEqual([])
  expect.soft(service.writer.state.lastError).toBeNull()
  const end = await scrape(service)
  expect.soft(total(end, 'attune_events_received_total')).toBe(total(end, 'attune_events_accepted_total') + total(end, 'attune_events_rejected_total'))
  expect.soft(total(end, 'attune_events_quarantined_total'), `events refused by ClickHouse (quarantined): ${quarantined(svc)}`).toBe(0)
}

/**
 * People for the read and decide fuzzing to find: patients with goals, answers and touches on
 * several channels (profiles and timelines with entries), p-1 at level 2 with its browser a-1
 * linked by an identity token (so questionnaires above level 0 are served with tickets), and the
 * odd ids as patients of their own. Sent through the API as a backend and a browser would.
 */
export async function seedPeople(service: Service, oddIds: readonly string[]): Promise<void> {
  const day = DAY_MS
  const at = (days: number) => new Date(Date.now() - days * day).toISOString()
  const history = (userId: string) => [
    ...['diary_downloaded', 'nurse_callback_requested', 'appointment_checklist_downloaded'].map((goal, i) => ({
      type: 'track',
      userId,
      event: 'goal_reached',
      timestamp: at(i + 1),
      properties: { goal },
    })),
    {
      type: 'track',
      userId,
      event: 'questionnaire_answered',
      timestamp: at(4),
      properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'coping' }] },
    },
    { type: 'track', userId, event: 'medication_checkin', timestamp: at(2) },
    { type: 'track', userId, event: 'medication_checkin', timestamp: at(1) },
    { type: 'track', userId, event: 'print_delivered', timestamp: at(5), context: { channel: 'print' }, properties: { content: ['itch-basics'] } },
  ]
  const patients = ['p-1', 'p-2', ...oddIds.filter((id) => id.trim() !== '' && !id.includes('\u0000'))]
  const send = async (key: string, batch: object[], origin?: string) => {
    const res = await service.app.request('/v1/batch', {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json', ...(origin ? { origin } : {}) },
      body: JSON.stringify({ batch }),
    })
    if (res.status !== 200) throw new Error(`seeding the fuzzed collector: ${res.status} ${await res.text()}`)
  }
  for (const p of patients) await send(DEMO.secretKey, history(p))
  await send(
    DEMO.writeKey,
    [{ type: 'identify', userId: 'p-1', anonymousId: 'a-1', context: { identityToken: identityToken('p-1') } }],
    'http://localhost:5173',
  )
  await waitFor(() => service.spool.depthBytes() === 0 && (service.profiles?.current(DEMO.program) ?? true), 30_000, 'the seeded people to land')
}

/** A collector for a fuzz file, with people to find already landed (see seedPeople); stopped after the file. */
export async function seededCollector(oddIds: readonly string[]): Promise<Collector> {
  const svc = await startService()
  await seedPeople(svc.service, oddIds)
  return svc
}
