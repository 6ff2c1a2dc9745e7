import { z } from 'zod'
import { programSchema } from '../../analytics/index.ts'
import { clusterApprovalSchema } from './schemas/cluster-approval.schema.ts'
import { decideSchema } from './schemas/decide.schema.ts'
import {
  aliasSchema,
  batchEnvelopeSchema,
  groupSchema,
  identifySchema,
  ingestResponseSchema,
  pageSchema,
  screenSchema,
  trackSchema,
} from './schemas/segment.schema.ts'

// The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the routes validate
// with (JSON Schema 2020-12, which OpenAPI 3.1 uses), so it cannot drift from what they accept.
// Answers without a schema of their own are described by the few shapes below.

/**
 * A zod schema as OpenAPI 3.1's JSON Schema (what a request may send: the schema's input). A
 * recursive schema's definitions (`$defs`, the rule conditions') go to `defs` under names
 * prefixed with `prefix`, and its references point there, since in an OpenAPI document `#/`
 * is the document's root.
 */
export function jsonSchema(schema: z.ZodType, defs?: Record<string, unknown>, prefix = 'Def'): Record<string, unknown> {
  const { $schema: _, $defs, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
  if (!$defs) return rest
  if (!defs) throw new Error('a recursive schema needs a place for its definitions')
  const text = (v: unknown) => JSON.stringify(v).replace(/"#\/\$defs\/([^"]+)"/g, (_m, name: string) => `"#/components/schemas/${prefix}${name}"`)
  for (const [name, def] of Object.entries($defs as Record<string, unknown>)) defs[`${prefix}${name}`] = JSON.parse(text(def))
  return JSON.parse(text(rest)) as Record<string, unknown>
}

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    scope: z.string().optional(),
    requestId: z.string().optional(),
    rejected: z.array(z.unknown()).optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
  code: z.string().describe('the error code again, where Segment’s libraries read it'),
  message: z.string(),
})
const browserDecisionSchema = z.object({
  program: z.string(),
  requestId: z.string(),
  channel: z.string(),
  decidedAt: z.string(),
  decisions: z.array(
    z.object({
      slot: z.string().optional(),
      outcome: z.enum(['shown', 'none', 'default']),
      reason: z.string().optional(),
      content: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
})
const decisionSchema = browserDecisionSchema.extend({
  person: z.object({ id: z.string(), kind: z.enum(['patient', 'anonymous']) }),
  profile: z.enum(['memory', 'clickhouse', 'unavailable']),
  recorded: z.boolean().optional(),
  stage: z.string().nullable(),
  stageChanges: z.array(z.unknown()).optional(),
  decisions: z.array(
    z.record(z.string(), z.unknown()).describe('slot, channel, outcome, rule, class, action, content, items, reason, explanation, considered'),
  ),
})
const questionnaireSchema = z.object({
  id: z.string(),
  title: z.string(),
  availableAtLevel: z.number(),
  questions: z.array(z.object({ id: z.string(), text: z.string(), answers: z.array(z.object({ id: z.string(), text: z.string() })) })),
  ticket: z.string().optional(),
})
const versionSchema = z.object({ program: z.string(), version: z.number(), checksum: z.string() })
const anyObject = z.record(z.string(), z.unknown())

type Op = {
  summary: string
  description?: string
  keys: 'write' | 'secret' | 'either' | 'none'
  scope?: string
  body?: z.ZodType | 'text'
  answer?: z.ZodType | 'text' | 'binary'
  params?: string[]
  query?: Array<[string, string]>
  tag: string
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const MESSAGES = { Track: trackSchema, Page: pageSchema, Screen: screenSchema, Identify: identifySchema, Alias: aliasSchema, Group: groupSchema }

/** Every route of the API: method and path (OpenAPI form) → what it is. */
const ROUTES: Record<string, Op> = {
  'post /v1/batch': {
    tag: 'ingestion',
    summary: 'Send a batch of messages',
    description:
      'Segment’s batch: 1–500 messages, each accepted or rejected with its reason. A write key’s userId counts only with an identity token (context.identityToken).',
    keys: 'either',
    scope: 'ingest',
    body: batchEnvelopeSchema,
    answer: ingestResponseSchema,
  },
  'post /v1/import': {
    tag: 'ingestion',
    summary: 'Send a batch (Segment’s import path)',
    description: 'As /v1/batch. Events older than the live window need a secret key with the import scope, on either path.',
    keys: 'either',
    scope: 'ingest',
    body: batchEnvelopeSchema,
    answer: ingestResponseSchema,
  },
  'post /v1/import/': {
    tag: 'ingestion',
    summary: 'Send a batch (analytics-java’s path)',
    keys: 'either',
    scope: 'ingest',
    body: batchEnvelopeSchema,
    answer: ingestResponseSchema,
  },
  ...Object.fromEntries(
    Object.entries(MESSAGES).map(([name, schema]) => [
      `post /v1/${name.toLowerCase()}`,
      {
        tag: 'ingestion',
        summary: `Send one ${name.toLowerCase()} message`,
        keys: 'either',
        scope: 'ingest',
        body: schema,
        answer: ingestResponseSchema,
      } satisfies Op,
    ]),
  ),
  'post /v1/decide': {
    tag: 'decisions',
    summary: 'Decide the next intervention',
    description:
      'A write key decides for its browser on the web and is answered the content only (BrowserDecision); a secret key with the decide scope for any patient and channel (Decision).',
    keys: 'either',
    scope: 'decide',
    body: decideSchema,
    answer: decisionSchema,
  },
  'get /v1/questionnaires/{id}': {
    tag: 'profiles',
    summary: 'A needs questionnaire as the SDK renders it',
    description:
      'A write key gives ?writeKey= and, for a questionnaire above level 0, ?anonymousId=: served only at the browser’s level, with a ticket its answers need.',
    keys: 'either',
    params: ['id'],
    query: [
      ['writeKey', 'a write key (secret keys only as HTTP Basic)'],
      ['anonymousId', 'the browser’s anonymous id'],
    ],
    answer: questionnaireSchema,
  },
  'get /v1/profiles/{patientId}': {
    tag: 'profiles',
    summary: 'A patient’s profile',
    keys: 'secret',
    scope: 'profiles',
    params: ['patientId'],
    query: [['program', 'the key’s program (optional)']],
    answer: anyObject,
  },
  'get /v1/profiles/{patientId}/timeline': {
    tag: 'profiles',
    summary: 'A patient’s touch points, oldest first',
    keys: 'secret',
    scope: 'profiles',
    params: ['patientId'],
    query: [
      ['days', '1–3660, default 90'],
      ['limit', '1–10,000, default 1,000'],
      ['program', 'the key’s program (optional)'],
    ],
    answer: anyObject,
  },
  'get /v1/admin/programs/{id}': {
    tag: 'programs',
    summary: 'The active program document (keys and secrets as hashes)',
    keys: 'secret',
    scope: 'admin',
    params: ['id'],
    answer: anyObject,
  },
  'put /v1/admin/programs/{id}': {
    tag: 'programs',
    summary: 'Store and activate a program document',
    description:
      'Checked as a file is at start; stored as the next version; active at once. Keys in clear are stored as their hashes; secrets must be env:NAME.',
    keys: 'secret',
    scope: 'admin',
    params: ['id'],
    body: programSchema,
    answer: versionSchema,
  },
  'get /v1/admin/programs/{id}/versions': {
    tag: 'programs',
    summary: 'Every stored version, newest first',
    keys: 'secret',
    scope: 'admin',
    params: ['id'],
    answer: anyObject,
  },
  'get /v1/admin/programs/{id}/clusters': {
    tag: 'programs',
    summary: 'Need clusters of the program’s people',
    keys: 'secret',
    scope: 'admin',
    params: ['id'],
    query: [
      ['k', '1–50, default 5'],
      ['minSize', 'default 20'],
      ['refresh', '1 computes them again'],
    ],
    answer: anyObject,
  },
  'post /v1/admin/programs/{id}/clusters/{clusterId}/approve': {
    tag: 'programs',
    summary: 'Approve a cluster as a pattern card',
    keys: 'secret',
    scope: 'admin',
    params: ['id', 'clusterId'],
    body: clusterApprovalSchema,
    answer: anyObject,
  },
  'get /health': { tag: 'operations', summary: 'Health: ClickHouse, spool, writer, profiles', keys: 'none', answer: anyObject },
  'get /metrics': { tag: 'operations', summary: 'Prometheus metrics', keys: 'none', answer: 'text' },
  'get /openapi.json': { tag: 'operations', summary: 'This document', keys: 'none', answer: anyObject },
  'get /docs/api': { tag: 'operations', summary: 'This document as a page', keys: 'none', answer: 'text' },
  'get /attune.js': { tag: 'sdk', summary: 'The SDK’s script-tag build (and its chunks beside it, /attune-*.js)', keys: 'none', answer: 'binary' },
  'get /sdk/{version}/{file}': {
    tag: 'sdk',
    summary: 'Any SDK file of a version, cached for a year',
    keys: 'none',
    params: ['version', 'file'],
    answer: 'binary',
  },
  'get /demo/{path}': { tag: 'sdk', summary: 'The demo patient-support site', keys: 'none', params: ['path'], answer: 'text' },
}

/** Every route the document describes, as `METHOD /path` with `:param` (Hono's form). */
export const DOCUMENTED_ROUTES: readonly string[] = Object.keys(ROUTES).map((k) => {
  const [method, path] = k.split(' ')
  return `${method!.toUpperCase()} ${path!.replace(/\{(\w+)\}/g, ':$1')}`
})

function operation(op: Op): Record<string, unknown> {
  const security =
    op.keys === 'none' ? [] : op.keys === 'write' ? [{ writeKey: [] }] : op.keys === 'secret' ? [{ secretKey: [] }] : [{ secretKey: [] }, { writeKey: [] }]
  const content = (s: z.ZodType | 'text' | 'binary', name?: string) =>
    s === 'text'
      ? { 'text/plain': { schema: { type: 'string' } } }
      : s === 'binary'
        ? { 'application/octet-stream': { schema: { type: 'string' } } }
        : { 'application/json': { schema: name ? ref(name) : jsonSchema(s) } }
  const answerName = op.answer === ingestResponseSchema ? 'IngestAnswer' : undefined
  return {
    tags: [op.tag],
    summary: op.summary,
    ...(op.description || op.scope
      ? { description: [op.description, op.scope && op.keys !== 'write' ? `A secret key needs the ${op.scope} scope.` : ''].filter(Boolean).join(' ') }
      : {}),
    security,
    parameters: [
      ...(op.params ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(op.query ?? []).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ],
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content:
              op.body === 'text'
                ? { 'text/plain': { schema: { type: 'string' } } }
                : {
                    'application/json': {
                      schema: op.body === programSchema ? ref('ProgramDocument') : op.body === batchEnvelopeSchema ? ref('Batch') : jsonSchema(op.body),
                    },
                  },
          },
        }
      : {}),
    responses: {
      '200': {
        description: 'OK',
        content:
          op.answer === decisionSchema
            ? { 'application/json': { schema: { oneOf: [ref('Decision'), ref('BrowserDecision')] } } }
            : content(op.answer ?? anyObject, answerName),
      },
      ...(op.keys === 'none'
        ? {}
        : { '4XX': { description: 'Refused: the code and field say why', content: { 'application/json': { schema: ref('Error') } } } }),
      '5XX': { description: 'Not stored; retry (a request id comes with it)', content: { 'application/json': { schema: ref('Error') } } },
    },
  }
}

/** The OpenAPI 3.1 document of the collector's HTTP API. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [key, op] of Object.entries(ROUTES)) {
    const [method, path] = key.split(' ') as [string, string]
    ;(paths[path] ??= {})[method] = operation(op)
  }
  const programDefs: Record<string, unknown> = {}
  const batch = jsonSchema(batchEnvelopeSchema) as { properties: Record<string, unknown> }
  batch.properties.batch = { ...(batch.properties.batch as object), items: { oneOf: Object.keys(MESSAGES).map(ref) } }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Attune collector',
      version,
      description:
        'The HTTP API of Attune, an open platform for patient support programs: the Segment tracking API, decisions, profiles and program administration. Keys and scopes: docs/security.md.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    tags: ['ingestion', 'decisions', 'profiles', 'programs', 'operations', 'sdk'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        secretKey: { type: 'http', scheme: 'basic', description: 'A secret key (sk_…) as the user name, no password' },
        writeKey: { type: 'http', scheme: 'basic', description: 'A write key (pk_…) as the user name, or as writeKey in the body; from an origin it allows' },
      },
      schemas: {
        ...Object.fromEntries(Object.entries(MESSAGES).map(([name, schema]) => [name, jsonSchema(schema)])),
        Batch: batch,
        IngestAnswer: jsonSchema(ingestResponseSchema),
        Decision: jsonSchema(decisionSchema),
        BrowserDecision: jsonSchema(browserDecisionSchema),
        Error: jsonSchema(errorSchema),
        ProgramDocument: jsonSchema(programSchema, programDefs, 'Program'),
        ...programDefs,
      },
    },
  }
}
