// Need clusterings kept in ClickHouse and approved as pattern cards, on the embedded engine: every
// run is stored with who is in which cluster, a restart on the same data directory reads the latest
// run back (profiles keep their cluster, nothing is computed again), and approving a cluster makes a
// new active program version whose pattern card the profiles match at once.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basic, DEMO, identityToken, ROOT, startService, tempDir, waitFor } from './helpers.ts'
import { DAY_MS } from '../analytics/index.ts'

const QUIT = { program: 'smoking-cessation-demo', secretKey: 'sk_demo_quit_5d2f8e41a0' }
const GROUPS = { itch: '/demo/itch', treatment: '/demo/treatments', support: '/demo/support' } as const
const data = tempDir('attune-cluster-runs-')
const logs: string[] = []
let svc: Awaited<ReturnType<typeof startService>>

interface Cluster {
  id: string
  label: string
  size: number
  centroid: Record<string, number>
}
interface Clusters {
  program: string
  runId: string
  computedAt: string
  people: number
  clusters: Cluster[]
}
interface ProfileBody {
  cluster: { id: string; label: string; computedAt: string } | null
  pattern: { id: string; name: string; distance: number } | null
}

async function start(env: Record<string, string> = {}): Promise<void> {
  svc = await startService({ dir: data.dir, env, hooks: { log: (m) => logs.push(m) } })
}
async function restart(env: Record<string, string> = {}): Promise<void> {
  await svc.stop({ keep: true })
  await start(env)
}

beforeAll(async () => {
  await start()
  // Three groups of eight patients, each reading one part of the demo site on three days.
  const batch: object[] = []
  let n = 0
  for (const [group, path] of Object.entries(GROUPS)) {
    for (let i = 0; i < 8; i++) {
      const anon = `a-cr-${group}-${i}`
      for (let v = 0; v < 3; v++)
        batch.push({
          type: 'page',
          anonymousId: anon,
          messageId: `cr-${n++}`,
          timestamp: new Date(Date.now() - (v + 1) * DAY_MS).toISOString(),
          context: { page: { path, url: `http://localhost:5173${path}` } },
        })
      batch.push({
        type: 'identify',
        anonymousId: anon,
        userId: `p-cr-${group}-${i}`,
        messageId: `cr-${n++}`,
        context: { identityToken: identityToken(`p-cr-${group}-${i}`) },
      })
    }
  }
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(DEMO.writeKey), 'content-type': 'application/json', origin: 'http://localhost:5173' },
    body: JSON.stringify({ batch }),
  })
  expect(res.status).toBe(200)
  await waitFor(
    async () => Number((await svc.service.db.query<{ c: string }>("SELECT count() c FROM events WHERE message_id LIKE 'cr-%'"))[0]!.c) === batch.length,
    20_000,
    'the events',
  )
})
afterAll(async () => {
  await svc?.stop()
  data.remove()
})

const secret = { authorization: basic(DEMO.secretKey) }
const clusters = async (query = '?k=3&minSize=3') => {
  const res = await svc.service.app.request(`/v1/admin/programs/${DEMO.program}/clusters${query}`, { headers: secret })
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as Clusters
}
const profile = async (patientId: string) => (await (await svc.service.app.request(`/v1/profiles/${patientId}`, { headers: secret })).json()) as ProfileBody
const approve = (clusterId: string, body?: string, headers: Record<string, string> = secret, program: string = DEMO.program) =>
  svc.service.app.request(`/v1/admin/programs/${program}/clusters/${clusterId}/approve`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
  })
const active = async () =>
  (await (await svc.service.app.request(`/v1/admin/programs/${DEMO.program}`, { headers: secret })).json()) as {
    version: number
    source: string
    document: { patterns: object[] }
  }
const versions = async () =>
  (
    (await (await svc.service.app.request(`/v1/admin/programs/${DEMO.program}/versions`, { headers: secret })).json()) as {
      versions: Array<{ version: number; source: string; keyId: string }>
    }
  ).versions
const storedRuns = () =>
  svc.service.db.query<{ run_id: string; computed_at: string; k: number; min_size: number; people: number; clusters: Cluster[] }>(
    'SELECT run_id, computed_at, k, min_size, people, clusters FROM need_cluster_runs WHERE program = {program:String} ORDER BY computed_at',
    { program: DEMO.program },
  )
const storedMembers = async (runId: string) =>
  new Map(
    (
      await svc.service.db.query<{ person_id: string; cluster_id: string }>(
        'SELECT person_id, cluster_id FROM need_cluster_members WHERE run_id = {run:String}',
        { run: runId },
      )
    ).map((r) => [r.person_id, r.cluster_id]),
  )
const people = (group: keyof typeof GROUPS) => Array.from({ length: 8 }, (_, i) => `p-cr-${group}-${i}`)

