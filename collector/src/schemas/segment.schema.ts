import { z } from 'zod'
import { pathBeyondDepth } from '../json-depth.ts'
import { BROWSER_ID_PREFIX } from '../browser-id.ts'
import { holdsContact, isContactId } from '../pipeline/personal-data.ts'

// The Segment tracking spec (https://segment.com/docs/connections/spec/common/), which
// existing server libraries speak; Attune's extensions ride in `context` and `properties`.

const MAX_ID = 200
/** Deepest nesting accepted in an event, the event itself being level 1 (`properties.a.b` is level 4). */
export const MAX_EVENT_DEPTH = 32
/** Largest batch-level context, which every event of the batch inherits. */
export const MAX_BATCH_CONTEXT_BYTES = 8 * 1024

/** A time in ISO 8601 (what Segment's libraries send). */
const isoTime = z
  .string()
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time')

// Patient ids are pseudonymous (P8): an id that is an e-mail address or a phone number (in any
// format: +49 170 1234567, 0049…, 0170 1234567) is refused rather than stored.
const EMAIL_LIKE = /[^\s@]+@[^\s@]+\.[A-Za-z]{2,}/

/** Whether an id is pseudonymous: neither an e-mail address nor a phone number. */
export const isPseudonymousId = (v: string): boolean => !(v.includes('@') && EMAIL_LIKE.test(v)) && !isContactId(v)
const PSEUDONYMOUS_MESSAGE = 'must be a pseudonymous id, not an e-mail address or phone number'

/** A pseudonymous id as text (a patient id in a click token). */
export const pseudonymousId = z.string().min(1).max(MAX_ID).refine(isPseudonymousId, PSEUDONYMOUS_MESSAGE)

/** Ids may arrive as numbers from some libraries; they are stored as text. */
const idField = z.union([z.string().min(1).max(MAX_ID), z.number().finite().transform(String)]).refine(isPseudonymousId, PSEUDONYMOUS_MESSAGE)
/** A patient id: pseudonymous, and never in browsers' namespace. */
const userIdField = idField.refine((v) => !v.startsWith(BROWSER_ID_PREFIX), `must not start with ${BROWSER_ID_PREFIX}, the prefix of browsers' anonymous ids`)

const jsonObject = z.record(z.string(), z.unknown())

const common = {
  messageId: z
    .string()
    .min(1)
    .max(100)
    .refine((v) => !(v.includes('@') && EMAIL_LIKE.test(v)), 'must not be an e-mail address')
    .optional(),
  anonymousId: idField.optional(),
  userId: userIdField.optional(),
  timestamp: isoTime.optional(),
  originalTimestamp: isoTime.optional(),
  sentAt: isoTime.optional(),
  context: jsonObject.optional(),
  integrations: jsonObject.optional(),
}

const needsIdentity = (m: { userId?: string; anonymousId?: string }) => m.userId !== undefined || m.anonymousId !== undefined
const identityIssue = { message: 'userId or anonymousId is required', path: ['userId'] }

/** `track`: an action, named by `event`. */
export const trackSchema = z
  .object({
    ...common,
    type: z.literal('track'),
    event: z
      .string()
      .min(1)
      .max(200)
      .refine((v) => !holdsContact(v), 'must be an event name, holding no e-mail address or phone number'),
    properties: jsonObject.optional(),
  })
  .refine(needsIdentity, identityIssue)
/** `page`: a web page view. */
export const pageSchema = z
  .object({
    ...common,
    type: z.literal('page'),
    name: z.string().max(500).optional(),
    category: z.string().max(200).optional(),
    properties: jsonObject.optional(),
  })
  .refine(needsIdentity, identityIssue)
/** `screen`: an app screen view. */
export const screenSchema = z
  .object({
    ...common,
    type: z.literal('screen'),
    name: z.string().max(500).optional(),
    category: z.string().max(200).optional(),
    properties: jsonObject.optional(),
  })
  .refine(needsIdentity, identityIssue)
/** `identify`: who the person is (a pseudonymous patient id) and their traits. */
export const identifySchema = z.object({ ...common, type: z.literal('identify'), traits: jsonObject.optional() }).refine(needsIdentity, identityIssue)
/** `alias`: links a previous id to the patient id. */
export const aliasSchema = z.object({ ...common, type: z.literal('alias'), userId: userIdField, previousId: idField })
/** `group`: the person belongs to a group (a clinic, a cohort). */
export const groupSchema = z
  .object({ ...common, type: z.literal('group'), groupId: idField, traits: jsonObject.optional() })
  .refine(needsIdentity, identityIssue)

/** Message types the collector accepts. */
export const MESSAGE_TYPES = ['track', 'page', 'screen', 'identify', 'alias', 'group'] as const
/** A message type. */
export type MessageType = (typeof MESSAGE_TYPES)[number]

/** Any one message, told apart by `type`. */
export const messageSchema = z.discriminatedUnion('type', [trackSchema, pageSchema, screenSchema, identifySchema, aliasSchema, groupSchema])
/** A validated message. */
export type Message = z.infer<typeof messageSchema>

/** The envelope of `/v1/batch` (and `/v1/import`): events are validated one by one. */
export const batchEnvelopeSchema = z.object({
  batch: z.array(z.unknown()).min(1, 'must hold at least one event').max(500, 'must hold at most 500 events'),
  writeKey: z.string().max(200).optional(),
  sentAt: isoTime.optional(),
  // Merged into every event of the batch, so it must leave room within each event's 32 KB and
  // nesting (it sits one level below the event); depth first, since measuring stringifies it.
  context: jsonObject
    .superRefine((c, ctx) => {
      const deep = pathBeyondDepth(c, MAX_EVENT_DEPTH - 1)
      if (deep) ctx.addIssue({ code: 'custom', path: deep, message: `is nested more than ${MAX_EVENT_DEPTH} levels deep in each event; flatten the context` })
      else if (Buffer.byteLength(JSON.stringify(c)) > MAX_BATCH_CONTEXT_BYTES)
        ctx.addIssue({ code: 'custom', message: `must be at most ${8 * 1024} bytes of JSON` })
    })
    .optional(),
})

/** The answer to an ingestion request. */
export const ingestResponseSchema = z.object({
  success: z.literal(true),
  accepted: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), reason: z.string(), field: z.string(), message: z.string() })),
})
/** The answer to an ingestion request. */
export type IngestResponse = z.infer<typeof ingestResponseSchema>
