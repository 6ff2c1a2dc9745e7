import type { KeyScope, ProgramKey } from '../../analytics/index.ts'
import { ApiError } from './errors.ts'
import type { KeyIndex } from './keys.ts'

/**
 * The key a request names, checked as every endpoint checks it: none → 401 `missing_key`,
 * unknown → 401 `unknown_key`, a write key from an origin it does not allow → 403.
 */
export function authenticateKey(
  keys: KeyIndex,
  value: string | undefined,
  origin: string | undefined,
  missing = { field: 'writeKey', message: 'a key (HTTP Basic user name, or writeKey for a write key) is required' },
): ProgramKey {
  const { field } = missing
  if (!value) throw new ApiError(401, 'missing_key', missing.message, { field })
  const key = keys.find(value)
  if (!key) throw new ApiError(401, 'unknown_key', 'the key is not known', { field })
  if (key.kind === 'write' && origin && !keys.originAllowed(value, origin)) {
    throw new ApiError(403, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not allowed for this write key`, { field: 'origin' })
  }
  return key
}

/** The user name of an HTTP Basic `Authorization` header (where Segment's libraries put the key). */
export function basicUser(authorization: string | undefined): string | undefined {
  if (!authorization?.toLowerCase().startsWith('basic ')) return undefined
  return Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8').split(':')[0] || undefined
}

/** 403 `scope_required` naming the scope, unless the key has it. */
export function requireScope(key: ProgramKey, scope: KeyScope): void {
  if (!key.scopes.includes(scope))
    throw new ApiError(403, 'scope_required', `key ${key.id} does not have the ${scope} scope`, { field: 'authorization', extra: { scope } })
}

/**
 * A secret key of `program` with `scope`, given only as HTTP Basic user (a secret key in a URL
 * ends up in proxy logs): what profiles, clusters and program administration take. A write key →
 * 403 `secret_key_required`; a key without the scope → 403 `scope_required`; another program's
 * key → 403 `wrong_program` naming `programField`.
 */
export function programSecretKey(
  keys: KeyIndex,
  authorization: string | undefined,
  program: string | undefined,
  programField: string,
  scope: KeyScope,
): ProgramKey {
  const key = authenticateKey(keys, basicUser(authorization), undefined, {
    field: 'authorization',
    message: 'a secret key of the program (HTTP Basic user name) is required',
  })
  if (key.kind !== 'secret') throw new ApiError(403, 'secret_key_required', 'this endpoint takes a secret key of the program', { field: 'authorization' })
  requireScope(key, scope)
  if (program !== undefined && program !== key.program)
    throw new ApiError(403, 'wrong_program', `the key belongs to program ${key.program}`, { field: programField })
  return key
}
