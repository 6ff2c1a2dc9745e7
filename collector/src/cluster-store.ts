import { clusterNeeds, latestClustering, storeClustering, type Clustering, type Db, type Program, DAY_MS } from '../../analytics/index.ts'
import { describeError } from './errors.ts'

/** How old the latest clustering may get before it is computed again (on the schedule, or when asked for). */
export const CLUSTER_REFRESH_MS = DAY_MS
/** How often the schedule looks for programs whose latest clustering is older than CLUSTER_REFRESH_MS. */
const CHECK_MS = 3600 * 1000
const SCHEDULED = { k: 5, minSize: 20 }

/**
 * The latest need clustering of each program. Every run is stored in ClickHouse
 * (`need_cluster_runs`, `need_cluster_members`) before it is used, and the latest stored run of
 * each program is read at start, so a restart keeps every profile's cluster and the clusters
 * offered for approval without computing them again. With the schedule on, a program whose latest
 * run is a day old (or missing) is computed again; on request, with other settings.
 */
export class ClusterStore {
  readonly #latest = new Map<string, Clustering>()
  readonly #db: Db
  readonly #log: (m: string) => void
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | null = null
  #loading: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(db: Db, log: (m: string) => void) {
    this.#db = db
    this.#log = log
  }

  /** The latest clustering of a program, if any. */
  latest(program: string): Clustering | undefined {
    return this.#latest.get(program)
  }

  /** Resolves once the stored runs read by {@link start} are in (at once before it is called). */
  loaded(): Promise<void> {
    return this.#loading
  }

  /** Computes a program's clustering with these settings, stores it, then keeps it as the latest. */
  async compute(program: Program, opts: { k: number; minSize: number }): Promise<Clustering> {
    const result = await clusterNeeds(this.#db, program, opts)
    await storeClustering(this.#db, result)
    this.#latest.set(program.id, result)
    return result
  }

  /**
   * Once the tables are ready: reads the latest stored run of every program with needs, then, with
   * `schedule`, keeps them current ({@link schedule}).
   */
  start(programs: () => Program[], opts: { schedule: boolean }): void {
    this.#loading = this.#load(programs())
    if (opts.schedule) void this.#loading.then(() => !this.#stopped && this.schedule(programs))
  }

  async #load(programs: Program[]): Promise<void> {
    for (const p of programs) {
      if (this.#stopped) return
      if (p.needs.length === 0) continue
      try {
        const stored = await latestClustering(this.#db, p.id)
        // A run computed meanwhile (a request during start-up) is newer than any stored one.
        if (stored && !this.#latest.has(p.id)) this.#latest.set(p.id, stored)
      } catch (e) {
        this.#log(`stored clusters of ${p.id} could not be read (${describeError(e)}); profiles name no cluster until the next clustering`)
      }
    }
  }

  /**
   * Computes every program whose latest clustering is missing or a day old, now and then every
   * hour; a failure is logged and retried on the next check.
   */
  schedule(programs: () => Program[]): void {
    const round = async () => {
      for (const p of programs()) {
        if (this.#stopped) return
        if (p.needs.length === 0) continue
        const latest = this.#latest.get(p.id)
        if (latest && Date.now() - Date.parse(latest.computedAt) < CLUSTER_REFRESH_MS) continue
        try {
          const r = await this.compute(p, SCHEDULED)
          this.#log(`clusters of ${p.id}: ${r.clusters.length} over ${r.members.size} people`)
        } catch (e) {
          this.#log(`clusters of ${p.id} could not be computed (${describeError(e)}); retried within the hour`)
        }
      }
    }
    const run = () => {
      this.#round ??= round().finally(() => (this.#round = null))
    }
    run()
    this.#timer = setInterval(run, CHECK_MS).unref()
  }

  /** Stops the schedule and waits for a load or round in progress, so ClickHouse can be closed. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#loading
    await this.#round
  }
}
