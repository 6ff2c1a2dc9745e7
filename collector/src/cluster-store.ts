import { clusterNeeds, type Clustering, type Db, type Program } from '../../analytics/index.ts'

/** How often clusters are recomputed on the schedule, and the size settings used then. */
export const CLUSTER_REFRESH_MS = 24 * 3600 * 1000
const SCHEDULED = { k: 5, minSize: 20 }

/**
 * The latest need clustering of each program, kept in memory: recomputed daily on a schedule
 * (and at start, once the tables are ready), or on request with other settings. Profiles name a
 * patient's cluster from it; ClickHouse holds what it is computed from.
 */
export class ClusterStore {
  readonly #latest = new Map<string, Clustering & { asked: string }>()
  readonly #db: Db
  readonly #log: (m: string) => void
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | null = null
  #stopped = false

  constructor(db: Db, log: (m: string) => void) {
    this.#db = db
    this.#log = log
  }

  /** The latest clustering of a program, if any. */
  latest(program: string): (Clustering & { asked: string }) | undefined {
    return this.#latest.get(program)
  }

  /** Computes (and keeps) a program's clustering with these settings. */
  async compute(program: Program, opts: { k: number; minSize: number }): Promise<Clustering & { asked: string }> {
    const result = { ...(await clusterNeeds(this.#db, program, opts)), asked: `${opts.k}/${opts.minSize}` }
    this.#latest.set(program.id, result)
    return result
  }

  /** Recomputes every program now and then every CLUSTER_REFRESH_MS; a failure is logged and retried on the next round. */
  schedule(programs: () => Program[]): void {
    const round = async () => {
      for (const p of programs()) {
        if (this.#stopped) return
        if (p.needs.length === 0) continue
        try {
          const r = await this.compute(p, SCHEDULED)
          this.#log(`clusters of ${p.id}: ${r.clusters.length} over ${r.members.size} people`)
        } catch (e) {
          this.#log(`clusters of ${p.id} could not be computed (${(e as Error).message.slice(0, 200)}); next round in a day`)
        }
      }
    }
    const run = () => {
      this.#round ??= round().finally(() => (this.#round = null))
    }
    run()
    this.#timer = setInterval(run, CLUSTER_REFRESH_MS).unref()
  }

  /** Stops the schedule and waits for a round in progress, so ClickHouse can be closed. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#round
  }
}
