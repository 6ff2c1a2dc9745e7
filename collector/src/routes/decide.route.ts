import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { decide, type Db, type DecideOutput, type LoadedProgram, type ProfileStore } from '../../../analytics/index.ts'
import { browserId } from '../browser-id.ts'
import { browserPerson, profileWithin } from '../browser-person.ts'
import { wellFormed } from '../pipeline/pipeline.ts'
import { authenticateKey, basicUser, requireScope } from '../auth.ts'
import type { ClusterStore } from '../cluster-store.ts'
import type { DecisionLog } from '../decision-log.ts'
import { ApiError } from '../errors.ts'
import { limitBody } from '../middleware/body-limit.middleware.ts'
import { decideSchema } from '../schemas/decide.schema.ts'
import type { KeyIndex } from '../keys.ts'
import { bodyText, parseJsonBody, validBody } from '../json-body.ts'

/** What the decide route needs. */
export interface DecideDeps {
  keys: KeyIndex
  programs: () => LoadedProgram[]
  db: Db
  clusters: ClusterStore
  profiles: ProfileStore | null
  decisions: DecisionLog
  /** How long a profile read from ClickHouse may take before the answer gives the default content. */
  decideProfileTimeoutMs: number
  log: (msg: string) => void
}

/** Largest decide request (ids, slots and a page context). */
export const MAX_DECIDE_BYTES = 64 * 1024

/**
 * `POST /v1/decide`: the next intervention per web slot, or the person's next contact on a channel,
 * with the rule and the profile values that chose it; every decision is recorded as an event. A
 * browser's write key decides for the browser's own ids and the web only; a secret key for any
 * patient and channel. A profile that cannot be read in time gives the default content (no
 * decision), and the answer says so: the page never fails because of Attune.
 */
export function decideRoutes(d: DecideDeps): Hono {
  const app = new Hono()
  app.post('/decide', limitBody(MAX_DECIDE_BYTES, 'a decide request'), async (c) => {
    const now = Date.now()
    const raw = validBody(decideSchema, parseJsonBody(await bodyText(c, MAX_DECIDE_BYTES), '{"userId" or "anonymousId", "channel", "slots"?}'))
    // Ids as ingestion stores them (lone surrogates repaired): the same person, and records ClickHouse takes.
    const body = { ...raw, ...(raw.userId ? { userId: wellFormed(raw.userId) } : {}), ...(raw.anonymousId ? { anonymousId: wellFormed(raw.anonymousId) } : {}) }
    const key = authenticateKey(d.keys, basicUser(c.req.header('authorization')) ?? body.writeKey, c.req.header('origin'))
    if (key.kind === 'secret') requireScope(key, 'decide')
    if (body.program !== undefined && body.program !== key.program)
      throw new ApiError(403, 'wrong_program', `the key belongs to program ${key.program}`, { field: 'program' })
    if (!body.userId && !body.anonymousId) throw new ApiError(400, 'invalid_body', 'userId or anonymousId is required', { field: 'userId' })
    const loaded = d.programs().find((p) => p.program.id === key.program)!
    const program = loaded.program

    // Whom to decide for. A browser is never trusted with a patient id it names: it gets the
    // patient only when its anonymous id is linked to that patient (by proof), else decisions for itself.
    let person: string
    let patient: boolean
    if (key.kind === 'write') {
      if (body.channel !== 'web') throw new ApiError(403, 'web_only', 'a write key decides only for the web channel', { field: 'channel' })
      if (!body.anonymousId) throw new ApiError(400, 'invalid_body', 'anonymousId is required with a write key', { field: 'anonymousId' })
      ;({ person, patient } = await browserPerson(d, program.id, browserId(body.anonymousId)))
    } else if (body.userId) {
      person = body.userId
      patient = true
    } else {
      ;({ person, patient } = await browserPerson(d, program.id, body.anonymousId!))
    }

    const { profile, source } = await profileWithin(d, program, person, now, d.decideProfileTimeoutMs)
    const requestId = randomUUID()
    const base = {
      program: program.id,
      requestId,
      person: { id: person, kind: patient ? 'patient' : 'anonymous' },
      channel: body.channel,
      decidedAt: new Date(now).toISOString(),
    }
    if (!profile) {
      const slots = body.channel === 'web' && body.slots?.length ? body.slots : [undefined]
      const decisions = slots.map((slot) => ({
        ...(slot ? { slot } : {}),
        channel: body.channel,
        outcome: 'default',
        reason: 'profile_unavailable',
        considered: [],
      }))
      return c.json(key.kind === 'write' ? forBrowser(base, decisions) : { ...base, profile: source, stage: null, decisions }, 200, {
        'Cache-Control': 'no-store',
      })
    }
    const { profile: current, recent } = d.decisions.overlay(program.id, person, profile)
    const clustering = d.clusters.latest(program.id)
    const out: DecideOutput = decide({
      program,
      profile: current,
      person,
      cluster: clustering?.members.get(person) ?? null,
      now,
      channel: body.channel,
      slots: body.slots,
      recent,
    })
    let recorded = true
    try {
      d.decisions.record({ program: program.id, person, patient, keyId: key.id, requestId, now, out, remember: source !== 'memory' })
    } catch (e) {
      // The answer still goes out (the page must not fail); the decision is missing from reports.
      recorded = false
      d.log(`decisions of request ${requestId} could not be recorded: ${(e as Error).message.slice(0, 200)}`)
    }
    const decisions = out.answers.map((a) => ({
      ...a,
      ...(a.content ? { content: { id: a.content.id, title: a.content.title, ...a.content.variant } } : {}),
      ...(a.items ? { items: a.items.map((i) => ({ id: i.id, title: i.title, ...i.variant })) } : {}),
    }))
    if (key.kind === 'write') return c.json(forBrowser(base, decisions), 200, { 'Cache-Control': 'no-store' })
    return c.json({ ...base, profile: source, recorded, stage: out.stage, stageChanges: out.stageChanges, decisions }, 200, { 'Cache-Control': 'no-store' })
  })
  return app
}

/**
 * What a browser (write key) is answered: the content per slot and nothing of the profile — no
 * person, no stage, no rule, no explanation with profile values, no list of rules considered. The page is
 * public; the full answer is for secret keys with the decide scope.
 */
function forBrowser(
  base: { program: string; requestId: string; channel: string; decidedAt: string },
  decisions: Array<{ slot?: string; channel: string; outcome: string; reason?: string; rule?: string; content?: object }>,
) {
  return {
    program: base.program,
    requestId: base.requestId,
    channel: base.channel,
    decidedAt: base.decidedAt,
    // No rule id either: a rule's name says what it inferred (`low-mood-support`). An impression
    // names the request and slot, which the recorded decisions carry.
    decisions: decisions.map((d) => ({
      ...(d.slot ? { slot: d.slot } : {}),
      outcome: d.outcome,
      ...(d.outcome === 'default' && d.reason ? { reason: d.reason } : {}),
      ...(d.content ? { content: d.content } : {}),
    })),
  }
}
