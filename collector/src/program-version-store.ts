import {
  canonicalJson,
  documentChecksum,
  ProgramDocumentError,
  programVersionDocument,
  programVersions,
  redactStoredVersions,
  resolveProgram,
  storeProgramVersion,
  type Db,
  type LoadedProgram,
  type ProgramVersion,
} from '../../analytics/index.ts'
import { knownSecretValue, type ActiveProgram, type ProgramRegistry } from './program-registry.ts'

/** The stored versions cannot be read or written yet (ClickHouse not reachable, migrations pending). */
export class VersionsUnavailableError extends Error {
  override readonly name = 'VersionsUnavailableError'
}

/** What storing a document came to: its version, and whether it was new. */
export interface PutResult {
  program: string
  version: number
  checksum: string
  stored: boolean
}

/** The active version of a file's document, as it is before anything is stored. */
export function fileVersion(loaded: LoadedProgram): ActiveProgram {
  return { loaded, version: null, checksum: documentChecksum(canonicalJson(loaded.document)), source: 'file' }
}

/**
 * Every accepted version of every program document, kept in ClickHouse (`program_versions`), and
 * which one is active.
 *
 * The start-up rule ({@link load}): per program file, if the file's document (by checksum of its
 * canonical JSON) differs from the version last stored from the file — or nothing is stored yet —
 * it is stored as the next version and is active; otherwise the latest stored version is active,
 * so a document changed through the API survives a restart until its file is edited. Stored
 * versions of a program whose file is gone stay stored but are not active. A latest version
 * that cannot be used any more (it fails validation, names a variable that is not set, or shares
 * a key with another program's active version) leaves the file's version active, and says so.
 *
 * Writes are serialised in this process, so two documents sent at once get consecutive versions.
 */
export class ProgramVersionStore {
  readonly #db: Db
  readonly #registry: ProgramRegistry
  readonly #files: readonly LoadedProgram[]
  readonly #env: NodeJS.ProcessEnv
  readonly #log: (msg: string) => void
  #queue: Promise<unknown> = Promise.resolve()
  #loaded = false

  constructor(opts: { db: Db; registry: ProgramRegistry; files: readonly LoadedProgram[]; env: NodeJS.ProcessEnv; log: (msg: string) => void }) {
    this.#db = opts.db
    this.#registry = opts.registry
    this.#files = opts.files
    this.#env = opts.env
    this.#log = opts.log
  }

