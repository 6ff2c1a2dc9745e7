import type { Context } from 'hono'
import type { z } from 'zod'
import { decodeBytes } from './pipeline/decode-body.ts'
import { ApiError } from './errors.ts'
import { formatPath, pathBeyondDepth } from './json-depth.ts'

/** Deepest nesting a JSON body may have (a program document's rule conditions nest the most). */
export const MAX_BODY_DEPTH = 64

/**
 * A request body's JSON; 400 `invalid_json` saying what was expected otherwise, 400
 * `invalid_body` naming the field nested deeper than {@link MAX_BODY_DEPTH} levels (recursive
 * validation would overflow the stack on it).
 */
export function parseJsonBody(text: string, expected: string): unknown {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ApiError(400, 'invalid_json', `the body is not JSON: send ${expected}`)
  }
  const deep = pathBeyondDepth(json, MAX_BODY_DEPTH)
  if (deep) {
    const field = formatPath('', deep)
    throw new ApiError(400, 'invalid_body', `${field}: is nested more than ${MAX_BODY_DEPTH} levels deep`, { field })
  }
  return json
}

/** A body checked against its schema; 400 `invalid_body` naming the first field at fault (an unknown field by its name). */
export function validBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '')
  const field = issue.code === 'unrecognized_keys' ? [path, issue.keys[0]!].filter(Boolean).join('.') : path
  throw new ApiError(400, 'invalid_body', `${field || '(body)'}: ${issue.message}`, field ? { field } : {})
}

/**
 * A request's body as text, decompressed by its `Content-Encoding` (gzip, deflate, br; else 415)
 * within `max` bytes after decompression (else 413). Routes also mount a streaming body limit,
 * so nothing larger than `max` is read off the socket either.
 */
export async function bodyText(c: Context, max: number): Promise<string> {
  const raw = new Uint8Array(await c.req.arrayBuffer())
  return decodeBytes(raw, c.req.header('content-encoding') ?? '', max).toString('utf8')
}
