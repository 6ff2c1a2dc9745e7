import type { z } from 'zod'
import { MAX_EVENT_DEPTH, messageSchema, type Message } from '../schemas/segment.schema.ts'
import { formatPath, pathBeyondDepth } from '../json-depth.ts'
import type { Drop } from './types.ts'

/** Largest event accepted, in bytes of JSON (Segment's limit). */
export const MAX_EVENT_BYTES = 32 * 1024

// Fields that hold an object: PHP's json_encode writes an empty one as `[]` (analytics-php sends `"integrations": []`).
const OBJECT_FIELDS = new Set(['context', 'integrations', 'properties', 'traits'])

/**
 * The message with every top-level `null` taken out, and `[]` in an object field read as `{}`:
 * Segment's libraries send `null` for fields they have no value for (analytics-python:
 * `"anonymousId": null` beside every `userId`), which the spec treats as absent; a required field
 * sent as null is then reported as missing.
 */
export function withoutNulls<T>(raw: T): T {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw
  let out: Record<string, unknown> | undefined
  for (const k in raw) {
    const v = (raw as Record<string, unknown>)[k]
    const emptyList = Array.isArray(v) && v.length === 0 && OBJECT_FIELDS.has(k)
    if (v !== null && !emptyList) continue
    out ??= { ...(raw as Record<string, unknown>) }
    if (emptyList) out[k] = {}
    else delete out[k]
  }
  return (out ?? raw) as T
}

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
  // First: measuring the size stringifies the event, which overflows the stack on deep nesting.
  const deep = pathBeyondDepth(raw, MAX_EVENT_DEPTH)
  if (deep)
    return {
      drop: 'too_deep',
      step: 'validate',
      field: formatPath(prefix, deep),
      message: `is nested more than ${MAX_EVENT_DEPTH} levels deep; flatten the event`,
    }
  raw = withoutNulls(raw)
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
