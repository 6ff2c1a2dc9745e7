import { Hono } from 'hono'
import { patternFromCluster, ProgramDocumentError, type Pattern } from '../../../analytics/index.ts'
import { bodyText, parseJsonBody, validBody } from '../json-body.ts'
import { ApiError } from '../errors.ts'
import { limitBody } from '../middleware/body-limit.middleware.ts'
import type { KeyIndex } from '../keys.ts'
import { requireSecretKey, type SecretKeyEnv } from '../middleware/secret-key.middleware.ts'
import type { ClusterStore } from '../cluster-store.ts'
import { clusterApprovalSchema, type ClusterApproval } from '../schemas/cluster-approval.schema.ts'
import type { ProgramRegistry } from '../program-registry.ts'
import { VersionsUnavailableError, type ProgramVersionStore } from '../program-version-store.ts'

/** What the program administration routes need. */
export interface AdminProgramDeps {
  keys: KeyIndex
  registry: ProgramRegistry
  versions: ProgramVersionStore
  /** The latest need clustering of each program, whose clusters can be approved as pattern cards. */
  clusters: ClusterStore
  log: (msg: string) => void
}

/** Largest program document accepted. */
export const MAX_PROGRAM_BYTES = 1024 * 1024
/** Largest cluster approval body (an id and a name). */
const MAX_APPROVAL_BYTES = 4 * 1024

/** Turns what storing or reading versions threw into the API's errors (ClickHouse's own errors are described, not quoted). */
function storeFailure(e: unknown): never {
  if (e instanceof ProgramDocumentError) {
    const first = e.issues[0]!
    throw new ApiError(400, 'invalid_program', `${first.path || '(root)'}: ${first.message}`, { field: first.path, extra: { issues: e.issues } })
  }
  // The error handler logs the cause once, with the request id.
  throw new ApiError(503, 'storage_unavailable', 'program versions cannot be read or stored now (ClickHouse not reachable); retry', {
    headers: { 'Retry-After': '5' },
    ...(e instanceof VersionsUnavailableError ? {} : { cause: e }),
  })
}

/** The optional body of a cluster approval: nothing, or `{id?, name?}`; 400 naming the field otherwise. */
function approvalBody(text: string): ClusterApproval {
  if (text.trim() === '') return {}
  return validBody(clusterApprovalSchema, parseJsonBody(text, '{"id"?, "name"?} or nothing'))
}

/**
 * `PUT /v1/admin/programs/:id` stores a whole program document as the next version and makes it
 * active at once; `GET /v1/admin/programs/:id` gives the active version and its document;
 * `GET /v1/admin/programs/:id/versions` lists the stored versions, newest first;
 * `POST /v1/admin/programs/:id/clusters/:clusterId/approve` adds a cluster of the latest need
 * clustering as a pattern card, stored and activated as a PUT of the amended document would be.
 */
export function adminProgramRoutes(d: AdminProgramDeps): Hono<SecretKeyEnv> {
  const app = new Hono<SecretKeyEnv>()
  // Changing and reading a program document (its keys' ids, rules, content) is the admin scope's.
  const admin = requireSecretKey(d.keys, { scope: 'admin', program: 'param' })
  app.put('/programs/:id', admin, limitBody(MAX_PROGRAM_BYTES, 'a program document'), async (c) => {
    const key = c.get('key')
    const raw = parseJsonBody(await bodyText(c, MAX_PROGRAM_BYTES), 'a JSON program document')
    const result = await d.versions.put(key.program, raw, key.id).catch(storeFailure)
    return c.json({ program: result.program, version: result.version, checksum: result.checksum }, 200, { 'Cache-Control': 'no-store' })
  })
  app.get('/programs/:id', admin, (c) => {
    const key = c.get('key')
    const active = d.registry.get(key.program)
    if (!d.versions.loaded || !active || active.version === null) storeFailure(new VersionsUnavailableError('not loaded'))
    return c.json({ program: key.program, version: active.version, checksum: active.checksum, source: active.source, document: active.loaded.document }, 200, {
      'Cache-Control': 'no-store',
    })
  })
  app.get('/programs/:id/versions', admin, async (c) => {
    const key = c.get('key')
    const versions = await d.versions.versions(key.program).catch(storeFailure)
    return c.json({ program: key.program, active: d.registry.get(key.program)?.version ?? null, versions }, 200, { 'Cache-Control': 'no-store' })
  })
  // A discovered cluster approved as a pattern card is a change of the program document: versioned,
  // attributed to the key that made it and kept across restarts, like any other.
  app.post('/programs/:id/clusters/:clusterId/approve', admin, limitBody(MAX_APPROVAL_BYTES, 'a cluster approval'), async (c) => {
    const key = c.get('key')
    const body = approvalBody(await bodyText(c, MAX_APPROVAL_BYTES))
    // Right after a start the stored run may still be on its way.
    await d.clusters.loaded()
    const run = d.clusters.latest(key.program)
    const clusterId = c.req.param('clusterId')
    const cluster = run?.clusters.find((x) => x.id === clusterId)
    if (!run || !cluster) {
      const why = run
        ? `the latest clustering of program ${key.program} (run ${run.runId}) has no cluster ${clusterId.slice(0, 100)}`
        : `program ${key.program} has no clustering yet (GET /v1/admin/programs/${key.program}/clusters computes one)`
      throw new ApiError(404, 'not_found', why, { field: 'clusterId' })
    }
    let pattern!: Pattern
    // Built in the store's turn, from the document and program active then, so a change sent
    // meanwhile is kept and an id taken meanwhile is a conflict.
    const result = await d.versions
      .amend(
        key.program,
        (document) => {
          const card = patternFromCluster(d.registry.get(key.program)!.loaded.program, run, cluster, body)
          const patterns = Array.isArray(document.patterns) ? (document.patterns as Array<{ id?: unknown }>) : []
          if (patterns.some((p) => p.id === card.id))
            throw new ApiError(409, 'pattern_exists', `program ${key.program} already has a pattern ${card.id}; send another "id"`, { field: 'id' })
          pattern = card
          return { ...document, patterns: [...patterns, card] }
        },
        key.id,
      )
      .catch((e: unknown) => {
        if (e instanceof ApiError) throw e
        return storeFailure(e)
      })
    return c.json(
      {
        program: result.program,
        version: result.version,
        checksum: result.checksum,
        pattern,
        cluster: { runId: run.runId, computedAt: run.computedAt, id: cluster.id, label: cluster.label, size: cluster.size },
      },
      201,
      { 'Cache-Control': 'no-store' },
    )
  })
  return app
}
