import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { programReferenceIssues } from './program-references.ts'
import { countryCode, programSectionsShape } from './program-sections.ts'
import {
  DEFAULT_SECRET_SCOPES,
  KEY_SCOPES,
  keyValue,
  MIN_SECRET_CHARS,
  redactDocument,
  secretFields,
  secretForm,
  secretHash,
  secretValue,
  WRITE_KEY_SCOPES,
  type KeyScope,
  type SecretForm,
} from './program-keys.ts'

export { CHANNELS, type Channel } from './channels.ts'
import { CHANNELS, type Channel } from './channels.ts'

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

// An origin pattern: scheme://host[:port], with `*.` as the leftmost host label and `*` as the port allowed.
const originPattern = z
  .string()
  .max(200)
  .regex(/^https?:\/\/(\*\.)?(\[[0-9a-f:]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?$/i, 'must be scheme://host[:port], e.g. https://*.example.com or http://localhost:*')

/**
 * A program document: identity, market, time zone, keys and secrets; then needs, content,
 * goals, levels, questionnaires and patterns, whose cross-references are checked as a whole.
 */
export const programSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be lower-case letters, digits and dashes'),
    /** A demonstration program: its keys and secrets may be written in the document (they are public). */
    demo: z.boolean().default(false),
    name: z.string().min(1).max(200),
    market: countryCode,
    timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone'),
    keys: z.object({
      write: z
        .array(
          z.object({
            id: z.string().regex(/^[a-z0-9-]{1,40}$/),
            key: keyValue('pk_'),
            origins: z.array(originPattern).min(1).max(100),
          }),
        )
        .min(1),
      secret: z
        .array(
          z.object({
            id: z.string().regex(/^[a-z0-9-]{1,40}$/),
            key: keyValue('sk_'),
            /** The channel of this key's events: a channel key (call, print, sms, email) sends on its channel only; `server` on any. */
            channel: z.enum(CHANNELS).default('server'),
            /** What the key may do; least privilege by default. */
            scopes: z
              .array(z.enum(KEY_SCOPES))
              .min(1)
              .max(KEY_SCOPES.length)
              .default([...DEFAULT_SECRET_SCOPES]),
          }),
        )
        .min(1),
    }),
    /** Signs and verifies the click tokens (`atn`) in the program's e-mail and SMS links. */
    linkSecret: secretValue.optional(),
    /** Verifies the identity tokens a site's backend signs when a patient logs in (the only way a browser becomes a patient besides a click token). */
    identitySecret: secretValue.optional(),
    ...programSectionsShape,
  })
  .superRefine((program, ctx) => {
    for (const issue of programReferenceIssues(program)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
  })

/** A validated program document. */
export type Program = z.infer<typeof programSchema>

/** A key resolved to its program: what the collector authenticates against. */
export interface ProgramKey {
  program: string
  kind: 'write' | 'secret'
  id: string
  /** SHA-256 (hex) of the key: how a request's key is recognised. */
  hash: string
  /** The key itself, when this process has it (from the environment, or a demo document); a key given as its hash has none. */
  value?: string
  /** How the document gives the key. */
  form: SecretForm
  origins: string[]
  channel: Channel
  /** What the key may do (write keys: ingest and decide, always). */
  scopes: readonly KeyScope[]
  /** The program's link secret, so the pipeline (and its worker threads) can verify click tokens with the key alone. */
  linkSecret?: string
  /** The program's identity secret, so the pipeline can verify identity tokens with the key alone. */
  identitySecret?: string
  /** The program's content catalogue as the needs step reads it (shared by the program's keys). */
  catalogue?: Catalogue
}

/**
 * A key made from its value in code (tests, the synthetic population): its hash worked out, the
 * write-key scopes for a write key and least privilege for a secret one unless others are given.
 */
export function programKey(k: Omit<ProgramKey, 'hash' | 'value' | 'form' | 'scopes'> & { key: string; scopes?: readonly KeyScope[] }): ProgramKey {
  const { key, scopes, ...rest } = k
  return { ...rest, hash: secretHash(key), value: key, form: 'literal', scopes: scopes ?? (k.kind === 'write' ? WRITE_KEY_SCOPES : DEFAULT_SECRET_SCOPES) }
}

/** Per content id its need weights, and the URL patterns that show content: what a touch means for needs. */
export interface Catalogue {
  needs: Record<string, Record<string, number>>
  pages: Array<{ content: string; pattern: string }>
  /** Per goal the events that reach it: name and property values that must match. */
  goals: Array<{ id: string; events: Array<{ event: string; where?: Record<string, string | number | boolean> }> }>
  /** Per questionnaire the level that opens it: a browser's answers to one above level 0 need a ticket. */
  questionnaires?: Record<string, number>
  /** The program's own personal-data keys (normalised: lower case, without spaces, dots, dashes and underscores), removed besides Attune's list. */
  personalDataKeys?: string[]
}

/** The catalogue of a program, compact enough to travel to ingestion workers with its keys. */
export function catalogueOf(program: Program): Catalogue {
  const needs: Catalogue['needs'] = {}
  const pages: Catalogue['pages'] = []
  for (const c of program.content ?? []) {
    needs[c.id] = c.needs
    for (const pattern of c.urlPatterns ?? []) pages.push({ content: c.id, pattern })
  }
  const goals = (program.goals ?? []).map((g) => ({ id: g.id, events: g.events }))
  const questionnaires = Object.fromEntries((program.questionnaires ?? []).map((q) => [q.id, q.availableAtLevel]))
  const personalDataKeys = (program.privacy?.personalDataKeys ?? []).map((k) => k.toLowerCase().replace(/[ _.-]/g, ''))
  return { needs, pages, goals, questionnaires, ...(personalDataKeys.length ? { personalDataKeys } : {}) }
}

/** A program with its keys resolved from the file or the environment. */
export interface LoadedProgram {
  program: Program
  keys: ProgramKey[]
  /** The link secret resolved from the document or the environment, if the program has one. */
  linkSecret?: string
  /** The identity secret resolved from the document or the environment, if the program has one. */
  identitySecret?: string
  /** The program's file in the programs folder. */
  file: string
  /**
   * The document as written (before defaults; `env:NAME` references unresolved) with every key
   * and secret in clear replaced by its `sha256:` hash: what is stored as a version and answered.
   */
  document: unknown
}

/** One fault in a program document: its dot path (`keys.write.0.key`) and what is wrong; never a secret's value. */
export interface ProgramIssue {
  path: string
  message: string
}

/** A program document that cannot be used, with each fault found. */
export class ProgramDocumentError extends Error {
  override readonly name = 'ProgramDocumentError'
  readonly issues: ProgramIssue[]

  constructor(issues: ProgramIssue[]) {
    super(issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; '))
    this.issues = issues
  }
}

const fault = (path: string, message: string) => new ProgramDocumentError([{ path, message }])

/** What resolving a document may look up: who owns a key already, and secrets this service holds. */
export interface ResolveOptions {
  /** The program that already uses the key with this hash, if any: a key belongs to one program only. */
  keyOwner?: (hash: string) => string | undefined
  /**
   * The value this program already holds under `name` (a key: any of its keys; a secret: that
   * secret), if it has this hash: how `sha256:HEX` in a document read back from storage or the API
   * resolves. Never another program's value, nor a key's for a secret.
   */
  knownValue?: (hash: string, name: 'key' | 'linkSecret' | 'identitySecret') => string | undefined
  /** Keys may be written in clear outside a demo (a document sent through the admin API: stored as their hashes). Secrets never. */
  literalKeys?: boolean
}

/** Shortest key accepted outside a demo: a key is stored as its unsalted hash, so it must be too long to guess from it. */
export const MIN_KEY_CHARS = 24

/**
 * Validates one program document (schema and cross-references) and resolves its keys and
 * secrets: `env:NAME` from `env`, literals (demo programs only) as written, a key's `sha256:HEX`
 * as the hash it is (with its value when `knownValue` has it), a secret's through `knownValue`. Throws {@link ProgramDocumentError}, whose
 * messages never hold a key's or secret's value.
 */
export function resolveProgram(raw: unknown, env: NodeJS.ProcessEnv, file: string, opts: ResolveOptions = {}): LoadedProgram {
  const parsed = programSchema.safeParse(raw)
  if (!parsed.success) throw new ProgramDocumentError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })))
  const program = parsed.data
  // Keys and secrets in clear belong in demo documents (whose keys are public anyway), and keys
  // in a document sent through the admin API, which stores them as their hashes.
  if (!program.demo) {
    const clear = secretFields(program).filter((f) => secretForm(f.value) === 'literal' && !(f.kind === 'key' && opts.literalKeys))
    if (clear.length)
      throw new ProgramDocumentError(
        clear.map((f) => ({
          path: f.path.join('.'),
          message: `a ${f.kind} in clear is allowed only in a demo program ("demo": true); write env:VARIABLE${f.kind === 'key' ? ' or sha256:HASH' : ''}`,
        })),
      )
  }
  const minKey = program.demo ? 12 : MIN_KEY_CHARS
  const fromEnv = (written: string, where: string): string => {
    const v = env[written.slice(4)]
    if (!v) throw fault(where, `names ${written.slice(4)}, which is not set`)
    return v
  }
  const key = (written: string, where: string, prefix: string): Pick<ProgramKey, 'hash' | 'value' | 'form'> => {
    const form = secretForm(written)
    if (form === 'hash') {
      const known = opts.knownValue?.(written.slice(7), 'key')
      return { hash: written.slice(7), ...(known ? { value: known } : {}), form }
    }
    const value = form === 'env' ? fromEnv(written, where) : written
    const what = form === 'env' ? written.slice(4) : 'the key'
    if (!value.startsWith(prefix) || value.length < minKey) throw fault(where, `${what} must start with ${prefix} and be at least ${minKey} characters`)
    return { hash: secretHash(value), value, form }
  }
  const secret = (name: 'linkSecret' | 'identitySecret'): string | undefined => {
    const written = program[name]
    if (written === undefined) return undefined
    const form = secretForm(written)
    if (form === 'literal') return written
    if (form === 'hash') {
      const known = opts.knownValue?.(written.slice(7), name)
      if (!known) throw fault(name, `names by its hash a ${name} this program does not hold; write env:VARIABLE`)
      return known
    }
    const value = fromEnv(written, name)
    if (value.length < MIN_SECRET_CHARS) throw fault(name, `${written.slice(4)} must be at least ${MIN_SECRET_CHARS} characters`)
    return value
  }
  const linkSecret = secret('linkSecret')
  const identitySecret = secret('identitySecret')
  const shared = {
    ...(linkSecret ? { linkSecret } : {}),
    ...(identitySecret ? { identitySecret } : {}),
    ...(program.content?.length || program.goals?.length || program.questionnaires?.length || program.privacy?.personalDataKeys.length
      ? { catalogue: catalogueOf(program) }
      : {}),
  }
  const keys: ProgramKey[] = [
    ...program.keys.write.map((k, i) => ({
      program: program.id,
      kind: 'write' as const,
      id: k.id,
      ...key(k.key, `keys.write.${i}.key`, 'pk_'),
      origins: k.origins,
      channel: 'web' as const,
      scopes: WRITE_KEY_SCOPES,
      ...shared,
    })),
    ...program.keys.secret.map((k, i) => ({
      program: program.id,
      kind: 'secret' as const,
      id: k.id,
      ...key(k.key, `keys.secret.${i}.key`, 'sk_'),
      origins: [],
      channel: k.channel,
      scopes: k.scopes,
      ...shared,
    })),
  ]
  const seen = new Set<string>()
  for (const [i, k] of keys.entries()) {
    const path = i < program.keys.write.length ? `keys.write.${i}.key` : `keys.secret.${i - program.keys.write.length}.key`
    if (seen.has(k.hash)) throw fault(path, `key ${k.id} is used twice`)
    seen.add(k.hash)
    const owner = opts.keyOwner?.(k.hash)
    // The other program is not named: the answer may go to another program's administrator.
    if (owner !== undefined && owner !== program.id) throw fault(path, `key ${k.id} is used by another program`)
  }
  return { program, keys, ...(linkSecret ? { linkSecret } : {}), ...(identitySecret ? { identitySecret } : {}), file, document: redactDocument(raw) }
}

