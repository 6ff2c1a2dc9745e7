import { readFileSync } from 'node:fs'
import { Hono } from 'hono'
import { ApiError, errorHandler } from './errors.ts'
import { browserCors } from './middleware/browser-cors.middleware.ts'
import { MESSAGE_TYPES } from './schemas/segment.schema.ts'
import { adminProgramRoutes, type AdminProgramDeps } from './routes/admin-program.route.ts'
import { decideRoutes, type DecideDeps } from './routes/decide.route.ts'
import { docsRoutes } from './routes/docs.route.ts'
import { healthRoutes, type HealthDeps } from './routes/health.route.ts'
import { ingestRoutes, type IngestDeps } from './routes/ingest.route.ts'
import { programRoutes, type ProgramRouteDeps } from './routes/program.route.ts'
import { siteRoutes, type SiteDeps } from './routes/site.route.ts'

/** The API's version, as the OpenAPI document states it (package.json's). */
const API_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Everything the HTTP app is built from. */
export type AppDeps = IngestDeps & HealthDeps & SiteDeps & ProgramRouteDeps & AdminProgramDeps & DecideDeps & { log: (msg: string) => void }

/** Builds the collector's Hono app; no I/O happens here. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono()
  // Browsers call ingestion, decide and questionnaires: CORS for them, and only them.
  const ingestPaths = ['/v1/batch', '/v1/import', '/v1/import/', ...MESSAGE_TYPES.map((t) => `/v1/${t}`)]
  for (const path of [...ingestPaths, '/v1/decide']) app.use(path, browserCors(deps.keys, ['POST']))
  app.use('/v1/questionnaires/*', browserCors(deps.keys, ['GET']))
  app.route('/v1/admin', adminProgramRoutes(deps))
  app.route('/v1', ingestRoutes(deps))
  app.route('/v1', programRoutes(deps))
  app.route('/v1', decideRoutes(deps))
  app.route('/', healthRoutes(deps))
  app.route('/', siteRoutes(deps))
  app.route('/', docsRoutes(API_VERSION))
  app.notFound(() => {
    throw new ApiError(404, 'not_found', 'no such endpoint')
  })
  app.onError(
    errorHandler({
      refused: (code) => deps.metrics.requestsRejected.inc({ reason: code }),
      clientAborted: () => deps.metrics.clientAborts.inc(),
      log: deps.log,
    }),
  )
  return app
}
