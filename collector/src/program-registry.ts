import { secretHash, type LoadedProgram, type ProgramKey, type ProgramVersionSource } from '../../analytics/index.ts'
import type { KeyIndex } from './keys.ts'

/** A key (any of the program's) or a named secret of a loaded program, when it has this hash: what a document naming it by hash resolves to. */
export function knownSecretValue(p: LoadedProgram, hash: string, name: 'key' | 'linkSecret' | 'identitySecret'): string | undefined {
  if (name !== 'key') return p[name] && secretHash(p[name]!) === hash ? p[name] : undefined
  return p.keys.find((k) => k.hash === hash)?.value
}

/** A program document in use: the loaded program and the stored version it is. */
export interface ActiveProgram {
  loaded: LoadedProgram
  /** The stored version, or null while the stored versions are not loaded (ClickHouse not reachable yet at start). */
  version: number | null
  /** SHA-256 of the document's canonical JSON. */
  checksum: string
  source: ProgramVersionSource
}

/**
 * The active program documents of the running service, and everything built from them: the key
 * index the routes read, the keys the ingestion workers hold (through the listeners) and the demo
 * site's write key. Activating a version changes them all before it returns.
 */
export class ProgramRegistry {
  readonly #active = new Map<string, ActiveProgram>()
  readonly #keys: KeyIndex
  readonly #log: (msg: string) => void
  readonly #listeners: Array<(keys: ProgramKey[]) => void> = []
  #programs: LoadedProgram[] = []

  /** Starts with the documents from the program files (not yet matched with stored versions). */
  constructor(files: readonly ActiveProgram[], keys: KeyIndex, log: (msg: string) => void) {
    this.#keys = keys
    this.#log = log
    for (const a of files) this.#active.set(a.loaded.program.id, a)
    this.#rebuild()
  }

  /** The active program documents, in the order of their files. */
  programs(): LoadedProgram[] {
    return this.#programs
  }

  /** The active version of a program, if it is active. */
  get(program: string): ActiveProgram | undefined {
    return this.#active.get(program)
  }

  /** Every key of every active program. */
  keys(): ProgramKey[] {
    return this.#programs.flatMap((p) => p.keys)
  }

  /** The program that uses the key with this hash, if any. */
  keyOwner(hash: string): string | undefined {
    return this.#keys.byHash(hash)?.program
  }

  /** A key or named secret the active version of `program` holds, by its SHA-256 (how a stored document, or one read back from the admin API, names it). */
  knownValue(program: string, hash: string, name: 'key' | 'linkSecret' | 'identitySecret'): string | undefined {
    const active = this.#active.get(program)
    return active ? knownSecretValue(active.loaded, hash, name) : undefined
  }

  /** Calls `listener` with every key after each activation (the ingestion workers hold their own copy). */
  onKeys(listener: (keys: ProgramKey[]) => void): void {
    this.#listeners.push(listener)
  }

  /**
   * Makes these versions active (other programs keep theirs) and logs each one that changed; the
   * caller has checked that no key is used by two programs. Never logs a document or a key.
   */
  activate(versions: readonly ActiveProgram[]): void {
    const changed = versions.filter((v) => {
      const now = this.#active.get(v.loaded.program.id)
      return !now || now.version !== v.version || now.checksum !== v.checksum
    })
    for (const v of versions) this.#active.set(v.loaded.program.id, v)
    this.#rebuild()
    for (const v of changed) this.#log(`program ${v.loaded.program.id} version ${v.version} activated (from ${v.source})`)
  }

  /** The write key the demo site embeds: the demo program's, else the first that allows a localhost origin. */
  demoWriteKey(): string | null {
    const write = this.#programs.flatMap((p) => p.keys.filter((k) => k.kind === 'write').map((k) => ({ p, k })))
    const demo = write.find(({ p }) => p.program.id === 'psoriasis-demo') ?? write.find(({ k }) => k.origins.some((o) => o.includes('localhost')))
    return demo?.k.value ?? null
  }

  #rebuild(): void {
    this.#programs = [...this.#active.values()].map((a) => a.loaded)
    const keys = this.keys()
    this.#keys.replace(keys)
    for (const l of this.#listeners) l(keys)
  }
}