/**
 * Reads and validates every `*.json` program in a folder; keys and secrets written as
 * `env:NAME` come from `env`. Any invalid document, missing or short variable or reused key stops
 * start-up with its path (never with a secret's value).
 */
export function loadPrograms(dir: string, env: NodeJS.ProcessEnv): LoadedProgram[] {
  const out: LoadedProgram[] = []
  const owners = new Map<string, string>()
  const seenIds = new Set<string>()
  // `*.schema.json` is the program document's JSON Schema (for editors), not a program.
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
    .sort()) {
    const path = join(dir, file)
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (e) {
      throw new Error(`program ${path}: invalid JSON (${(e as Error).message})`)
    }
    let loaded: LoadedProgram
    try {
      loaded = resolveProgram(raw, env, path, { keyOwner: (hash) => owners.get(hash) })
    } catch (e) {
      throw e instanceof ProgramDocumentError ? new Error(`program ${path}: ${e.message}`) : e
    }
    const id = loaded.program.id
    if (seenIds.has(id)) throw new Error(`program ${path}: id ${id} is used by another program`)
    seenIds.add(id)
    for (const k of loaded.keys) owners.set(k.hash, id)
    out.push(loaded)
  }
  if (out.length === 0) throw new Error(`no program documents (*.json) in ${dir}`)
  return out
}
