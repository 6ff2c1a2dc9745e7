import type { z } from 'zod'
import { messageSchema, type Message } from '../schemas/segment.schema.ts'
import type { Drop } from './types.ts'

/** Largest event accepted, in bytes of JSON (Segment's limit). */
export const MAX_EVENT_BYTES = 32 * 1024

/** A zod error path as the sender wrote it: `batch[3].context.page.url`. */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p)
  return out || '(body)'
}

/** The first issue of a zod error as field and message. */
export function firstIssue(prefix: string, error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!
  return { field: fieldPath(prefix, issue.path), message: issue.message }
}

/**
 * Whether `value` as JSON certainly takes at most `limit` bytes, from a bound that costs a walk
 * instead of a JSON.stringify (each UTF-16 unit of a string is at most 6 bytes: `\\uXXXX`).
 * False means "maybe more": measure exactly.
 */
export function jsonBytesAtMost(value: unknown, limit: number): boolean {
  return limit - jsonBytesBound(value, limit, 0) >= 0
}

/** Bytes `value` can take as JSON at most; stops counting once past `budget` (or too deep to bother). */
function jsonBytesBound(v: unknown, budget: number, depth: number): number {
  if (typeof v === 'string') return 2 + 6 * v.length
  if (v === null || typeof v !== 'object') return 24
  if (depth > 64) return Infinity
  let n = 2
  if (Array.isArray(v)) {
    n += v.length
    for (let i = 0; i < v.length && n <= budget; i++) n += jsonBytesBound(v[i], budget - n, depth + 1)
  } else {
    for (const k in v) {
      n += 4 + 6 * k.length + jsonBytesBound((v as Record<string, unknown>)[k], budget - n, depth + 1)
      if (n > budget) break
    }
  }
  return n
}

/**
 * Step 1: the event is a well-formed Segment message of at most 32 KB. `impliedType` is the
 * type of a single-event endpoint (`/v1/track` makes `type` optional).
 */
export function validateEvent(raw: unknown, prefix: string, impliedType?: string, bodyBytes = Infinity): Message | Drop {
  const bytes = bodyBytes <= MAX_EVENT_BYTES || jsonBytesAtMost(raw, MAX_EVENT_BYTES) ? 0 : Buffer.byteLength(JSON.stringify(raw) ?? '')
  if (bytes > MAX_EVENT_BYTES) {
    return { drop: 'event_too_large', step: 'validate', field: prefix || '(body)', message: `event is ${bytes} bytes; at most ${MAX_EVENT_BYTES} are accepted` }
  }
  let candidate = raw
  if (impliedType && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const type = (raw as { type?: unknown }).type
    if (type !== undefined && type !== impliedType) {
      return { drop: 'invalid_schema', step: 'validate', field: fieldPath(prefix, ['type']), message: `must be "${impliedType}" on this endpoint` }
    }
    candidate = { ...(raw as object), type: impliedType }
  }
  const parsed = messageSchema.safeParse(candidate)
  if (!parsed.success) return { drop: 'invalid_schema', step: 'validate', ...firstIssue(prefix, parsed.error) }
  return parsed.data
}
