// PUT/GET /v1/admin/programs/:id: program documents changed at run time, every accepted version
// stored in ClickHouse, the active one used at once by the routes, the ingestion worker threads
// and the demo site, and chosen again at a restart by the start-up rule (a file changed since it
// was last stored wins; otherwise the latest stored version).
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { redactDocument } from '../analytics/index.ts'
import { createService } from '../collector/index.ts'
import { basic, DEMO, ROOT, startService, tempDir, testConfig, waitFor } from './helpers.ts'

const QUIT = { program: 'smoking-cessation-demo', writeKey: 'pk_demo_quit_3c9e1a7b', secretKey: 'sk_demo_quit_5d2f8e41a0' }
const programs = tempDir('attune-admin-programs-')
const data = tempDir('attune-admin-data-')
const psoriasisFile = join(programs.dir, 'psoriasis-demo.json')
const quitFile = join(programs.dir, 'smoking-cessation-demo.json')
type Doc = Record<string, any>
const original = JSON.parse(readFileSync(join(ROOT, 'programs/psoriasis-demo.json'), 'utf8')) as Doc
const logs: string[] = []
let svc: Awaited<ReturnType<typeof startService>>

async function start(): Promise<void> {
  // Two workers whatever the machine, and (the default) every body goes to them once they are ready.
  svc = await startService({ dir: data.dir, env: { ATTUNE_PROGRAMS: programs.dir, ATTUNE_INGEST_WORKERS: '2' }, hooks: { log: (m) => logs.push(m) } })
}
async function restart(): Promise<void> {
  await svc.stop({ keep: true })
  await start()
}

beforeAll(async () => {
  copyFileSync(join(ROOT, 'programs/psoriasis-demo.json'), psoriasisFile)
  copyFileSync(join(ROOT, 'programs/smoking-cessation-demo.json'), quitFile)
  await start()
})
afterAll(async () => {
  await svc?.stop()
  programs.remove()
  delete process.env.ATTUNE_ADMIN_TEST_SK
})

const clone = (d: Doc): Doc => JSON.parse(JSON.stringify(d)) as Doc
const put = (doc: unknown, key: string = DEMO.secretKey, id: string = DEMO.program) =>
  svc.service.app.request(`/v1/admin/programs/${id}`, {
    method: 'PUT',
    headers: { authorization: basic(key), 'content-type': 'application/json' },
    body: typeof doc === 'string' ? doc : JSON.stringify(doc),
  })
const get = (path = '', key: string = DEMO.secretKey, id: string = DEMO.program) =>
  svc.service.app.request(`/v1/admin/programs/${id}${path}`, { headers: { authorization: basic(key) } })
const active = async () => (await (await get()).json()) as { program: string; version: number; checksum: string; source: string; document: Doc }
const versions = async () =>
  ((await (await get('/versions')).json()) as { versions: Array<{ version: number; checksum: string; source: string; receivedAt: string; keyId: string }> })
    .versions

async function accepted(doc: Doc): Promise<{ program: string; version: number; checksum: string }> {
  const res = await put(doc)
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as { program: string; version: number; checksum: string }
}

/** Sends `n` single events one after another (the pool hands them to its workers in turn); the statuses. */
async function track(key: string, n: number, tag: string): Promise<number[]> {
  const w = svc.service.pool!.workers
  await waitFor(() => svc.service.pool!.workers.ready === w.total, 20_000, 'every ingestion worker')
  const statuses: number[] = []
  for (let i = 0; i < n; i++) {
    const res = await svc.service.app.request('/v1/track', {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json', origin: 'http://localhost:5173' },
      body: JSON.stringify({ anonymousId: 'a-admin-1', event: 'diary_downloaded', messageId: `${tag}-${i}` }),
    })
    statuses.push(res.status)
  }
  return statuses
}

