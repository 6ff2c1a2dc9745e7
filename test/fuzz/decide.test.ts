// Fuzzing decide (POST /v1/decide) in-process (app.request) on the real embedded ClickHouse, with
// 10,000 hostile requests: decide fields hostile now and then or everywhere, deep nesting, junk,
// bodies about the size limit, odd keys (a body's writeKey among them), origins, content types and
// encodings (see harness.ts, bodies.ts). Every answer is 2xx or a JSON 4xx; a browser (write key)
// is answered content only, on the web; a key without the decide scope is answered nothing; the
// decisions and stage changes recorded as events land, none quarantined; no server error logged.
//
// FUZZ_SEED=<n> runs with another seed (the default is fixed, so a failure reproduces);
// FUZZ_SCALE=<k> sends k times as many requests (a longer hunt).
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../../collector/index.ts'
import { MAX_DECIDE_BYTES } from '../../collector/index.ts'
import { waitFor } from '../helpers.ts'
import { type BodySpec, decideFieldsOf, deepBody, junkBody, sized, sizedText, ODD_IDS } from './bodies.ts'
import { type Collector, failure, leavesNothingBehind, phase, quarantined, SCALE, scrape, tallies, total, seededCollector } from './harness.ts'
import { bytesOf, field, json } from './hostile-text.ts'
import {
  ADMIN_KEYS,
  contentType,
  encode,
  encoding,
  headersOf,
  keyOf,
  keyValueArb,
  origin,
  otherHeaders,
  refusedOrigin,
  senderAuthorization,
  userAgent,
  WRITE_KEYS,
} from './requests.ts'

let svc: Collector
let service: Service

beforeAll(async () => {
  // Someone to read and decide for: profiles with history, a browser whose level opens questionnaires.
  svc = await seededCollector(ODD_IDS)
  service = svc.service
})
afterAll(async () => {
  await svc?.stop()
})

describe('fuzz: decide answers 2xx or a JSON 4xx, whatever it is sent', () => {
  it('decide: 10,000 hostile requests; a browser is answered content only, a key without the decide scope nothing', { timeout: 120_000 * SCALE }, async () => {
    const decideRequest = fc.record({
      path: fc.oneof(
        { weight: 60, arbitrary: fc.constant('/v1/decide') },
        { weight: 1, arbitrary: fc.constantFrom('/v1/decide/', '/v1/Decide', '/v1/decide?writeKey=pk_demo_psoriasis_7f3a9c2e', '/v1/decide?channel=web') },
      ),
      authorization: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: senderAuthorization }),
      origin,
      contentType,
      userAgent,
      encoding,
      other: otherHeaders,
      fields: fc.oneof({ weight: 9, arbitrary: decideFieldsOf(80) }, { weight: 1, arbitrary: decideFieldsOf(2) }),
      writeKey: fc.oneof(
        { weight: 24, arbitrary: fc.constant(undefined) },
        { weight: 8, arbitrary: json(keyValueArb) },
        { weight: 1, arbitrary: field(fc.constant('null'), 1) },
      ),
      body: fc.oneof(
        { weight: 400, arbitrary: fc.constant<BodySpec>({ aligned: true }) },
        { weight: 10, arbitrary: deepBody.map((text): BodySpec => ({ text })) },
        { weight: 10, arbitrary: junkBody.map((text): BodySpec => ({ text })) },
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): BodySpec => ({ bytes })) },
        { weight: 3, arbitrary: sized(MAX_DECIDE_BYTES) },
      ),
    })
    const BROWSER_ANSWER = ['channel', 'decidedAt', 'decisions', 'program', 'requestId']
    const BROWSER_DECISION = new Set(['slot', 'outcome', 'reason', 'content'])
    let shown = 0
    const { before } = await phase(
      service,
      'decide',
      decideRequest,
      (g) => {
        let plain: Buffer
        if ('aligned' in g.body)
          plain = bytesOf(
            g.writeKey === undefined ? g.fields : g.fields === '{}' ? `{"writeKey":${g.writeKey}}` : `{"writeKey":${g.writeKey},${g.fields.slice(1)}`,
          )
        else if ('text' in g.body) plain = bytesOf(g.body.text)
        else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, 'decide', g.body.spaces))
        return { r: { method: 'POST', path: g.path, headers: headersOf(g), body: encode(plain, g.encoding) }, plain }
      },
      (_g, r, a, body, plain) => {
        if (a.status >= 400) return
        const key = keyOf(r.headers, plain)
        if (refusedOrigin(r, key)) throw failure('a write key answered from an origin it does not allow', r, a)
        if (!key || (!WRITE_KEYS.includes(key) && !Object.values(ADMIN_KEYS).includes(key))) throw failure('decided for a key without the decide scope', r, a)
        const out = body as { program: unknown; requestId: unknown; channel: unknown; decidedAt: unknown; decisions: Array<Record<string, unknown>> }
        if (
          typeof out.program !== 'string' ||
          typeof out.requestId !== 'string' ||
          typeof out.decidedAt !== 'string' ||
          !Array.isArray(out.decisions) ||
          out.decisions.length === 0
        )
          throw failure('a decide answer not in the documented shape', r, a)
        if (WRITE_KEYS.includes(key)) {
          // A browser's answer: content only, nothing of the profile.
          if (JSON.stringify(Object.keys(out).sort()) !== JSON.stringify(BROWSER_ANSWER))
            throw failure('a browser’s decide answer holds more than the content', r, a)
          if (out.channel !== 'web') throw failure('a write key decided for another channel than the web', r, a)
          for (const dcs of out.decisions)
            for (const k of Object.keys(dcs)) if (!BROWSER_DECISION.has(k)) throw failure(`a browser’s decision holds ${k}`, r, a)
        }
        shown += out.decisions.filter((x) => x.outcome === 'shown').length
      },
      10_000,
      4,
    )
    console.log(`decide: ${shown} decisions shown`)
    expect(tallies.get('decide')!.get('200 ok') ?? 0).toBeGreaterThan(1_500)
    // The decisions and stage changes recorded as events land: none is refused by ClickHouse.
    await waitFor(() => service.spool.depthBytes() === 0, 30_000, 'the decision events to land')
    const landed = await scrape(service)
    const refused = total(landed, 'attune_events_quarantined_total') - total(before, 'attune_events_quarantined_total')
    expect(refused, `decision events refused by ClickHouse (quarantined): ${refused ? quarantined(svc) : ''}`).toBe(0)
  })

  it('leaves nothing behind: the spool drains and no server error was logged', { timeout: 60_000 }, async () => {
    await leavesNothingBehind(svc)
  })
})
