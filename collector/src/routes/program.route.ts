import { Hono, type Context } from 'hono'
import { effectiveLevel, readProfile, readTimeline, type Db, type LoadedProgram, type ProfileStore, type Program } from '../../../analytics/index.ts'
import { browserId } from '../browser-id.ts'
import { browserPerson, profileWithin } from '../browser-person.ts'
import { signQuestionnaireTicket } from '../identity-token.ts'
import { CLUSTER_REFRESH_MS, type ClusterStore } from '../cluster-store.ts'
import { ApiError } from '../errors.ts'
import type { KeyIndex } from '../keys.ts'
import { authenticateKey, basicUser } from '../auth.ts'
import { requireSecretKey, type SecretKeyEnv } from '../middleware/secret-key.middleware.ts'

/** What the program routes read. */
export interface ProgramRouteDeps {
  keys: KeyIndex
  /** The active program documents. */
  programs: () => LoadedProgram[]
  db: Db
  clusters: ClusterStore
  /** Profiles from memory, when the service keeps them (else every read goes to ClickHouse). */
  profiles: ProfileStore | null
}

/** The key of a request: HTTP Basic user, or for a write key `writeKey` in the query. */
function requestKey(c: Context, keys: KeyIndex) {
  const basic = basicUser(c.req.header('authorization'))
  const key = authenticateKey(keys, basic ?? c.req.query('writeKey'), c.req.header('origin'))
  // A secret key in a URL ends up in proxy and browser logs: it is taken only as HTTP Basic.
  if (key.kind === 'secret' && !basic)
    throw new ApiError(401, 'missing_key', 'a secret key goes in the Authorization header (HTTP Basic), never in the URL', { field: 'authorization' })
  return key
}

/** How long the questionnaire route waits for a browser's profile from ClickHouse before refusing a locked questionnaire. */
const QUESTIONNAIRE_PROFILE_TIMEOUT_MS = 1000

/**
 * `GET /v1/questionnaires/:id`: a needs questionnaire of the key's program, as the SDK renders it
 * — questions and answers with their texts; how answers map to needs stays on the server. A
 * browser (write key, with its `anonymousId`) gets a questionnaire above level 0 only when its
 * level unlocks it, with a ticket its answers must carry; a secret key reads any.
 */
