// The profile store (profiles served from memory) against the direct read from ClickHouse: a
// synthetic population sent through the collector, identities linked late and by alias, the
// writer's landings applied within a refresh, and a restart that rebuilds the store from the
// aggregate tables. Both must give the same profile, field by field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  blankEventRow,
  chTime,
  encodeEventRow,
  insertEventLines,
  ProfileStore,
  readProfile,
  type Db,
  type Profile,
  type Program,
  DAY_MS,
} from '../analytics/index.ts'
import { browserId } from '../collector/index.ts'
import { generatePopulation } from '../population/index.ts'
import { basic, DEMO, startService, tempDir, waitFor } from './helpers.ts'

const tmp = tempDir()
// A synthetic history of 30 days sent as it happened: the live window is widened to take it.
const HISTORY = { ATTUNE_LIVE_WINDOW_DAYS: '60' }
let svc: Awaited<ReturnType<typeof startService>>
let program: Program
const now = Date.now()
let patients: string[] = []

async function post(body: unknown, key: string, headers: Record<string, string> = {}) {
  const res = await svc.service.app.request('/v1/batch', {
    method: 'POST',
    headers: { authorization: basic(key), 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  expect(res.status, await res.clone().text()).toBe(200)
}

/** Profiles compare equal up to float rounding of the decayed scores (the store rescales a sum kept relative to its anchor). */
function comparable(p: Profile) {
  return { ...p, needs: p.needs.map((n) => ({ ...n, score: Math.round(n.score * 1e9) / 1e9, inferred: Math.round(n.inferred * 1e9) / 1e9 })) }
}

async function drained() {
  await waitFor(() => svc.service.spool.depthBytes() === 0 && svc.service.profiles!.current(DEMO.program), 30_000, 'the writer and the profile store')
}

beforeAll(async () => {
  svc = await startService({ dir: tmp.dir, env: HISTORY })
  program = svc.service.programs.find((p) => p.program.id === DEMO.program)!.program
  const loaded = svc.service.programs.find((p) => p.program.id === DEMO.program)!
  const population = generatePopulation({ program, keys: loaded.keys, patients: 60, days: 30, seed: 11, now })
  patients = population.patients.map((p) => p.patientId)
  for await (const r of population.requests()) {
    await post(r.body, r.key, { ...(r.origin ? { origin: r.origin } : {}), 'user-agent': r.userAgent })
  }
  await drained()
}, 120_000)
afterAll(async () => {
  await svc?.stop({ keep: true })
  tmp.remove()
})

describe('profile store', () => {
  it('serves every profile exactly as the direct read from ClickHouse computes it', async () => {
    expect(svc.service.profiles).not.toBeNull()
    const at = Date.now()
    let withNeeds = 0
    for (const id of [...patients, 'nobody-at-all']) {
      const fromMemory = svc.service.profiles!.read(program, id, at)
      expect(fromMemory, id).not.toBeNull()
      expect(comparable(fromMemory!), id).toEqual(comparable(await readProfile(svc.service.db, program, id, at)))
      if (fromMemory!.needs.some((n) => n.inferred > 0)) withNeeds++
    }
    // The comparison means something only if the population gave most patients a profile.
    expect(withNeeds).toBeGreaterThan(patients.length / 2)
    const health = (await (await svc.service.app.request('/health')).json()) as {
      profiles: { store: string; programs: Array<{ program: string; ready: boolean; ids: number }> }
    }
    expect(health.profiles.store).toBe('memory')
    expect(health.profiles.programs.find((p) => p.program === DEMO.program)).toMatchObject({ ready: true })
    expect(health.profiles.programs.find((p) => p.program === DEMO.program)!.ids).toBeGreaterThan(patients.length)
  })

  it('follows the writer: a late identify, an alias and new touches show after the next insert', async () => {
    const patient = 'p-store-late'
    const anon = 'a-store-late'
    const aliasOld = 'old-crm-id-1'
    const page = (i: number, path: string) => ({
      type: 'page',
      messageId: `store-page-${i}`,
      anonymousId: anon,
      timestamp: new Date(now - i * DAY_MS).toISOString(),
      context: { page: { path, url: `http://localhost:5173${path}` } },
    })
    await post({ batch: [page(5, '/demo/itch'), page(3, '/demo/treatments')] }, DEMO.writeKey, { origin: 'http://localhost:5173' })
    await post(
      {
        batch: [
          {
            type: 'track',
            messageId: 'store-old-1',
            userId: aliasOld,
            event: 'goal_reached',
            properties: { goal: 'diary_downloaded' },
            timestamp: new Date(now - DAY_MS).toISOString(),
          },
        ],
      },
      DEMO.secretKey,
    )
    await drained()
    const before = svc.service.profiles!.read(program, patient)!
    expect(before.ids).toEqual([patient])
    expect(before.needs.every((n) => n.inferred === 0)).toBe(true)

    // The backend links the browser by its stored id (browser:<anonymousId>).
    await post(
      {
        batch: [
          {
            type: 'identify',
            messageId: 'store-identify',
            anonymousId: browserId(anon),
            userId: patient,
            traits: { dates: { therapy_start: '2026-10-01', enrolment: '2026-09-15' } },
          },
          { type: 'alias', messageId: 'store-alias', userId: patient, previousId: aliasOld },
        ],
      },
      DEMO.secretKey,
    )
    await drained()
    const at = Date.now()
    const after = svc.service.profiles!.read(program, patient, at)!
    expect(after.ids).toEqual([patient, browserId(anon), aliasOld].sort((a, b) => (a === patient ? -1 : b === patient ? 1 : a.localeCompare(b))))
    expect(after.needs.some((n) => n.inferred > 0)).toBe(true)
    expect(after.goals.map((g) => g.goal)).toContain('diary_downloaded')
    // The record's clinical dates, enrolment from them; activity per day, channel and event across all three ids.
    expect(after.dates).toEqual({ enrolment: '2026-09-15', therapy_start: '2026-10-01' })
    expect(after.enrolledAt).toBe('2026-09-15')
    const day = (i: number) => new Date(now - i * DAY_MS).toISOString().slice(0, 10)
    const today = new Date().toISOString().slice(0, 10)
    expect(after.activity).toEqual(
      [
        { day: day(5), channel: 'web', event: 'page', times: 1 },
        { day: day(3), channel: 'web', event: 'page', times: 1 },
        { day: day(1), channel: 'server', event: 'goal_reached', times: 1 },
        { day: today, channel: 'server', event: 'alias', times: 1 },
        { day: today, channel: 'server', event: 'identify', times: 1 },
      ].sort((a, b) => a.day.localeCompare(b.day) || a.channel.localeCompare(b.channel) || a.event.localeCompare(b.event)),
    )
    expect(before.enrolledAt).toBeNull()
    expect(comparable(after)).toEqual(comparable(await readProfile(svc.service.db, program, patient, at)))
    expect(after.consent).toEqual({})
  })

  it('keeps the latest consent record per scope across the person’s ids; a withdrawal shows after the next insert', async () => {
    const patient = 'p-store-late'
    const t = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString()
    await post(
      {
        batch: [
          {
            type: 'track',
            messageId: 'consent-1',
            userId: patient,
            event: 'consent_updated',
            timestamp: t(30),
            properties: { consent: { email: true, sms: true, call: false } },
          },
        ],
      },
      DEMO.secretKey,
    )
    // The browser (an id linked to the patient) records the site's banner choice.
    await post(
      {
        batch: [
          {
            type: 'track',
            messageId: 'consent-2',
            anonymousId: 'a-store-late',
            event: 'consent_updated',
            timestamp: t(20),
            properties: { consent: { analytics: true, web: true } },
          },
        ],
      },
      DEMO.writeKey,
      { origin: 'http://localhost:5173' },
    )
    await drained()
    expect(Object.fromEntries(Object.entries(svc.service.profiles!.read(program, patient)!.consent).map(([k, v]) => [k, v.granted]))).toEqual({
      analytics: true,
      call: false,
      email: true,
      sms: true,
      web: true,
    })
    await post(
      {
        batch: [{ type: 'track', messageId: 'consent-3', userId: patient, event: 'consent_updated', timestamp: t(1), properties: { consent: { sms: false } } }],
      },
      DEMO.secretKey,
    )
    await drained()
    const at = Date.now()
    const p = svc.service.profiles!.read(program, patient, at)!
    expect(p.consent.sms!.granted).toBe(false)
    expect(p.consent.email!.granted).toBe(true)
    expect(comparable(p)).toEqual(comparable(await readProfile(svc.service.db, program, patient, at)))
    // A browser cannot speak for the patient's channels.
    const res = await svc.service.app.request('/v1/batch', {
      method: 'POST',
      headers: { authorization: basic(DEMO.writeKey), 'content-type': 'application/json', origin: 'http://localhost:5173' },
      body: JSON.stringify({ batch: [{ type: 'track', anonymousId: 'a-store-late', event: 'consent_updated', properties: { consent: { email: false } } }] }),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { field: 'batch[0].properties.consent.email' } })
  })

  it('takes the decide endpoint’s decisions and stage changes as they are spooled, and counts each once after it lands', async () => {
    const patient = patients[3]!
    const decide = async (channel: string, slots?: string[]) => {
      const res = await svc.service.app.request('/v1/decide', {
        method: 'POST',
        headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: patient, channel, ...(slots ? { slots } : {}) }),
      })
      expect(res.status, await res.clone().text()).toBe(200)
      return (await res.json()) as { decidedAt: string; stage: string | null; decisions: Array<{ considered: Array<{ outcome: string }> }> }
    }
    const stored = (p: Profile) => p.decisions.reduce((n, d) => n + d.times, 0)
    const before = stored(svc.service.profiles!.read(program, patient)!)
    // A page view of the same patient lands while the decisions are spooled: its refresh reads
    // the patient from ClickHouse around the decisions' own insert.
    const [a] = await Promise.all([
      decide('web', ['home-hero']),
      post(
        {
          batch: [
            { type: 'page', messageId: 'store-race-page', userId: patient, context: { page: { path: '/demo/itch', url: 'http://localhost:5173/demo/itch' } } },
          ],
        },
        DEMO.secretKey,
      ),
    ])
    const b = await decide('email')
    // In memory at once, before any insert: the decision times and the stage the answers gave.
    const mem = svc.service.profiles!.read(program, patient)!
    const decidedAt = (x: { decidedAt: string }) => x.decidedAt.replace('T', ' ').replace('Z', '')
    expect(mem.decisions.some((d) => d.lastAt === decidedAt(a))).toBe(true)
    expect(mem.decisions.some((d) => d.lastAt === decidedAt(b))).toBe(true)
    expect(mem.stage?.id).toBe(b.stage)
    const recorded = stored(mem) - before
    expect(recorded).toBeGreaterThanOrEqual(2)
    await drained()
    const at = Date.now()
    const after = svc.service.profiles!.read(program, patient, at)!
    expect(stored(after) - before).toBe(recorded)
    expect(comparable(after)).toEqual(comparable(await readProfile(svc.service.db, program, patient, at)))
  })

  it('keeps an own decision that lands while a refresh is reading the person, though the read predates its insert', async () => {
    // A store of its own over a Db whose refresh reads are answered at once but handed back only
    // when the test says: the read then predates an insert that lands meanwhile.
    const db = svc.service.db
    const held: Array<() => void> = []
    const gated: Db = {
      ...db,
      query: async <T>(...args: Parameters<Db['query']>) => {
        const rows = await db.query<T>(...args)
        const ids = (args[1] as { ids?: string[] } | undefined)?.ids
        if (ids && ids.length > 0) await new Promise<void>((release) => held.push(release))
        return rows
      },
    }
    const store = new ProfileStore(gated, () => {})
    await store.load(program)
    const patient = patients[6]!
    const rule = 'landed-during-read'
    const count = (p: Profile) => p.decisions.filter((d) => d.rule === rule).reduce((n, d) => n + d.times, 0)
    const at = Date.now()
    const ts = chTime(at)
    const messageId = `landed-during-read-${at}`
    store.applyOwn(DEMO.program, patient, [{ kind: 'decision', rule, channel: 'web', outcome: 'shown', ts, messageId }])
    expect(count(store.read(program, patient, at)!)).toBe(1)
    // Another event of the patient landed: a refresh reads them (before the decision's insert).
    const programs = () => program
    store.landed(DEMO.program, [{ userId: patient, anonymousId: '', linkedId: '' }], programs)
    await waitFor(() => held.length === 1, 10_000, 'the refresh read')
    // The decision is inserted and lands while that read is held.
    const row = blankEventRow()
    Object.assign(row, {
      message_id: messageId,
      program: DEMO.program,
      type: 'track',
      event: 'decision',
      channel: 'web',
      user_id: patient,
      ts,
      original_ts: ts,
      received_at: ts,
      key_id: 'test',
      library_name: 'attune-decide',
      properties: JSON.stringify({ rule, class: 'education', channel: 'web', outcome: 'shown' }),
    })
    await insertEventLines(db, Buffer.from(`${encodeEventRow(row)}\n`), messageId)
    store.landed(DEMO.program, [{ userId: patient, anonymousId: '', linkedId: '', messageId }], programs)
    held.shift()!()
    // The held read is put (without the decision, from before its insert), and the person is read again.
    await waitFor(() => held.length === 1, 10_000, 'the second refresh read')
    expect(count(store.read(program, patient, at)!)).toBe(1)
    held.shift()!()
    await waitFor(() => store.current(DEMO.program), 10_000, 'the refresh')
    expect(count(store.read(program, patient, at)!)).toBe(1)
    await store.stop()
    // The service's own store learns of the insert too (the tests after this one compare it with ClickHouse).
    svc.service.profiles!.landed(DEMO.program, [{ userId: patient, anonymousId: '', linkedId: '' }], programs)
    await drained()
  })

  it('forgets own events whose spool write failed, and reads the person from ClickHouse again', async () => {
    const patient = patients[4]!
    const at = Date.now()
    const direct = comparable(await readProfile(svc.service.db, program, patient, at))
    const ts = new Date(at).toISOString().replace('T', ' ').replace('Z', '')
    svc.service.profiles!.applyOwn(DEMO.program, patient, [
      { kind: 'decision', rule: 'never-landed', channel: 'web', outcome: 'shown', ts, messageId: 'never-spooled-1' },
      { kind: 'stage', stage: 'maintenance', ts, messageId: 'never-spooled-2' },
    ])
    const applied = svc.service.profiles!.read(program, patient, at)!
    expect(applied.decisions.filter((d) => d.rule === 'never-landed')).toHaveLength(1)
    expect(applied.stage).toEqual({ id: 'maintenance', enteredAt: ts })
    svc.service.profiles!.discardOwn(program, patient, ['never-spooled-1', 'never-spooled-2'])
    await drained()
    expect(comparable(svc.service.profiles!.read(program, patient, at)!)).toEqual(direct)
  })

  it('is rebuilt from the aggregate tables after a restart, and answers as before', async () => {
    const at = Date.now()
    const sample = [...patients.slice(0, 20), 'p-store-late']
    const before = sample.map((id) => svc.service.profiles!.read(program, id, at)!)
    await svc.stop({ keep: true })
    svc = await startService({ dir: tmp.dir, env: HISTORY })
    await waitFor(() => svc.service.profiles!.current(DEMO.program), 30_000, 'the store to load')
    for (const [i, id] of sample.entries()) expect(comparable(svc.service.profiles!.read(program, id, at)!), id).toEqual(comparable(before[i]!))
  })

  it('with ATTUNE_PROFILE_STORE=0 the route reads ClickHouse and answers the same', async () => {
    const ids = patients.slice(0, 5)
    const route = async () =>
      Promise.all(
        ids.map(async (id) =>
          comparable((await (await svc.service.app.request(`/v1/profiles/${id}`, { headers: { authorization: basic(DEMO.secretKey) } })).json()) as Profile),
        ),
      )
    const withStore = await route()
    await svc.stop({ keep: true })
    svc = await startService({ dir: tmp.dir, env: { ...HISTORY, ATTUNE_PROFILE_STORE: '0' } })
    expect(svc.service.profiles).toBeNull()
    expect(((await (await svc.service.app.request('/health')).json()) as { profiles: unknown }).profiles).toEqual({ store: 'off' })
    // Scores decay between the two reads: compare everything but the time-dependent numbers exactly.
    const strip = (p: ReturnType<typeof comparable>) => ({
      ...p,
      asOf: '',
      needs: p.needs.map((n) => ({ ...n, score: 0, inferred: 0 })),
      pattern: p.pattern && { ...p.pattern, distance: 0 },
    })
    expect((await route()).map(strip)).toEqual(withStore.map(strip))
    await svc.stop({ keep: true })
    svc = await startService({ dir: tmp.dir, env: HISTORY })
    await waitFor(() => svc.service.profiles!.current(DEMO.program), 30_000, 'the store to load')
  })

  it('reads ClickHouse while a program whose need settings changed is loaded again', async () => {
    const changed = { ...program, needHalfLifeDays: program.needHalfLifeDays * 2 }
    expect(svc.service.profiles!.read(changed, patients[0]!)).toBeNull()
    await waitFor(() => svc.service.profiles!.read(changed, patients[0]!) !== null, 30_000, 'the reload')
    const at = Date.now()
    expect(comparable(svc.service.profiles!.read(changed, patients[0]!, at)!)).toEqual(comparable(await readProfile(svc.service.db, changed, patients[0]!, at)))
  })
})