  /** Whether the stored versions have been read and the active ones chosen. */
  get loaded(): boolean {
    return this.#loaded
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => {})
    return run
  }

  /** Applies the start-up rule (see the class) once migrations are applied; ClickHouse errors are thrown for a retry. */
  load(): Promise<void> {
    return this.#serial(async () => {
      const redacted = await redactStoredVersions(this.#db)
      if (redacted > 0) this.#log(`${redacted} stored program versions held keys or secrets in clear; rewritten with their hashes`)
      const now = Date.now()
      const candidates = new Map<string, ActiveProgram>()
      const fallbacks = new Map<string, ActiveProgram>()
      for (const file of this.#files) {
        const id = file.program.id
        const fromFile = fileVersion(file)
        const versions = await programVersions(this.#db, id)
        const lastFromFile = versions.find((v) => v.source === 'file')
        if (!lastFromFile || lastFromFile.checksum !== fromFile.checksum) {
          const version = (versions[0]?.version ?? 0) + 1
          await storeProgramVersion(this.#db, {
            program: id,
            version,
            document: canonicalJson(file.document),
            checksum: fromFile.checksum,
            source: 'file',
            receivedAt: now,
            keyId: '',
          })
          const active = { ...fromFile, version }
          candidates.set(id, active)
          fallbacks.set(id, active)
          continue
        }
        const fallback = { ...fromFile, version: lastFromFile.version }
        fallbacks.set(id, fallback)
        const latest = versions[0]!
        candidates.set(id, latest.version === lastFromFile.version ? fallback : ((await this.#stored(file, latest)) ?? fallback))
      }
      // Versions stored at different times may share a key (one program dropped it, another took
      // it, then a file changed): those programs keep their files' versions, which were checked together.
      for (;;) {
        const owners = new Map<string, string>()
        const clashing = new Set<string>()
        for (const [id, c] of candidates) {
          for (const k of c.loaded.keys) {
            const owner = owners.get(k.hash)
            if (owner !== undefined && owner !== id) clashing.add(owner).add(id)
            owners.set(k.hash, id)
          }
        }
        const revert = [...clashing].filter((id) => candidates.get(id) !== fallbacks.get(id))
        if (revert.length === 0) break
        for (const id of revert) {
          this.#log(
            `program ${id} version ${candidates.get(id)!.version} cannot be activated: a key is used by another program; the file's version stays active`,
          )
          candidates.set(id, fallbacks.get(id)!)
        }
      }
      this.#registry.activate([...candidates.values()])
      this.#loaded = true
    })
  }

  /** A stored version made usable again, or undefined (logged) when it no longer validates. */
  async #stored(file: LoadedProgram, v: ProgramVersion): Promise<ActiveProgram | undefined> {
    const raw = await programVersionDocument(this.#db, file.program.id, v.version)
    try {
      const loaded = resolveProgram(raw, this.#env, file.file, {
        knownValue: (hash, name) => knownSecretValue(file, hash, name) ?? this.#registry.knownValue(file.program.id, hash, name),
      })
      if (loaded.program.id !== file.program.id) throw new ProgramDocumentError([{ path: 'id', message: `must be ${file.program.id}` }])
      return { loaded, version: v.version, checksum: v.checksum, source: v.source }
    } catch (e) {
      if (!(e instanceof ProgramDocumentError)) throw e
      // The path and message name no value, so no secret reaches the log.
      this.#log(
        `program ${file.program.id} version ${v.version} cannot be activated (${e.issues[0]?.path || '(root)'}: ${e.issues[0]?.message}); the file's version stays active`,
      )
      return undefined
    }
  }

  /**
   * Validates a document for an active program, stores it as the next version and activates it;
   * the same document as the active version stores nothing. Throws ProgramDocumentError for a
   * document that cannot be used, VersionsUnavailableError before {@link load} finished, and
   * ClickHouse's errors as they come.
   */
  put(program: string, raw: unknown, keyId: string): Promise<PutResult> {
    return this.#serial(() => this.#put(program, raw, keyId))
  }

  /**
   * Stores `change(the active document)` exactly as {@link put} stores a document, reading the active
   * document in the same serialised turn, so a document sent meanwhile is neither lost nor
   * overwritten. `change` gets a copy (as stored: `env:NAME` references unresolved, keys and secrets as hashes) and may throw
   * to refuse; what it throws is thrown as it is.
   */
  amend(program: string, change: (document: Record<string, unknown>) => unknown, keyId: string): Promise<PutResult> {
    return this.#serial(async () => {
      const current = this.#registry.get(program)
      if (!this.#loaded || !current) throw new VersionsUnavailableError(`the versions of program ${program} are not loaded yet`)
      return this.#put(program, change(structuredClone(current.loaded.document) as Record<string, unknown>), keyId)
    })
  }

  /** What put and amend share: validate, store as the next version, activate (inside a serialised turn). */
  async #put(program: string, raw: unknown, keyId: string): Promise<PutResult> {
    const current = this.#registry.get(program)
    if (!this.#loaded || !current) throw new VersionsUnavailableError(`the versions of program ${program} are not loaded yet`)
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new ProgramDocumentError([{ path: '', message: 'must be a JSON object (a whole program document)' }])
    const id = (raw as { id?: unknown }).id
    if (id !== program) throw new ProgramDocumentError([{ path: 'id', message: `must be ${program}, the program in the path` }])
    const file = this.#files.find((f) => f.program.id === program)
    const loaded = resolveProgram(raw, this.#env, current.loaded.file, {
      keyOwner: (hash) => this.#registry.keyOwner(hash),
      knownValue: (hash, name) => this.#registry.knownValue(program, hash, name) ?? (file && knownSecretValue(file, hash, name)),
      // A key sent in clear is stored as its hash: the API may add or rotate keys without the environment.
      literalKeys: true,
    })
    // Stored and compared without a key or secret in clear.
    const document = canonicalJson(loaded.document)
    const checksum = documentChecksum(document)
    if (current.checksum === checksum && current.version !== null) return { program, version: current.version, checksum, stored: false }
    const latest = (await programVersions(this.#db, program))[0]
    // Stored already (an earlier attempt whose answer was lost): activate it rather than store it twice.
    if (latest?.checksum === checksum) {
      this.#registry.activate([{ loaded, version: latest.version, checksum, source: latest.source }])
      return { program, version: latest.version, checksum, stored: false }
    }
    const version = (latest?.version ?? 0) + 1
    await storeProgramVersion(this.#db, { program, version, document, checksum, source: 'api', receivedAt: Date.now(), keyId })
    this.#registry.activate([{ loaded, version, checksum, source: 'api' }])
    return { program, version, checksum, stored: true }
  }

  /** Every stored version of a program, newest first. */
  versions(program: string): Promise<ProgramVersion[]> {
    if (!this.#loaded) return Promise.reject(new VersionsUnavailableError(`the versions of program ${program} are not loaded yet`))
    return programVersions(this.#db, program)
  }
}
