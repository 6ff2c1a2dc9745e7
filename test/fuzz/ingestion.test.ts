// Fuzzing ingestion (batch, import and the six message types) in-process (app.request) on the real
// embedded ClickHouse, with 10,000 hostile requests: messages and batches with hostile fields,
// deep nesting, junk, bytes that are not UTF-8, bodies about the size limit, odd keys, origins,
// content types and encodings (see harness.ts, bodies.ts). Every answer is 2xx or a JSON 4xx; every
// event the server could read is accepted or rejected, and the counters reconcile; everything
// accepted lands, once; nothing is quarantined or logged as a server error.
//
// FUZZ_SEED=<n> runs with another seed (the default is fixed, so a failure reproduces);
// FUZZ_SCALE=<k> sends k times as many requests (a longer hunt).
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../../collector/index.ts'
import { MAX_BODY_BYTES } from '../../collector/index.ts'
import { startService, waitFor } from '../helpers.ts'
import { batchEnvelope, batchText, type BodySpec, deepBody, junkBody, message, messageText, sized, sizedText } from './bodies.ts'
import {
  type Collector,
  type ErrorAnswer,
  failure,
  leavesNothingBehind,
  phase,
  quarantined,
  type Rejected,
  SCALE,
  scrape,
  total,
  workersReady,
} from './harness.ts'
import { bytesOf } from './hostile-text.ts'
import { contentType, encode, encoding, headersOf, keyOf, origin, otherHeaders, refusedOrigin, senderAuthorization, userAgent } from './requests.ts'

const INGEST_PATHS = ['/v1/batch', '/v1/import', '/v1/import/', '/v1/track', '/v1/page', '/v1/screen', '/v1/identify', '/v1/alias', '/v1/group']

let svc: Collector
let service: Service

beforeAll(async () => {
  svc = await startService()
  service = svc.service
  // Compressed and large bodies go to the ingestion workers: fuzz them too, not only the inline path.
  await workersReady(service)
})
afterAll(async () => {
  await svc?.stop()
})

