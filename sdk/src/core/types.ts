/** What a message says, by type: the three kinds the SDK sends. */
export type MessageBody =
  | { type: 'page'; name?: string; properties?: Record<string, unknown> }
  | { type: 'track'; event: string; properties?: Record<string, unknown> }
  | { type: 'identify'; traits?: Record<string, unknown> }

/**
 * One Segment-format message as the SDK sends it (docs/api.md, "Ingestion"). A test checks at
 * compile time that every such message is one the collector's schema accepts.
 */
export type Message = MessageBody & {
  messageId: string
  timestamp: string
  anonymousId: string
  userId?: string
  context: Record<string, unknown>
}

/** Key–value storage the tracker persists to (localStorage, a cookie, or memory). */
export interface Store {
  get(key: string): string | null
  set(key: string, value: string): void
  del(key: string): void
}

/** What sending a batch came to: the HTTP status (0: no answer) and Retry-After in seconds. */
export interface SendResult {
  status: number
  retryAfter?: number | null
}

/** Sends one JSON body; `beacon` when the page is going away. */
export type Sender = (url: string, body: string, beacon: boolean) => Promise<SendResult>