describe('stored need clusterings', () => {
  it('stores each run with who is in which cluster; a restart reads the latest back without computing it again', async () => {
    const first = await clusters()
    expect(first.people).toBe(24)
    expect(await storedRuns()).toEqual([
      { run_id: first.runId, computed_at: first.computedAt.replace('T', ' ').replace('Z', ''), k: 3, min_size: 3, people: 24, clusters: first.clusters },
    ])
    const members = await storedMembers(first.runId)
    expect(members.size).toBe(24)
    // Each group is one cluster, and the three are distinct.
    const ofGroup = (Object.keys(GROUPS) as Array<keyof typeof GROUPS>).map((g) => new Set(people(g).map((p) => members.get(p))))
    for (const s of ofGroup) expect(s.size).toBe(1)
    expect(new Set(ofGroup.map((s) => [...s][0])).size).toBe(3)
    // What is stored is what the service computed: every profile names its stored cluster.
    const expected = (person: string) => ({
      id: members.get(person)!,
      label: first.clusters.find((c) => c.id === members.get(person))!.label,
      computedAt: first.computedAt,
    })
    for (const person of members.keys()) expect((await profile(person)).cluster, person).toEqual(expected(person))

    await restart()
    await waitFor(async () => (await profile('p-cr-itch-0')).cluster !== null, 20_000, 'the stored clustering after the restart')
    for (const person of members.keys()) expect((await profile(person)).cluster, person).toEqual(expected(person))
    // The same settings are answered from the stored run, not computed again.
    expect((await clusters()).runId).toBe(first.runId)
    expect((await storedRuns()).length).toBe(1)

    // A refresh is a new run; with the schedule on, a restart keeps it (less than a day old) and
    // computes only the program that has no run yet.
    const second = await clusters('?k=3&minSize=3&refresh=1')
    expect(second.runId).not.toBe(first.runId)
    expect((await storedRuns()).map((r) => r.run_id)).toEqual([first.runId, second.runId])
    expect(await storedMembers(first.runId)).toEqual(members)
    await restart({ ATTUNE_CLUSTER_SCHEDULE: '1' })
    await waitFor(() => logs.some((m) => m.startsWith(`clusters of ${QUIT.program}:`)), 20_000, 'the scheduled clustering of the other program')
    expect(logs.filter((m) => m.startsWith(`clusters of ${DEMO.program}:`))).toEqual([])
    expect((await storedRuns()).length).toBe(2)
    expect((await clusters()).runId).toBe(second.runId)
    expect((await profile('p-cr-support-3')).cluster).toMatchObject({
      id: (await storedMembers(second.runId)).get('p-cr-support-3'),
      computedAt: second.computedAt,
    })
  })

  it('approves a cluster as a pattern card: a new active version whose card the profiles match', async () => {
    const latest = await clusters()
    const itch = latest.clusters.find((c) => c.label.startsWith('itch-and-flares'))!
    expect(itch.size).toBe(8)
    expect((await profile('p-cr-itch-0')).pattern?.id).toBe('itch-driven')
    const before = await active()
    const res = await approve(itch.id, JSON.stringify({ name: 'Itch readers' }))
    expect(res.status, await res.clone().text()).toBe(201)
    const body = (await res.json()) as {
      program: string
      version: number
      checksum: string
      pattern: { id: string; name: string; description: string; needs: Record<string, number> }
      cluster: object
    }
    expect(body).toEqual({
      program: DEMO.program,
      version: before.version + 1,
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
      pattern: {
        id: 'itch-and-flares-skin-care-routine',
        name: 'Itch readers',
        description: `Approved from need cluster ${itch.id} (8 of 24 people) of the clustering of ${latest.computedAt}, run ${latest.runId}.`,
        needs: Object.fromEntries(Object.entries(itch.centroid).filter(([, w]) => w > 0)),
      },
      cluster: { runId: latest.runId, computedAt: latest.computedAt, id: itch.id, label: itch.label, size: 8 },
    })
    // Stored and active as a PUT of the amended document would be: an API version, attributed to the key.
    const now = await active()
    expect(now).toMatchObject({ version: body.version, source: 'api' })
    expect(now.document.patterns).toEqual([...before.document.patterns, body.pattern])
    expect((await versions())[0]).toMatchObject({ version: body.version, source: 'api', keyId: 'backend-demo' })
    // Pattern matching uses the new card at once: the itch readers are nearest to it, others not.
    for (const person of people('itch')) {
      const p = (await profile(person)).pattern!
      expect(p).toMatchObject({ id: body.pattern.id, name: 'Itch readers' })
      expect(p.distance).toBeLessThan(0.01)
    }
    expect((await profile('p-cr-treatment-0')).pattern?.id).not.toBe(body.pattern.id)
    // The same cluster again under its default id is a conflict; under another id, a second card.
    const again = await approve(itch.id)
    expect(again.status).toBe(409)
    expect(await again.json()).toMatchObject({ error: { code: 'pattern_exists', field: 'id' } })
    const other = await approve(itch.id, JSON.stringify({ id: 'itch-readers-2' }))
    expect(other.status).toBe(201)
    expect(((await other.json()) as { version: number }).version).toBe(body.version + 1)
    // Approved cards are program versions: they outlive a restart.
    await restart()
    expect((await active()).document.patterns.map((p) => (p as { id: string }).id).slice(-2)).toEqual([body.pattern.id, 'itch-readers-2'])
    // Two cards alike: the first one stays the nearest.
    expect((await profile('p-cr-itch-0')).pattern?.id).toBe(body.pattern.id)
  })

  it('answers every refusal with its status, code and field, and stores no version', async () => {
    const itch = (await clusters()).clusters.find((c) => c.label.startsWith('itch-and-flares'))!
    const before = (await versions()).length
    const refusal = async (res: Response) => {
      const e = ((await res.json()) as { error: { code: string; field?: string } }).error
      return [res.status, e.code, e.field]
    }
    expect(await refusal(await approve(itch.id, undefined, {}))).toEqual([401, 'missing_key', 'authorization'])
    expect(await refusal(await approve(itch.id, undefined, { authorization: basic('sk_nobody_has_this_1') }))).toEqual([401, 'unknown_key', 'authorization'])
    expect(await refusal(await approve(itch.id, undefined, { authorization: basic(DEMO.writeKey) }))).toEqual([403, 'secret_key_required', 'authorization'])
    expect(await refusal(await approve(itch.id, undefined, { authorization: basic(QUIT.secretKey) }))).toEqual([403, 'wrong_program', 'id'])
    // Not a cluster of the latest run (here, of a program whose run found nobody).
    expect(await refusal(await approve('cluster-99'))).toEqual([404, 'not_found', 'clusterId'])
    expect(await refusal(await approve('cluster-1', undefined, { authorization: basic(QUIT.secretKey) }, QUIT.program))).toEqual([
      404,
      'not_found',
      'clusterId',
    ])
    // Bodies that are not `{id?, name?}` as a pattern card takes them.
    expect(await refusal(await approve(itch.id, '{not json'))).toEqual([400, 'invalid_json', undefined])
    expect(await refusal(await approve(itch.id, '[]'))).toEqual([400, 'invalid_body', undefined])
    expect(await refusal(await approve(itch.id, JSON.stringify({ id: 'Not A Slug' })))).toEqual([400, 'invalid_body', 'id'])
    expect(await refusal(await approve(itch.id, JSON.stringify({ name: ' ' })))).toEqual([400, 'invalid_body', 'name'])
    expect(await refusal(await approve(itch.id, JSON.stringify({ description: 'misspelt field' })))).toEqual([400, 'invalid_body', 'description'])
    expect(await refusal(await approve(itch.id, JSON.stringify({ name: 'x'.repeat(5000) })))).toEqual([413, 'body_too_large', undefined])
    // A card id the program has already (from its file).
    expect(await refusal(await approve(itch.id, JSON.stringify({ id: 'itch-driven' })))).toEqual([409, 'pattern_exists', 'id'])
    expect((await versions()).length).toBe(before)
  })

  it('stores a run computed by `npm run analytics -- cluster`, which the service reads at its next start', async () => {
    await svc.stop({ keep: true })
    // One process per embedded data directory: the command runs while the service is stopped.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'analytics/src/cli/analytics.ts'), 'cluster', '--program', DEMO.program, '--k', '3', '--min-size', '3', '--seed', '5'],
      {
        cwd: ROOT,
        env: { ...process.env, ATTUNE_DATA: data.dir, ATTUNE_PROGRAMS: join(ROOT, 'programs') },
      },
    )
    const printed = JSON.parse(stdout) as Clusters & { k: number; minSize: number }
    expect(printed).toMatchObject({ program: DEMO.program, k: 3, minSize: 3, people: 24 })
    await start()
    const served = await clusters()
    expect(served).toEqual({
      program: DEMO.program,
      runId: printed.runId,
      computedAt: printed.computedAt,
      k: 3,
      minSize: 3,
      people: 24,
      clusters: printed.clusters,
    })
    expect((await storedRuns()).at(-1)!.run_id).toBe(printed.runId)
    expect((await profile('p-cr-treatment-2')).cluster).toMatchObject({
      id: (await storedMembers(printed.runId)).get('p-cr-treatment-2'),
      computedAt: printed.computedAt,
    })
  })
})