describe('program administration', () => {
  it('answers 401 without a known key and 403 for a write key or another program’s key, on every endpoint', async () => {
    for (const [method, path] of [
      ['PUT', ''],
      ['GET', ''],
      ['GET', '/versions'],
    ] as const) {
      const ask = (headers: Record<string, string>) =>
        svc.service.app.request(`/v1/admin/programs/${DEMO.program}${path}`, {
          method,
          headers,
          ...(method === 'PUT' ? { body: JSON.stringify(original) } : {}),
        })
      const codes = async (headers: Record<string, string>) => {
        const res = await ask(headers)
        return [res.status, ((await res.json()) as { error: { code: string } }).error.code]
      }
      expect(await codes({})).toEqual([401, 'missing_key'])
      expect(await codes({ authorization: basic('sk_nobody_has_this_1') })).toEqual([401, 'unknown_key'])
      expect(await codes({ authorization: basic(DEMO.writeKey) })).toEqual([403, 'secret_key_required'])
      expect(await codes({ authorization: basic(QUIT.secretKey) })).toEqual([403, 'wrong_program'])
    }
  })

  it('starts with each file stored as version 1 and active', async () => {
    const a = await active()
    expect(a).toMatchObject({ program: DEMO.program, version: 1, source: 'file' })
    // Keys and secrets in clear come back as their hashes (a demo document's too).
    expect(a.document).toEqual(redactDocument(original))
    expect(JSON.stringify(a.document)).not.toContain(DEMO.secretKey)
    expect(await versions()).toEqual([
      { version: 1, checksum: a.checksum, source: 'file', receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), keyId: '' },
    ])
    expect(((await (await get('', QUIT.secretKey, QUIT.program)).json()) as { version: number }).version).toBe(1)
  })

  it('refuses documents that cannot be used with 400, naming the field and listing the issues, and stores nothing', async () => {
    const error = async (body: unknown, want: number = 400) => {
      const res = await put(body)
      expect(res.status, await res.clone().text()).toBe(want)
      return ((await res.json()) as { error: { code: string; message: string; field?: string; issues?: Array<{ path: string; message: string }> } }).error
    }
    expect(await error('{not json')).toMatchObject({ code: 'invalid_json' })
    expect(await error([original])).toMatchObject({ code: 'invalid_program' })
    expect(await error({ ...original, id: QUIT.program })).toMatchObject({ code: 'invalid_program', field: 'id' })
    const bad = await error({ ...original, timeZone: 'Mars/Olympus', market: 'Germany' })
    expect(bad).toMatchObject({ code: 'invalid_program', field: 'market' })
    expect(bad.issues!.map((i) => i.path).sort()).toEqual(['market', 'timeZone'])
    expect(bad.issues!.find((i) => i.path === 'timeZone')!.message).toMatch(/IANA time zone/)
    // The cross-reference checks of the start-up loader apply too.
    const unknownNeed = clone(original)
    unknownNeed.content[0].needs = { 'no-such-need': 0.5 }
    expect(await error(unknownNeed)).toMatchObject({
      code: 'invalid_program',
      field: 'content.0.needs.no-such-need',
      message: expect.stringContaining('unknown need'),
    })
    // Keys from the environment are resolved as at start.
    const fromEnv = clone(original)
    fromEnv.keys.secret.push({ id: 'from-env', key: 'env:ATTUNE_ADMIN_TEST_NOT_SET' })
    expect(await error(fromEnv)).toMatchObject({
      code: 'invalid_program',
      field: 'keys.secret.3.key',
      message: expect.stringContaining('ATTUNE_ADMIN_TEST_NOT_SET'),
    })
    // A key another program uses is refused, without naming that program.
    const taken = clone(original)
    taken.keys.write[0].key = QUIT.writeKey
    const clash = await error(taken)
    expect(clash).toMatchObject({ code: 'invalid_program', field: 'keys.write.0.key', message: 'keys.write.0.key: key web-demo is used by another program' })
    // Up to 1 MB (more than the ingestion routes' 500 KB limit), measured before parsing.
    expect(await error({ ...original, id: 'other', padding: 'x'.repeat(600_000) })).toMatchObject({ code: 'invalid_program', field: 'id' })
    expect(await error({ ...original, padding: 'x'.repeat(1024 * 1024) }, 413)).toMatchObject({ code: 'body_too_large' })
    expect((await versions()).map((v) => v.version)).toEqual([1])
  })

  it('answers the active version for the same document again, stores nothing', async () => {
    const before = await active()
    // Another key order and layout is the same document.
    const reordered = Object.fromEntries(Object.entries(original).reverse())
    const res = await put(JSON.stringify(reordered, null, 2))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ program: DEMO.program, version: 1, checksum: before.checksum })
    expect((await versions()).length).toBe(1)
  })

  it('serves a questionnaire added by a new version at once, and lists the versions newest first', async () => {
    const doc = clone(original)
    doc.questionnaires.push({
      id: 'added-at-run-time',
      title: 'Added through the API',
      availableAtLevel: 0,
      questions: [
        {
          id: 'q1',
          text: 'How are you?',
          answers: [
            { id: 'fine', text: 'Fine', needs: {} },
            { id: 'not-fine', text: 'Not fine', needs: { 'emotional-wellbeing': 1 } },
          ],
        },
      ],
    })
    const ask = () => svc.service.app.request(`/v1/questionnaires/added-at-run-time?writeKey=${DEMO.writeKey}`)
    expect((await ask()).status).toBe(404)
    const r = await accepted(doc)
    expect(r).toMatchObject({ program: DEMO.program, version: 2, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) })
    const q = await ask()
    expect(q.status).toBe(200)
    expect(await q.json()).toMatchObject({
      id: 'added-at-run-time',
      questions: [
        {
          id: 'q1',
          answers: [
            { id: 'fine', text: 'Fine' },
            { id: 'not-fine', text: 'Not fine' },
          ],
        },
      ],
    })
    expect(svc.service.programs.find((p) => p.program.id === DEMO.program)!.program.questionnaires.map((x) => x.id)).toContain('added-at-run-time')
    expect(await active()).toMatchObject({ version: 2, source: 'api', checksum: r.checksum, document: redactDocument(doc) })
    const list = await versions()
    expect(list.map((v) => [v.version, v.source, v.keyId])).toEqual([
      [2, 'api', 'backend-demo'],
      [1, 'file', ''],
    ])
    expect(list[0]!.checksum).toBe(r.checksum)
  })

  it('lets a write key added by a new version ingest at once, through the worker threads, and refuses it at once when removed', async () => {
    const added = 'pk_admin_added_3d9f0c1b'
    expect(await track(added, 4, 'before')).toEqual([401, 401, 401, 401])
    const doc = (await active()).document
    doc.keys.write.push({ id: 'web-added', key: added, origins: ['http://localhost:*'] })
    expect((await accepted(doc)).version).toBe(3)
    expect(await track(added, 6, 'added')).toEqual(Array(6).fill(200))
    await waitFor(
      async () => {
        const [row] = await svc.service.db.query<{ n: number | string }>(
          `SELECT count() AS n FROM events WHERE program = {p:String} AND key_id = 'web-added'`,
          { p: DEMO.program },
        )
        return Number(row!.n) === 6
      },
      20_000,
      'the events sent with the added key',
    )
    doc.keys.write = doc.keys.write.filter((k: { id: string }) => k.id !== 'web-added')
    expect((await accepted(doc)).version).toBe(4)
    expect(await track(added, 6, 'removed')).toEqual(Array(6).fill(401))
    expect(await track(DEMO.writeKey, 4, 'still')).toEqual(Array(4).fill(200))
  })

  it('gives the demo site the new write key when the demo program’s key changes', async () => {
    const rotated = 'pk_demo_psoriasis_rotated_51ac'
    const page = async () => (await svc.service.app.request('/demo/')).text()
    expect(await page()).toContain(DEMO.writeKey)
    const doc = (await active()).document
    doc.keys.write[0].key = rotated
    expect((await accepted(doc)).version).toBe(5)
    expect(await page()).toContain(rotated)
    expect(await page()).not.toContain(DEMO.writeKey)
    expect(await track(DEMO.writeKey, 2, 'old-demo-key')).toEqual([401, 401])
    doc.keys.write[0].key = DEMO.writeKey
    expect((await accepted(doc)).version).toBe(6)
    expect(await page()).toContain(DEMO.writeKey)
  })

  it('gives documents sent at once consecutive versions; the last one is active', async () => {
    const doc = (await active()).document
    const a = { ...clone(doc), name: 'Concurrent A' }
    const b = { ...clone(doc), name: 'Concurrent B' }
    const [ra, rb] = await Promise.all([accepted(a), accepted(b)])
    expect([ra.version, rb.version]).toEqual([7, 8])
    expect(await active()).toMatchObject({ version: 8, document: { name: 'Concurrent B' } })
  })

  it('keeps the API version active across a restart while the file is unchanged (also when only its layout changed)', async () => {
    const before = await active()
    // Indentation and key order are not a change of the document.
    writeFileSync(psoriasisFile, JSON.stringify(Object.fromEntries(Object.entries(original).reverse()), null, 4))
    await restart()
    expect(await active()).toEqual(before)
    expect((await versions())[0]!.version).toBe(8)
    expect((await svc.service.app.request(`/v1/questionnaires/added-at-run-time?writeKey=${DEMO.writeKey}`)).status).toBe(200)
    expect(await track('pk_admin_added_3d9f0c1b', 2, 'after-restart')).toEqual([401, 401])
    expect(logs).toContain(`program ${DEMO.program} version 8 activated (from api)`)
  })

  it('stores a file changed since it was last stored as a new version at restart, and activates it', async () => {
    const edited = { ...original, name: 'Psoriasis support (file edited)' }
    writeFileSync(psoriasisFile, JSON.stringify(edited, null, 2))
    await restart()
    expect(await active()).toMatchObject({ version: 9, source: 'file', document: redactDocument(edited) })
    expect((await versions()).slice(0, 2).map((v) => [v.version, v.source])).toEqual([
      [9, 'file'],
      [8, 'api'],
    ])
    // The file's document has no questionnaire added through the API.
    expect((await svc.service.app.request(`/v1/questionnaires/added-at-run-time?writeKey=${DEMO.writeKey}`)).status).toBe(404)
    expect(logs).toContain(`program ${DEMO.program} version 9 activated (from file)`)
  })

  it('keeps the file’s version active at restart when the latest stored version cannot be used any more', async () => {
    process.env.ATTUNE_ADMIN_TEST_SK = 'sk_admin_from_env_7c2e91'
    const doc = (await active()).document
    doc.keys.secret.push({ id: 'from-env', key: 'env:ATTUNE_ADMIN_TEST_SK', scopes: ['admin'] })
    expect((await accepted(doc)).version).toBe(10)
    expect((await get('', 'sk_admin_from_env_7c2e91')).status).toBe(200)
    delete process.env.ATTUNE_ADMIN_TEST_SK
    await restart()
    expect(await active()).toMatchObject({ version: 9, source: 'file' })
    expect(logs.some((l) => l.startsWith(`program ${DEMO.program} version 10 cannot be activated (keys.secret.3.key: names ATTUNE_ADMIN_TEST_SK`))).toBe(true)
    expect((await get('', 'sk_admin_from_env_7c2e91')).status).toBe(401)
  })

  it('rewrites a version stored with keys in clear (before documents were kept redacted) at the next start', async () => {
    const a = await active()
    const old = JSON.stringify({ ...clone(original), name: 'Stored in clear' })
    await svc.service.db.insertRows('program_versions', [
      { program: DEMO.program, version: 1, document: old, checksum: 'x', source: 'file', received_at: '2026-11-01 00:00:00.000', key_id: '' },
    ])
    await restart()
    const rows = await svc.service.db.query<{ document: string }>('SELECT document FROM program_versions WHERE program = {p:String}', { p: DEMO.program })
    expect(rows.some((r) => r.document.includes('Stored in clear'))).toBe(true)
    for (const r of rows) expect(r.document).not.toContain(DEMO.secretKey)
    expect(logs).toContain('1 stored program versions held keys or secrets in clear; rewritten with their hashes')
    expect((await active()).version).toBe(a.version)
  })

  it('keeps the stored versions of a program whose file is gone, but not active', async () => {
    rmSync(quitFile)
    await restart()
    expect(svc.service.programs.map((p) => p.program.id)).toEqual([DEMO.program])
    expect((await get('', QUIT.secretKey, QUIT.program)).status).toBe(401)
    const [row] = await svc.service.db.query<{ n: number | string }>('SELECT count() AS n FROM program_versions WHERE program = {p:String}', {
      p: QUIT.program,
    })
    expect(Number(row!.n)).toBe(1)
  })

  it('logs only which version became active, never a document or a key', () => {
    const activations = logs.filter((l) => / version \d+ activated/.test(l))
    expect(activations.length).toBeGreaterThan(5)
    for (const l of activations) expect(l).toMatch(/^program [a-z0-9-]+ version \d+ activated \(from (file|api)\)$/)
    for (const l of logs) expect(l).not.toMatch(/pk_|sk_|"keys"|linkSecret/)
  })
})

