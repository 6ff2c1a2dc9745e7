import type { EventRow, ProgramKey } from '../../../analytics/index.ts'
import type { Message } from '../schemas/segment.schema.ts'
import type { ScrubReason } from './personal-data.ts'

/** The named steps of ingestion; pipeline.ts runs them in this order. */
export type StepName =
  | 'validate'
  | 'privacy'
  | 'resolve_program'
  | 'identity'
  | 'clock'
  | 'user_agent'
  | 'bot'
  | 'campaign'
  | 'channel'
  | 'click_token'
  | 'needs'
  | 'records'
  | 'ip'

/** Why a step dropped an event: a closed set, each a metric label and an answer to the sender. */
export type DropReason =
  | 'invalid_schema'
  | 'event_too_large'
  | 'too_deep'
  | 'future_timestamp'
  | 'channel_not_allowed'
  | 'not_allowed'
  | 'identity_unproven'
  | 'too_old'
  | 'invalid_timestamp'
  | 'too_many_months'
  | 'questionnaire_locked'

/** An event a step refused, with the field at fault. */
export interface Drop {
  drop: DropReason
  step: StepName
  field: string
  message: string
}

/** What every event of one request shares. */
export interface RequestFacts {
  key: ProgramKey
  receivedAt: number
  /** The User-Agent header (the patient's browser only for write-key requests). */
  userAgent: string
  /** The peer address, raw: used by the ip step and never stored. */
  ip: string
  /** Size of the request body; events of a body within the event limit need no size check. */
  bodyBytes?: number
  /** False when the body's text cannot hold an e-mail address or phone number (CONTACT_HINT finds nothing in it). */
  mayContainContact?: boolean
  /** How old an event may be for this request's key (see IngestLimits). */
  maxAgeDays?: number
  /** Whether the key may send events older than the live window (the import scope, or a synthetic history). */
  mayImport?: boolean
  /** Batch-level `sentAt` and `context`, which each event inherits. */
  sentAt?: string
  context?: Record<string, unknown>
}

/** An event on its way through the steps: the message and the row being filled. */
export interface Draft {
  msg: Message
  /** A private copy of the merged context; steps remove what must not be stored. */
  context: Record<string, unknown>
  row: EventRow
  /** The patient's user agent, once the user_agent step found it ('' for none). */
  agent: string
  /** What the privacy step removed or masked, by reason. */
  scrubbed: Record<ScrubReason, number>
}

/** A step: returns the (enriched) draft or a drop. */
export type Step = (draft: Draft, facts: RequestFacts) => Draft | Drop

/** True when a step's result is a drop. */
export const isDrop = <T extends object>(r: T | Drop): r is Drop => 'drop' in r
