import { createHash } from 'node:crypto'
import { z } from 'zod'

// A program's keys and secrets as its document writes them, and what the service holds of them.
// In a document a key is `env:NAME` (read from the environment at start), `sha256:HEX` (only its
// hash: the service recognises the key without holding it) or, in a demo program only, the key
// itself. A secret (linkSecret, identitySecret) is `env:NAME` or, in a demo program, the value;
// `sha256:HEX` names a secret this service already holds (a document read back from the admin API).
// Stored versions and admin answers carry hashes where a document had values: no key or
// secret is stored or answered in clear.

/** What a key may do. Write keys always `ingest` (browser channels) and `decide` (the web, their own browser). */
export const KEY_SCOPES = ['ingest', 'import', 'decide', 'profiles', 'admin'] as const
/** A key scope. */
export type KeyScope = (typeof KEY_SCOPES)[number]
/** The scopes of every write key. */
export const WRITE_KEY_SCOPES: readonly KeyScope[] = ['ingest', 'decide']
/** The scopes of a secret key whose document names none: least privilege, ingestion on its channel. */
export const DEFAULT_SECRET_SCOPES: readonly KeyScope[] = ['ingest']

/** Shortest secret accepted: 256 bits of HMAC-SHA256 key as printable text. */
export const MIN_SECRET_CHARS = 32

const ENV_REF = /^env:[A-Z_][A-Z0-9_]*$/
const HASH_REF = /^sha256:[0-9a-f]{64}$/

/** SHA-256 (hex) of a key or secret: how keys are recognised and how stored documents name them. */
export function secretHash(value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** How a document gives a key or secret. */
export type SecretForm = 'env' | 'hash' | 'literal'

/** How a document's key or secret value is written. */
export function secretForm(written: string): SecretForm {
  return ENV_REF.test(written) ? 'env' : HASH_REF.test(written) ? 'hash' : 'literal'
}

/** A key in a document: `env:NAME`, `sha256:HEX`, or (demo programs) a literal with its prefix. */
export const keyValue = (prefix: 'pk_' | 'sk_') =>
  z
    .string()
    .max(200)
    .refine(
      (k) => secretForm(k) !== 'literal' || (k.startsWith(prefix) && k.length >= 12),
      `must be env:VARIABLE, sha256:HASH (of the key), or in a demo program a ${prefix}… key of at least 12 characters`,
    )

/** A secret in a document: `env:NAME`, `sha256:HEX`, or (demo programs) a value of at least 32 characters. */
export const secretValue = z
  .string()
  .max(500)
  .refine(
    (s) => secretForm(s) !== 'literal' || (!s.startsWith('env:') && !s.startsWith('sha256:') && s.length >= MIN_SECRET_CHARS),
    `must be env:VARIABLE, sha256:HASH, or in a demo program a value of at least ${MIN_SECRET_CHARS} characters`,
  )

/** Where a document holds keys and secrets: the paths the literal check and the redaction visit. */
interface SecretsOf {
  keys?: { write?: Array<{ key?: unknown }>; secret?: Array<{ key?: unknown }> }
  linkSecret?: unknown
  identitySecret?: unknown
}

/** Every key and secret written in a document, with its path. */
export function secretFields(doc: SecretsOf): Array<{ path: Array<string | number>; value: string; kind: 'key' | 'secret' }> {
  const out: Array<{ path: Array<string | number>; value: string; kind: 'key' | 'secret' }> = []
  for (const kind of ['write', 'secret'] as const) {
    const list = doc.keys?.[kind]
    if (Array.isArray(list)) list.forEach((k, i) => typeof k?.key === 'string' && out.push({ path: ['keys', kind, i, 'key'], value: k.key, kind: 'key' }))
  }
  for (const name of ['linkSecret', 'identitySecret'] as const)
    if (typeof doc[name] === 'string') out.push({ path: [name], value: doc[name] as string, kind: 'secret' })
  return out
}

/**
 * The document with every literal key and secret replaced by `sha256:HEX`: what is stored as a
 * version and what the admin API answers. `env:NAME` references stay as written.
 */
export function redactDocument<T>(doc: T): T {
  if (!doc || typeof doc !== 'object') return doc
  const fields = secretFields(doc as SecretsOf).filter((f) => secretForm(f.value) === 'literal')
  if (fields.length === 0) return doc
  const out = structuredClone(doc) as Record<string | number, unknown>
  for (const f of fields) {
    let at = out
    for (const p of f.path.slice(0, -1)) at = at[p] as Record<string | number, unknown>
    at[f.path.at(-1)!] = `sha256:${secretHash(f.value)}`
  }
  return out as T
}
