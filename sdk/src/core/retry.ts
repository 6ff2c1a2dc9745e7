// guarantee D10: retry network errors, 408, 429 and 5xx with backoff from 1 s to 30 s,
// doubling, with jitter; never other 4xx (the batch would be refused again for ever).

/** Whether a batch answered with `status` (0: no answer) is worth sending again. */
export function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500
}

/**
 * Milliseconds to wait before attempt `attempt + 1`: 1 s doubling to 30 s, up to a quarter more
 * at random so many browsers recovering at once do not arrive together; a server's Retry-After
 * (seconds) is honoured up to 10 minutes.
 * @example retryDelay(3) // 4000–5000
 */
export function retryDelay(attempt: number, retryAfterS?: number | null, rand: () => number = Math.random): number {
  if (retryAfterS != null && retryAfterS >= 0) return Math.min(retryAfterS, 600) * 1000
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1))
  return Math.round(base * (1 + rand() / 4))
}
