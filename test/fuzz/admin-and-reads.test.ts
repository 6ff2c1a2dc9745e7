// Fuzzing questionnaires, profiles and timelines, and program administration in-process
// (app.request) on the real embedded ClickHouse, with about 5,100 hostile requests: odd ids and
// URL parts, query values out of range, keys in the URL and in HTTP Basic, origins, methods the
// endpoints do not take, and PUT of program documents that cannot be used (broken, random, junk,
// deep, over 1 MB) or with keys that may not use them (see harness.ts, bodies.ts). Every answer is
// 2xx or a JSON 4xx; nothing is answered to a key without the scope; no key or secret is shown in
// clear; no program version is stored or activated; no server error logged.
//
// FUZZ_SEED=<n> runs with another seed (the default is fixed, so a failure reproduces);
// FUZZ_SCALE=<k> sends k times as many requests (a longer hunt).
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Service } from '../../collector/index.ts'
import { MAX_PROGRAM_BYTES } from '../../collector/index.ts'
import { basic, DEMO, ROOT } from '../helpers.ts'
import { BREAKS, broken, deepBody, junkBody, ODD_IDS, psoriasisDocument, sizedText } from './bodies.ts'
import { type Collector, type ErrorAnswer, failure, leavesNothingBehind, phase, SCALE, seededCollector } from './harness.ts'
import { anyJson, bytesOf, keyText } from './hostile-text.ts'
import {
  ADMIN_KEYS,
  authorization,
  basicUserOf,
  CLEAR_SECRETS,
  contentType,
  decoded,
  encode,
  type Encoding,
  encoding,
  headersOf,
  KEYS,
  keyValueArb,
  optionalQuery,
  origin,
  pct,
  query,
  QUIT,
  refusedOrigin,
  secretAuthorization,
  urlPart,
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

describe('fuzz: questionnaires, profiles, timelines and program administration answer 2xx or a JSON 4xx, whatever they are sent', () => {
  it('questionnaires, profiles, timelines and program administration: hostile requests never replace a program', { timeout: 120_000 * SCALE }, async () => {
    const versionsOf = async (program: string) =>
      (await (await service.app.request(`/v1/admin/programs/${program}/versions`, { headers: { authorization: basic(ADMIN_KEYS[program]!) } })).json()) as {
        active: number
        versions: unknown[]
      }
    const activeOf = async (program: string) => {
      const a = (await (await service.app.request(`/v1/admin/programs/${program}`, { headers: { authorization: basic(ADMIN_KEYS[program]!) } })).json()) as {
        version: number
        checksum: string
      }
      return { version: a.version, checksum: a.checksum }
    }
    const programsBefore = {
      versions: [await versionsOf(DEMO.program), await versionsOf(QUIT.program)],
      active: [await activeOf(DEMO.program), await activeOf(QUIT.program)],
    }

    // GET /v1/questionnaires/:id, the key as HTTP Basic or ?writeKey= (with ?anonymousId=).
    const QUESTIONNAIRES = [
      'first-needs',
      'living-with-psoriasis',
      'treatment-experience',
      ...(JSON.parse(readFileSync(join(ROOT, 'programs/smoking-cessation-demo.json'), 'utf8')) as { questionnaires: Array<{ id: string }> }).questionnaires.map(
        (q) => q.id,
      ),
    ]
    await phase(
      service,
      'questionnaires',
      fc.record({
        id: urlPart([...QUESTIONNAIRES.slice(0, 3), ...QUESTIONNAIRES.slice(0, 3), ...QUESTIONNAIRES]),
        writeKey: fc.oneof(
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 6, arbitrary: fc.constant(DEMO.writeKey) },
          { weight: 1, arbitrary: fc.constant(QUIT.writeKey) },
          { weight: 3, arbitrary: keyValueArb },
        ),
        anonymousId: optionalQuery('anonymousId', urlPart(['a-1', 'a-2', 'a-fuzz-1', 'x'.repeat(200), 'x'.repeat(201), ''])),
        junk: optionalQuery(pct('__proto__'), urlPart(['1', ''])),
        authorization: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: authorization }),
        origin,
        userAgent,
      }),
      (g) => ({
        r: {
          method: 'GET',
          path: `/v1/questionnaires/${g.id}${query(g.writeKey === undefined ? undefined : `writeKey=${pct(g.writeKey)}`, g.anonymousId, g.junk)}`,
          headers: headersOf(g),
        },
      }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        const basicUser = basicUserOf(r.headers)
        // A secret key is taken only as HTTP Basic, never from a URL.
        if (!basicUser && !WRITE_KEYS.includes(g.writeKey ?? '')) throw failure('a questionnaire answered to a key in the URL that is not a write key', r, a)
        if (refusedOrigin(r, basicUser ?? g.writeKey)) throw failure('a write key answered from an origin it does not allow', r, a)
        const q = body as { id: unknown; title: unknown; availableAtLevel: unknown; questions: unknown; ticket?: unknown }
        if (typeof q.id !== 'string' || typeof q.title !== 'string' || typeof q.availableAtLevel !== 'number' || !Array.isArray(q.questions))
          throw failure('a questionnaire not in the documented shape', r, a)
        if (!basicUser && (q.availableAtLevel as number) > 0 && typeof q.ticket !== 'string')
          throw failure('a questionnaire above level 0 served to a browser without a ticket', r, a)
      },
      1_500,
      2,
    )

    // GET /v1/profiles/:id and /v1/profiles/:id/timeline?days=&limit=
    const NUMS = [
      '1',
      '7',
      '90',
      '3660',
      '3661',
      '10000',
      '10001',
      '0',
      '-1',
      '1.5',
      '1e3',
      'NaN',
      'Infinity',
      '0x10',
      ' 5',
      '',
      '9'.repeat(400),
      '\u0000',
      '１',
      '2e0',
      '-0',
    ]
    const profileRequest = fc.record({
      id: urlPart(['p-1', 'p-2', 'p-3', 'p-fuzz-click', 'a-1', 'x'.repeat(200), 'x'.repeat(201), ...ODD_IDS.map(pct)]),
      program: optionalQuery('program', urlPart([DEMO.program, QUIT.program])),
      authorization: secretAuthorization,
      origin,
      userAgent,
    })
    await phase(
      service,
      'profiles',
      profileRequest,
      (g) => ({ r: { method: 'GET', path: `/v1/profiles/${g.id}${query(g.program)}`, headers: headersOf(g) } }),
      (_g, r, a, body) => {
        if (a.status >= 400) return
        if (!Object.values(ADMIN_KEYS).includes(basicUserOf(r.headers) ?? '')) throw failure('a profile answered to a key without the profiles scope', r, a)
        if (!Array.isArray((body as { ids?: unknown }).ids)) throw failure('a profile not in the documented shape', r, a)
      },
      1_000,
      2,
    )
    await phase(
      service,
      'timeline',
      fc.record({
        profile: profileRequest,
        days: fc.option(fc.constantFrom(...NUMS), { nil: undefined, freq: 4 }),
        limit: fc.option(fc.constantFrom(...NUMS), { nil: undefined, freq: 4 }),
      }),
      (g) => ({
        r: {
          method: 'GET',
          path: `/v1/profiles/${g.profile.id}/timeline${query(g.profile.program, g.days === undefined ? undefined : `days=${pct(g.days)}`, g.limit === undefined ? undefined : `limit=${pct(g.limit)}`)}`,
          headers: headersOf(g.profile),
        },
      }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        if (!Object.values(ADMIN_KEYS).includes(basicUserOf(r.headers) ?? '')) throw failure('a timeline answered to a key without the profiles scope', r, a)
        const inRange = (raw: string | undefined, max: number) => raw === undefined || (Number.isInteger(Number(raw)) && Number(raw) >= 1 && Number(raw) <= max)
        if (!inRange(g.days, 3660) || !inRange(g.limit, 10_000)) throw failure('a timeline answered for days or limit out of range', r, a)
        if (typeof (body as { program?: unknown }).program !== 'string') throw failure('a timeline not in the documented shape', r, a)
      },
      500,
      2,
    )

    // GET /v1/admin/programs/:id and /versions
    const adminGet = fc.record({
      id: urlPart([DEMO.program, DEMO.program, QUIT.program, 'PSORIASIS-DEMO', 'nope']),
      versions: fc.boolean(),
      authorization: secretAuthorization,
      origin,
      junk: optionalQuery('program', urlPart([QUIT.program])),
    })
    await phase(
      service,
      'admin-get',
      adminGet,
      (g) => ({ r: { method: 'GET', path: `/v1/admin/programs/${g.id}${g.versions ? '/versions' : ''}${query(g.junk)}`, headers: headersOf(g) } }),
      (g, r, a, body) => {
        if (a.status >= 400) return
        if (basicUserOf(r.headers) !== ADMIN_KEYS[decoded(g.id)])
          throw failure('a program document answered to a key that is not the program’s admin key', r, a)
        if (g.versions ? !Array.isArray((body as { versions?: unknown }).versions) : typeof (body as { document?: unknown }).document !== 'object')
          throw failure('an answer not in the documented shape', r, a)
        for (const secret of CLEAR_SECRETS) if (a.text.includes(secret)) throw failure('a key or secret in clear in a program answer', r, a)
      },
      1_000,
      2,
    )

    // Methods the endpoints do not take: 404 in the same JSON shape.
    const POSTED = ['/v1/batch', '/v1/track', '/v1/decide']
    await phase(
      service,
      'methods',
      fc
        .record({
          method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'POST'),
          path: fc.constantFrom(
            ...POSTED,
            '/v1/questionnaires/first-needs',
            '/v1/profiles/p-1',
            '/v1/profiles/p-1/timeline',
            `/v1/admin/programs/${DEMO.program}/versions`,
            '/v1',
            '/v1/',
            '/v1/admin',
            '/v1/admin/programs',
            '/v1/profiles',
          ),
          authorization: secretAuthorization,
          origin,
          body: fc.option(junkBody, { nil: undefined, freq: 2 }),
        })
        .filter((g) => (g.method === 'POST' ? !POSTED.includes(g.path) : g.method === 'GET' ? POSTED.includes(g.path) || !g.path.includes('/', 4) : true)),
      (g) => ({
        r: { method: g.method, path: g.path, headers: headersOf(g), ...(g.method !== 'GET' && g.body !== undefined ? { body: bytesOf(g.body) } : {}) },
      }),
      (_g, r, a) => {
        if (a.status !== 404) throw failure('a method the endpoint does not take was not refused with 404', r, a)
      },
      300,
      2,
    )

    // PUT /v1/admin/programs/:id, never with a document the key may use: broken copies of the
    // document (each break refused on its own, checked first), random JSON, junk, deep nesting,
    // over 1 MB; or the whole valid document with a key that may not send it.
    const put = (id: string, body: string | Buffer, key: string = DEMO.secretKey) =>
      service.app.request(`/v1/admin/programs/${id}`, { method: 'PUT', headers: { authorization: basic(key), 'content-type': 'application/json' }, body })
    for (const [i, [what]] of BREAKS.entries()) {
      const res = await put(DEMO.program, broken([i]))
      expect([res.status, ((await res.json()) as ErrorAnswer).error.code], what).toEqual([400, 'invalid_program'])
    }
    // Keys that may not change the psoriasis program, whatever they send.
    const notAdmin = fc.constantFrom(
      basic(DEMO.writeKey),
      basic(DEMO.callKey),
      basic(DEMO.printKey),
      basic(QUIT.secretKey),
      basic(QUIT.writeKey),
      basic(KEYS.unknownSk),
      `Bearer ${DEMO.secretKey}`,
      basic(''),
    )
    const putRequest = fc.record({
      id: urlPart([DEMO.program, DEMO.program, DEMO.program, QUIT.program]),
      authorization: fc.oneof(
        { weight: 6, arbitrary: fc.constant(basic(DEMO.secretKey)) },
        { weight: 1, arbitrary: fc.constant(basic(QUIT.secretKey)) },
        { weight: 2, arbitrary: authorization },
      ),
      origin,
      contentType,
      encoding: fc.oneof({ weight: 5, arbitrary: fc.constant<Encoding>({ transform: 'none' }) }, { weight: 1, arbitrary: encoding }),
      body: fc.oneof(
        {
          weight: 8,
          arbitrary: fc.record({
            breaks: fc.uniqueArray(fc.nat(BREAKS.length - 1), { minLength: 1, maxLength: 3 }),
            extra: fc.option(fc.tuple(keyText, anyJson), { nil: undefined, freq: 2 }),
          }),
        },
        { weight: 4, arbitrary: anyJson.map((text) => ({ text })) },
        { weight: 1, arbitrary: junkBody.map((text) => ({ text })) },
        { weight: 1, arbitrary: deepBody.map((text) => ({ text })) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })) },
        { weight: 1, arbitrary: fc.constantFrom(MAX_PROGRAM_BYTES, MAX_PROGRAM_BYTES + 1).chain((n) => fc.boolean().map((spaces) => ({ sized: n, spaces }))) },
      ),
      valid: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: notAdmin }),
    })
    await phase(
      service,
      'admin-put',
      putRequest,
      (g) => {
        let plain: Buffer
        let authorization = g.authorization
        if (g.valid !== undefined) {
          // The whole valid document, with a key that may not send it.
          plain = Buffer.from(JSON.stringify(psoriasisDocument))
          authorization = g.valid
        } else if ('breaks' in g.body) {
          const doc = broken(g.body.breaks)
          plain = bytesOf(g.body.extra ? `${doc.slice(0, -1)},${g.body.extra[0]}:${g.body.extra[1]}}` : doc)
        } else if ('text' in g.body) {
          plain = bytesOf(g.body.text)
          // Random JSON is never a whole program document; an object naming the program is sent inside a list anyway.
          try {
            const parsed = JSON.parse(plain.toString('utf8')) as { id?: unknown } | null
            if (parsed && typeof parsed === 'object' && parsed.id === decoded(g.id)) plain = Buffer.concat([Buffer.from('['), plain, Buffer.from(']')])
          } catch {
            // not JSON
          }
        } else if ('bytes' in g.body) plain = Buffer.from(g.body.bytes)
        else plain = Buffer.from(sizedText(g.body.sized, 'program', g.body.spaces))
        return { r: { method: 'PUT', path: `/v1/admin/programs/${g.id}`, headers: headersOf({ ...g, authorization }), body: encode(plain, g.encoding) }, plain }
      },
      (_g, r, a) => {
        if (a.status < 400) throw failure('a program document was accepted', r, a)
      },
      800,
      2,
    )
    // Nothing was stored or activated.
    expect({
      versions: [await versionsOf(DEMO.program), await versionsOf(QUIT.program)],
      active: [await activeOf(DEMO.program), await activeOf(QUIT.program)],
    }).toEqual(programsBefore)
  })

  it('leaves nothing behind: the spool drains and no server error was logged', { timeout: 60_000 }, async () => {
    await leavesNothingBehind(svc)
  })
})
