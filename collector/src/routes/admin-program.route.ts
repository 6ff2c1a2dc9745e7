import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ProgramDocumentError, type ProgramKey } from '../../../analytics/index.ts'
import { ApiError, describeError } from '../errors.ts'
import type { KeyIndex } from '../keys.ts'
import { programSecretKey } from '../auth.ts'
import type { ProgramRegistry } from '../program-registry.ts'
import { VersionsUnavailableError, type ProgramVersionStore } from '../program-version-store.ts'

/** What the program administration routes need. */
export interface AdminProgramDeps {
  keys: KeyIndex
  registry: ProgramRegistry
  versions: ProgramVersionStore
  log: (msg: string) => void
}

/** Largest program document accepted. */
export const MAX_PROGRAM_BYTES = 1024 * 1024

/** Turns what storing or reading versions threw into the API's errors (ClickHouse's own errors are described, not quoted). */
function storeFailure(e: unknown, log: (msg: string) => void): never {
  if (e instanceof ProgramDocumentError) {
    const first = e.issues[0]!
    throw new ApiError(400, 'invalid_program', `${first.path || '(root)'}: ${first.message}`, { field: first.path, extra: { issues: e.issues } })
  }
  if (!(e instanceof VersionsUnavailableError)) log(`program versions not available: ${describeError(e)}`)
  throw new ApiError(503, 'storage_unavailable', 'program versions cannot be read or stored now (ClickHouse not reachable); retry', { headers: { 'Retry-After': '5' } })
}

/**
 * `PUT /v1/admin/programs/:id` stores a whole program document as the next version and makes it
 * active at once; `GET /v1/admin/programs/:id` gives the active version and its document;
 * `GET /v1/admin/programs/:id/versions` lists the stored versions, newest first.
 */
export function adminProgramRoutes(d: AdminProgramDeps): Hono {
  const app = new Hono()
  const tooLarge = () => {
    throw new ApiError(413, 'body_too_large', `a program document is at most ${MAX_PROGRAM_BYTES} bytes`)
  }
  app.put('/programs/:id', bodyLimit({ maxSize: MAX_PROGRAM_BYTES, onError: tooLarge }), async (c) => {
    const key = programSecretKey(d.keys, c.req.header('authorization'), c.req.param('id'), 'id')
    const text = await c.req.text()
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch {
      throw new ApiError(400, 'invalid_json', 'the body is not a JSON program document')
    }
    let result
    try {
      result = await d.versions.put(key.program, raw, key.id)
    } catch (e) {
      storeFailure(e, d.log)
    }
    return c.json({ program: result.program, version: result.version, checksum: result.checksum }, 200, { 'Cache-Control': 'no-store' })
  })
  app.get('/programs/:id', (c) => {
    const key = programSecretKey(d.keys, c.req.header('authorization'), c.req.param('id'), 'id')
    const active = d.registry.get(key.program)
    if (!d.versions.loaded || !active || active.version === null) storeFailure(new VersionsUnavailableError('not loaded'), d.log)
    return c.json({ program: key.program, version: active.version, checksum: active.checksum, source: active.source, document: active.loaded.document }, 200, { 'Cache-Control': 'no-store' })
  })
  app.get('/programs/:id/versions', async (c) => {
    const key = programSecretKey(d.keys, c.req.header('authorization'), c.req.param('id'), 'id')
    let versions
    try {
      versions = await d.versions.versions(key.program)
    } catch (e) {
      storeFailure(e, d.log)
    }
    return c.json({ program: key.program, active: d.registry.get(key.program)?.version ?? null, versions }, 200, { 'Cache-Control': 'no-store' })
  })
  return app
}
