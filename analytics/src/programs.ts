import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { programReferenceIssues } from './program-references.ts'
import { countryCode, programSectionsShape } from './program-sections.ts'

/** Channels a touch point can come from. */
export const CHANNELS = ['web', 'email', 'sms', 'call', 'print', 'app', 'server'] as const
/** A channel name. */
export type Channel = (typeof CHANNELS)[number]

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

// A key is given literally or as `env:NAME`, read from the environment at start-up.
const keyValue = (prefix: 'pk_' | 'sk_') =>
  z
    .string()
    .max(200)
    .refine((k) => k.startsWith(prefix) || /^env:[A-Z_][A-Z0-9_]*$/.test(k), `must start with ${prefix} or be env:VARIABLE`)

/** Shortest link secret accepted: 256 bits of HMAC-SHA256 key as printable text. */
export const MIN_LINK_SECRET_CHARS = 32

// Like a key, a link secret is given literally or as `env:NAME`; its value never enters a message.
const linkSecretValue = z
  .string()
  .max(500)
  .refine((s) => (s.startsWith('env:') ? /^env:[A-Z_][A-Z0-9_]*$/.test(s) : s.length >= MIN_LINK_SECRET_CHARS), `must be at least ${MIN_LINK_SECRET_CHARS} characters or env:VARIABLE`)

/**
 * A program document: identity, market, time zone, keys and the link secret; then needs, content,
 * goals, levels, questionnaires and patterns, whose cross-references are checked as a whole.
 */
export const programSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be lower-case letters, digits and dashes'),
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
            /** The channel of events sent with this key when the event names none (a call centre, a print house). */
            channel: z.enum(CHANNELS).default('server'),
          }),
        )
        .min(1),
    }),
    /** Signs and verifies the click tokens (`atn`) in the program's e-mail and SMS links. */
    linkSecret: linkSecretValue.optional(),
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
  key: string
  origins: string[]
  channel: Channel
  /** The program's link secret, so the pipeline (and its worker threads) can verify click tokens with the key alone. */
  linkSecret?: string
  /** The program's content catalogue as the needs step reads it (shared by the program's keys). */
  catalogue?: Catalogue
}

/** Per content id its need weights, and the URL patterns that show content: what a touch means for needs. */
export interface Catalogue {
  needs: Record<string, Record<string, number>>
  pages: Array<{ content: string; pattern: string }>
  /** Per goal the events that reach it: name and property values that must match. */
  goals: Array<{ id: string; events: Array<{ event: string; where?: Record<string, string | number | boolean> }> }>
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
  return { needs, pages, goals }
}

/** A program with its keys resolved from the file or the environment. */
export interface LoadedProgram {
  program: Program
  keys: ProgramKey[]
  /** The link secret resolved from the file or the environment, if the program has one. */
  linkSecret?: string
  /** The program's file in the programs folder. */
  file: string
  /** The document as written (before defaults; `env:NAME` references unresolved): what is stored as a version. */
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

/**
 * Validates one program document (schema and cross-references) and resolves its keys and link
 * secret, `env:NAME` from `env`. `keyOwner` names the program that already uses a key value, if
 * any: a key can belong to one program only. Throws {@link ProgramDocumentError}.
 */
export function resolveProgram(raw: unknown, env: NodeJS.ProcessEnv, file: string, keyOwner: (key: string) => string | undefined = () => undefined): LoadedProgram {
  const parsed = programSchema.safeParse(raw)
  if (!parsed.success) throw new ProgramDocumentError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })))
  const program = parsed.data
  const resolve = (value: string, where: string, prefix: string): string => {
    if (!value.startsWith('env:')) return value
    const v = env[value.slice(4)]
    if (!v) throw fault(where, `names ${value.slice(4)}, which is not set`)
    if (!v.startsWith(prefix) || v.length < 12) throw fault(where, `${value.slice(4)} must start with ${prefix} and be at least 12 characters`)
    return v
  }
  let linkSecret: string | undefined
  if (program.linkSecret?.startsWith('env:')) {
    const name = program.linkSecret.slice(4)
    linkSecret = env[name]
    if (!linkSecret) throw fault('linkSecret', `names ${name}, which is not set`)
    if (linkSecret.length < MIN_LINK_SECRET_CHARS) throw fault('linkSecret', `${name} must be at least ${MIN_LINK_SECRET_CHARS} characters`)
  } else linkSecret = program.linkSecret
  const secretOf = { ...(linkSecret ? { linkSecret } : {}), ...(program.content?.length || program.goals?.length ? { catalogue: catalogueOf(program) } : {}) }
  const keys: ProgramKey[] = [
    ...program.keys.write.map((k, i) => ({
      program: program.id, kind: 'write' as const, id: k.id, key: resolve(k.key, `keys.write.${i}.key`, 'pk_'), origins: k.origins, channel: 'web' as const, ...secretOf,
    })),
    ...program.keys.secret.map((k, i) => ({
      program: program.id, kind: 'secret' as const, id: k.id, key: resolve(k.key, `keys.secret.${i}.key`, 'sk_'), origins: [], channel: k.channel, ...secretOf,
    })),
  ]
  const seen = new Set<string>()
  for (const [i, k] of keys.entries()) {
    const path = i < program.keys.write.length ? `keys.write.${i}.key` : `keys.secret.${i - program.keys.write.length}.key`
    if (seen.has(k.key)) throw fault(path, `key ${k.id} is used twice`)
    seen.add(k.key)
    const owner = keyOwner(k.key)
    // The other program is not named: the answer may go to another program's administrator.
    if (owner !== undefined && owner !== program.id) throw fault(path, `key ${k.id} is used by another program`)
  }
  return { program, keys, ...(linkSecret ? { linkSecret } : {}), file, document: raw }
}

/**
 * Reads and validates every `*.json` program in a folder; keys and link secrets written as
 * `env:NAME` come from `env`. Any invalid document, missing or short variable or reused key stops
 * start-up with its path (never with a secret's value).
 */
export function loadPrograms(dir: string, env: NodeJS.ProcessEnv): LoadedProgram[] {
  const out: LoadedProgram[] = []
  const owners = new Map<string, string>()
  const seenIds = new Set<string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const path = join(dir, file)
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (e) {
      throw new Error(`program ${path}: invalid JSON (${(e as Error).message})`)
    }
    let loaded: LoadedProgram
    try {
      loaded = resolveProgram(raw, env, path, (key) => owners.get(key))
    } catch (e) {
      throw e instanceof ProgramDocumentError ? new Error(`program ${path}: ${e.message}`) : e
    }
    const id = loaded.program.id
    if (seenIds.has(id)) throw new Error(`program ${path}: id ${id} is used by another program`)
    seenIds.add(id)
    for (const k of loaded.keys) owners.set(k.key, id)
    out.push(loaded)
  }
  if (out.length === 0) throw new Error(`no program documents (*.json) in ${dir}`)
  return out
}