describe('program administration while ClickHouse is not reachable', () => {
  it('answers 503 (versions can be neither read nor stored) while the files’ documents serve', async () => {
    const tmp = tempDir()
    const quiet = [vi.spyOn(console, 'warn').mockImplementation(() => {}), vi.spyOn(console, 'error').mockImplementation(() => {})]
    // Nothing listens on port 1: refused at once, so start-up does not wait for the stored versions.
    const down = await createService(testConfig(tmp.dir, { CLICKHOUSE_URL: 'http://127.0.0.1:1', ATTUNE_INGEST_WORKERS: '0' }), { log: () => {} })
    try {
      const headers = { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' }
      for (const res of [
        await down.app.request(`/v1/admin/programs/${DEMO.program}`, { method: 'PUT', headers, body: JSON.stringify(original) }),
        await down.app.request(`/v1/admin/programs/${DEMO.program}`, { headers }),
        await down.app.request(`/v1/admin/programs/${DEMO.program}/versions`, { headers }),
      ]) {
        expect(res.status).toBe(503)
        expect(res.headers.get('retry-after')).toBe('5')
        expect(await res.json()).toMatchObject({ error: { code: 'storage_unavailable' } })
      }
      expect((await down.app.request('/v1/track', { method: 'POST', headers, body: JSON.stringify({ userId: 'p-1', event: 'while_down' }) })).status).toBe(200)
      expect((await down.app.request(`/v1/questionnaires/first-needs?writeKey=${DEMO.writeKey}`)).status).toBe(200)
    } finally {
      await down.close({ drain: false })
      for (const q of quiet) q.mockRestore()
      tmp.remove()
    }
  })
})