export function programRoutes(d: ProgramRouteDeps): Hono<SecretKeyEnv> {
  const app = new Hono<SecretKeyEnv>()
  app.get('/questionnaires/:id', async (c) => {
    const key = requestKey(c, d.keys)
    const program = d.programs().find((p) => p.program.id === key.program)!
    const q = program.program.questionnaires?.find((x) => x.id === c.req.param('id'))
    if (!q) throw new ApiError(404, 'not_found', `program ${key.program} has no questionnaire ${c.req.param('id').slice(0, 100)}`, { field: 'id' })
    let ticket: string | undefined
    if (key.kind === 'write' && q.availableAtLevel > 0) {
      const sent = c.req.query('anonymousId')
      if (!sent || sent.length > 200)
        throw new ApiError(400, 'invalid_body', 'anonymousId (the browser’s id, at most 200 characters) is required for a questionnaire above level 0', {
          field: 'anonymousId',
        })
      const anonymousId = browserId(sent)
      const now = Date.now()
      const { person } = await browserPerson(d, program.program.id, anonymousId)
      const { profile } = await profileWithin(d, program.program, person, now, QUESTIONNAIRE_PROFILE_TIMEOUT_MS)
      const level = profile ? effectiveLevel(program.program, profile) : 0
      if (level < q.availableAtLevel || !program.identitySecret) {
        throw new ApiError(
          403,
          'questionnaire_locked',
          program.identitySecret
            ? `questionnaire ${q.id} opens at level ${q.availableAtLevel}`
            : `questionnaire ${q.id} is above level 0 and program ${program.program.id} has no identitySecret to issue tickets with`,
          { field: 'id' },
        )
      }
      ticket = signQuestionnaireTicket({ program: program.program.id, questionnaire: q.id, anonymousId }, program.identitySecret, now)
    }
    return c.json(
      {
        id: q.id,
        title: q.title,
        availableAtLevel: q.availableAtLevel,
        questions: q.questions.map((question) => ({
          id: question.id,
          text: question.text,
          answers: question.answers.map((a) => ({ id: a.id, text: a.text })),
        })),
        ...(ticket ? { ticket } : {}),
      },
      200,
      // A ticket is the browser's own: never shared from a cache.
      { 'Cache-Control': ticket ? 'private, no-store' : 'private, max-age=60' },
    )
  })
  // Profiles hold health-related inferences: only a program's secret key with the profiles scope
  // reads them (a browser's write key, or a vendor's channel key, never does).
  const profiles = requireSecretKey(d.keys, { scope: 'profiles', program: 'query' })
  const profileRequest = (c: Context<SecretKeyEnv>): { program: Program; patientId: string } => {
    const key = c.get('key')
    const patientId = c.req.param('patientId') ?? ''
    if (patientId.length > 200) throw new ApiError(400, 'invalid_body', 'patientId is longer than 200 characters', { field: 'patientId' })
    return { program: d.programs().find((p) => p.program.id === key.program)!.program, patientId }
  }
  // The latest clustering per program (stored, read back at start, recomputed daily by the
  // service), recomputed here when asked with other settings, when older than a day, or with ?refresh=1.
  app.get('/admin/programs/:id/clusters', requireSecretKey(d.keys, { scope: 'admin', program: 'param' }), async (c) => {
    const key = c.get('key')
    const program = d.programs().find((p) => p.program.id === key.program)!.program
    const k = Number(c.req.query('k') ?? 5)
    const minSize = Number(c.req.query('minSize') ?? 20)
    if (!Number.isInteger(k) || k < 1 || k > 50) throw new ApiError(400, 'invalid_body', 'k must be a whole number from 1 to 50', { field: 'k' })
    if (!Number.isInteger(minSize) || minSize < 1) throw new ApiError(400, 'invalid_body', 'minSize must be a whole number from 1', { field: 'minSize' })
    // Right after a start the stored run may still be on its way: wait for it rather than recompute.
    await d.clusters.loaded()
    let result = d.clusters.latest(program.id)
    if (
      !result ||
      result.settings.k !== k ||
      result.settings.minSize !== minSize ||
      c.req.query('refresh') === '1' ||
      Date.now() - Date.parse(result.computedAt) > CLUSTER_REFRESH_MS
    ) {
      result = await d.clusters.compute(program, { k, minSize })
    }
    return c.json(
      { program: result.program, runId: result.runId, computedAt: result.computedAt, k, minSize, people: result.members.size, clusters: result.clusters },
      200,
      { 'Cache-Control': 'no-store' },
    )
  })
  app.get('/profiles/:patientId', profiles, async (c) => {
    const { program, patientId } = profileRequest(c)
    const profile = d.profiles?.read(program, patientId) ?? (await readProfile(d.db, program, patientId))
    // Right after a start the stored clustering may still be loading: a profile waits for it rather than say "no cluster".
    await d.clusters.loaded()
    const clustering = d.clusters.latest(program.id)
    const cluster = clustering?.members.get(patientId)
    return c.json(
      {
        ...profile,
        cluster: cluster ? { id: cluster, label: clustering!.clusters.find((x) => x.id === cluster)!.label, computedAt: clustering!.computedAt } : null,
      },
      200,
      { 'Cache-Control': 'no-store' },
    )
  })
  app.get('/profiles/:patientId/timeline', profiles, async (c) => {
    const { program, patientId } = profileRequest(c)
    const int = (name: string, def: number, max: number) => {
      const raw = c.req.query(name)
      const v = raw === undefined ? def : Number(raw)
      if (!Number.isInteger(v) || v < 1 || v > max) throw new ApiError(400, 'invalid_body', `${name} must be a whole number from 1 to ${max}`, { field: name })
      return v
    }
    const timeline = await readTimeline(d.db, program, patientId, { days: int('days', 90, 3660), limit: int('limit', 1000, 10_000) })
    return c.json({ program: program.id, patientId, ...timeline }, 200, { 'Cache-Control': 'no-store' })
  })
  return app
}
