/** One Segment-format message as the SDK sends it (see the collector's README, HTTP API). */
export interface Message {
  type: 'page' | 'track' | 'identify' | 'alias'
  messageId: string
  timestamp: string
  anonymousId: string
  userId?: string
  event?: string
  name?: string
  properties?: Record<string, unknown>
  traits?: Record<string, unknown>
  previousId?: string
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
