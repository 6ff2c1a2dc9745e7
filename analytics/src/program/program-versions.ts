import { createHash } from 'node:crypto'
import type { Db } from '../storage/client.ts'
import { chTime } from '../storage/event-row.ts'
import { sql } from '../storage/sql.ts'
import { redactDocument } from './program-keys.ts'
import { TABLES } from '../storage/tables.ts'

/** Where a stored program version came from: the program's file at start-up, or the admin API. */
export type ProgramVersionSource = 'file' | 'api'

/** One stored version of a program document, without the document. */
export interface ProgramVersion {
  version: number
  /** SHA-256 (hex) of the document's canonical JSON: see {@link canonicalJson}. */
  checksum: string
  source: ProgramVersionSource
  /** When it was stored, ISO 8601 UTC. */
  receivedAt: string
  /** The id of the secret key that sent it (API versions); empty for file versions. */
  keyId: string
}

/** A version to store: the document as canonical JSON text (`env:NAME` references unresolved). */
export interface NewProgramVersion {
  program: string
  version: number
  document: string
  checksum: string
  source: ProgramVersionSource
  receivedAt: number
  keyId: string
}

/**
 * JSON with object keys sorted and no whitespace, so the same document sent with another key
 * order or layout has the same text and checksum.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** SHA-256 (hex) of canonical JSON text. */
export function documentChecksum(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex')
}

/** Every stored version of a program, newest first. */
export async function programVersions(db: Db, program: string): Promise<ProgramVersion[]> {
  const rows = await db.query<{ version: number | string; checksum: string; source: string; received_at: string; key_id: string }>(sql('program-versions'), {
    program,
  })
  return rows.map((r) => ({
    version: Number(r.version),
    checksum: r.checksum,
    source: r.source === 'api' ? 'api' : 'file',
    receivedAt: `${r.received_at.replace(' ', 'T')}Z`,
    keyId: r.key_id,
  }))
}

/** The stored document (parsed) of one version, or undefined if there is no such version. */
export async function programVersionDocument(db: Db, program: string, version: number): Promise<unknown> {
  const rows = await db.query<{ document: string }>(sql('program-version-document'), { program, version })
  return rows[0] ? (JSON.parse(rows[0].document) as unknown) : undefined
}

/** Stores one version (a version stored again with the same number replaces the earlier row). */
export async function storeProgramVersion(db: Db, v: NewProgramVersion): Promise<void> {
  await db.insertRows(TABLES.programVersions, [
    {
      program: v.program,
      version: v.version,
      document: v.document,
      checksum: v.checksum,
      source: v.source,
      received_at: chTime(v.receivedAt),
      key_id: v.keyId,
    },
  ])
}

/**
 * Rewrites every stored version whose document holds a key or secret in clear (versions stored
 * before documents were kept redacted) with those values replaced by their hashes, and merges
 * the table so the earlier rows are gone from disk. Returns how many versions were rewritten.
 */
export async function redactStoredVersions(db: Db): Promise<number> {
  const rows = await db.query<{ program: string; version: number | string; document: string; source: string; received_at: string; key_id: string }>(
    sql('program-version-documents'),
  )
  let rewritten = 0
  for (const r of rows) {
    const doc = JSON.parse(r.document) as unknown
    const redacted = redactDocument(doc)
    if (redacted === doc) continue
    const document = canonicalJson(redacted)
    await storeProgramVersion(db, {
      program: r.program,
      version: Number(r.version),
      document,
      checksum: documentChecksum(document),
      source: r.source === 'api' ? 'api' : 'file',
      receivedAt: Date.parse(`${r.received_at.replace(' ', 'T')}Z`),
      keyId: r.key_id,
    })
    rewritten++
  }
  if (rewritten > 0) await db.command(`OPTIMIZE TABLE ${TABLES.programVersions} FINAL`)
  return rewritten
}
