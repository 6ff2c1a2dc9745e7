import type { z } from 'zod'
import { ApiError } from './errors.ts'

/** A request body's JSON; 400 `invalid_json` saying what was expected otherwise. */
export function parseJsonBody(text: string, expected: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError(400, 'invalid_json', `the body is not JSON: send ${expected}`)
  }
}

/** A body checked against its schema; 400 `invalid_body` naming the first field at fault (an unknown field by its name). */
export function validBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')
  const field = issue.code === 'unrecognized_keys' ? [path, issue.keys[0]!].filter(Boolean).join('.') : path
  throw new ApiError(400, 'invalid_body', `${field || '(body)'}: ${issue.message}`, field ? { field } : {})
}