describe('fuzz: every ingestion endpoint answers 2xx or a JSON 4xx, whatever it is sent', () => {
  it('ingestion: 10,000 hostile requests; the counters reconcile and everything accepted lands', { timeout: 150_000 * SCALE }, async () => {
    const ingestRequest = fc.record({
      path: fc.oneof(
        { weight: 40, arbitrary: fc.constantFrom(...INGEST_PATHS) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '/v1/Track',
            '/v1/track/',
            '/v1//batch',
            '/v1/batch?writeKey=pk_demo_psoriasis_7f3a9c2e',
            '/v1/trackx',
            '/v1/batch/..',
            '/v1/%62atch',
          ),
        },
      ),
      authorization: senderAuthorization,
      origin,
      contentType,
      userAgent,
      encoding,
      other: otherHeaders,
      message,
      batch: batchEnvelope,
      body: fc.oneof(
        { weight: 400, arbitrary: fc.constant<BodySpec>({ aligned: true }) },
        { weight: 10, arbitrary: deepBody.map((text): BodySpec => ({ text })) },
        { weight: 10, arbitrary: junkBody.map((text): BodySpec => ({ text })) },
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BodySpec => ({ bytes })) },
        { weight: 2, arbitrary: sized(MAX_BODY_BYTES) },
      ),
      swap: fc.nat(29),
    })

    let acceptedSeen = 0
    let rejectedEventsSeen = 0
    const reasons = new Map<string, number>()
    const single = (path: string) => /^\/v1\/(track|page|screen|identify|alias|group)$/.exec(path.split('?')[0]!)?.[1]
    const { before, after, errors } = await phase(
      service,
      'ingest',
      ingestRequest,
      (g) => {
        const type = single(g.path)
        let plain: Buffer
        if ('aligned' in g.body) {
          // Mostly the body the endpoint takes; one in 30 the other shape.
          const asSingle = g.swap === 0 ? !type : !!type || !INGEST_PATHS.includes(g.path)
          plain = bytesOf(asSingle ? messageText(g.message, type, 0) : batchText(g.batch))
        } else if ('text' in g.body) plain = bytesOf(g.body.text)
        else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, type ? 'message' : 'batch', g.body.spaces))
        return { r: { method: 'POST', path: g.path, headers: headersOf(g), body: encode(plain, g.encoding) }, plain }
      },
      (g, r, a, body, plain) => {
        // How many events the server was sent, when it could read them: each is accepted or rejected.
        let events: number | undefined
        try {
          const parsed = JSON.parse(plain!.toString('utf8')) as unknown
          if (single(g.path)) events = 1
          else if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { batch?: unknown }).batch))
            events = (parsed as { batch: unknown[] }).batch.length
        } catch {
          // not JSON: nothing was received
        }
        const tally = (rejected: Rejected[]) => {
          rejectedEventsSeen += rejected.length
          for (const x of rejected) {
            const k = `${x.reason} ${x.field.replace(/^batch\[\d+\]\.?/, '').split(/[.[]/)[0]}`
            reasons.set(k, (reasons.get(k) ?? 0) + 1)
          }
        }
        const wellFormed = (rejected: Rejected[]) => {
          let last = -1
          for (const x of rejected) {
            if (!Number.isInteger(x.index) || x.index <= last || (events !== undefined && x.index >= events))
              throw failure('rejected events out of order or out of range', r, a)
            if (typeof x.reason !== 'string' || typeof x.field !== 'string' || typeof x.message !== 'string')
              throw failure('a rejected event not in the documented shape', r, a)
            last = x.index
          }
        }
        if (a.status >= 400) {
          const e = (body as ErrorAnswer).error
          if (e.code === 'no_valid_events') {
            if (!Array.isArray(e.rejected) || e.rejected.length === 0) throw failure('no_valid_events without its rejected list', r, a)
            wellFormed(e.rejected)
            if (events !== undefined && e.rejected.length !== events) throw failure(`no_valid_events lists ${e.rejected.length} of ${events} events`, r, a)
            tally(e.rejected)
          }
          return
        }
        if (a.status !== 200) throw failure(`an ingestion answer of ${a.status}`, r, a)
        const ok = body as { success: boolean; accepted: number; rejected: Rejected[] }
        if (ok.success !== true || !Number.isInteger(ok.accepted) || ok.accepted < 1 || !Array.isArray(ok.rejected))
          throw failure('a 200 not in the documented shape', r, a)
        wellFormed(ok.rejected)
        if (refusedOrigin(r, keyOf(r.headers, plain))) throw failure('a write key accepted from an origin it does not allow', r, a)
        if (events !== undefined && ok.accepted + ok.rejected.length !== events)
          throw failure(`${ok.accepted} accepted and ${ok.rejected.length} rejected of ${events} events`, r, a)
        acceptedSeen += ok.accepted
        tally(ok.rejected)
      },
      10_000,
      4,
    )
    const d = (name: string) => total(after, name) - total(before, name)
    console.log(
      `ingestion: ${acceptedSeen} events accepted, ${rejectedEventsSeen} rejected, ${errors} error answers; rejections by reason and field:`,
      Object.fromEntries([...reasons].sort((x, y) => y[1] - x[1]).slice(0, 25)),
    )
    expect(acceptedSeen).toBeGreaterThan(2_000)
    expect(rejectedEventsSeen).toBeGreaterThan(1_000)
    expect(d('attune_events_received_total')).toBe(d('attune_events_accepted_total') + d('attune_events_rejected_total'))
    expect(d('attune_events_accepted_total')).toBe(acceptedSeen)
    expect(d('attune_events_rejected_total')).toBe(rejectedEventsSeen)
    expect(d('attune_requests_rejected_total')).toBe(errors)
    expect(total(after, 'attune_events_received_total')).toBe(total(after, 'attune_events_accepted_total') + total(after, 'attune_events_rejected_total'))

    // Everything accepted lands: the spool drains, each event inserted once or found a duplicate, none quarantined.
    await waitFor(
      () => {
        if (service.writer.state.consecutiveFailures >= 2) throw new Error(`inserts keep failing: ${service.writer.state.lastError}`)
        return service.spool.depthBytes() === 0
      },
      30_000,
      'the spool to drain',
    )
    const landed = await scrape(service)
    const dl = (name: string) => total(landed, name) - total(before, name)
    expect(dl('attune_events_quarantined_total'), `accepted events refused by ClickHouse (quarantined): ${quarantined(svc)}`).toBe(0)
    expect(dl('attune_events_inserted_total') + dl('attune_events_duplicate_total')).toBe(acceptedSeen)
    expect(service.writer.state.lastError).toBeNull()
  })

  it('leaves nothing behind: the spool drains and no server error was logged', { timeout: 60_000 }, async () => {
    await leavesNothingBehind(svc)
  })
})
