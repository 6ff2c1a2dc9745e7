// Public surface of collector/: the HTTP service.
export { createApp } from './src/app.ts'
export type { AppDeps } from './src/app.ts'
export { configFromEnv } from './src/config.ts'
export type { CollectorConfig } from './src/config.ts'
export { createService } from './src/service.ts'
export type { Service, ServiceHooks } from './src/service.ts'
export { Spool, SpoolFullError, SpoolWriteError } from './src/spool/spool.ts'
export type { SpoolIo, SpoolOptions, SpoolPosition } from './src/spool/spool.ts'
export { encodeFrame, encodeFrames, decodeFrames } from './src/spool/frame.ts'
export { anonymiseIp } from './src/pipeline/ip.step.ts'
export { signClickToken, verifyClickToken } from './src/click-token.ts'
export { browserId, BROWSER_ID_PREFIX } from './src/browser-id.ts'
export { signIdentityToken, verifyIdentityToken, signQuestionnaireTicket, MAX_IDENTITY_TOKEN_DAYS } from './src/identity-token.ts'
export type { IdentityClaims } from './src/identity-token.ts'
export type { ClickClaims, ClickTokenCheck, ClickTokenFailure } from './src/click-token.ts'
export type { IngestResponse, Message } from './src/schemas/segment.schema.ts'
export { batchEnvelopeSchema, messageSchema } from './src/schemas/segment.schema.ts'
export {
  generatePopulation,
  loadDirect,
  loadFast,
  openDirectStorage,
  quarantineDirOf,
  sendHttp,
  seedDemo,
  GENERATOR_VERSION,
  HISTORY_LIMITS,
} from './src/population/index.ts'
export type {
  DirectLoadStats,
  Population,
  PopulationOptions,
  PopulationRequest,
  SeedDemoOptions,
  SeedDemoResult,
  SyntheticPatient,
} from './src/population/index.ts'
export { payloadText } from './src/spool/clickhouse-sink.ts'
export { ClusterStore } from './src/cluster-store.ts'
export { MAX_BODY_BYTES } from './src/pipeline/decode-body.ts'
export { MAX_DECIDE_BYTES } from './src/routes/decide.route.ts'
export { MAX_PROGRAM_BYTES } from './src/routes/admin-program.route.ts'
export { openApiDocument, DOCUMENTED_ROUTES } from './src/openapi.ts'
