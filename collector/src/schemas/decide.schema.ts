import { z } from 'zod'
import { DECISION_CHANNELS } from '../../../analytics/index.ts'

const id = z.string().min(1).max(200)

/**
 * The body of `POST /v1/decide`: whom to decide for (a patient id with a secret key; a browser's
 * anonymous id with a write key), the channel, and for the web the slots to fill.
 * @example { "userId": "p-000123", "channel": "web", "slots": ["home-hero"] }
 */
export const decideSchema = z.strictObject({
  writeKey: z.string().max(200).optional(),
  program: z.string().max(100).optional(),
  userId: id.optional(),
  anonymousId: id.optional(),
  channel: z.enum(DECISION_CHANNELS),
  slots: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be a slot id: lower-case letters, digits and dashes'))
    .max(20)
    .optional(),
  context: z.record(z.string(), z.unknown()).optional(),
})

/** A decide request. */
export type DecideRequest = z.infer<typeof decideSchema>
