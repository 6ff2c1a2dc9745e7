import type { Db } from '../storage/client.ts'
import type { Clustering, NeedCluster } from './clusters.ts'
import { chTime } from '../storage/event-row.ts'
import { sql } from '../storage/sql.ts'
import { TABLES } from '../storage/tables.ts'

/** Most memberships in one insert (guarantee D7: at most 100,000 rows an insert). */
export const MEMBER_BATCH_ROWS = 100_000

const MEMBER_COLUMNS = ['program', 'run_id', 'computed_at', 'person_id', 'cluster_id'] as const

/**
 * Stores a clustering run: its memberships in batches of at most `batchRows`, then the run row.
 * The run row goes last, so a run that is stored is complete: a process killed half-way leaves
 * only memberships no run names, and the previous run stays the latest.
 * @example await storeClustering(db, await clusterNeeds(db, program))
 */
export async function storeClustering(db: Db, c: Clustering, opts: { batchRows?: number } = {}): Promise<void> {
  const batchRows = Math.max(1, Math.min(opts.batchRows ?? MEMBER_BATCH_ROWS, MEMBER_BATCH_ROWS))
  const computedAt = chTime(Date.parse(c.computedAt))
  // One run's rows share computed_at, so each insert lands in one partition (D7).
  let lines: string[] = []
  for (const [person, cluster] of c.members) {
    lines.push(JSON.stringify([c.program, c.runId, computedAt, person, cluster]))
    if (lines.length === batchRows) {
      await db.insertJsonLines(TABLES.needClusterMembers, `${lines.join('\n')}\n`, undefined, MEMBER_COLUMNS)
      lines = []
    }
  }
  if (lines.length > 0) await db.insertJsonLines(TABLES.needClusterMembers, `${lines.join('\n')}\n`, undefined, MEMBER_COLUMNS)
  await db.insertRows(TABLES.needClusterRuns, [
    {
      program: c.program,
      run_id: c.runId,
      computed_at: computedAt,
      k: c.settings.k,
      min_size: c.settings.minSize,
      seed: c.settings.seed,
      people: c.members.size,
      clusters: c.clusters.map((x) => ({ id: x.id, label: x.label, size: x.size, centroid: x.centroid })),
    },
  ])
}

/** The latest stored run of a program with its memberships, or undefined when none is stored. */
export async function latestClustering(db: Db, program: string): Promise<Clustering | undefined> {
  const [run] = await db.query<{ run_id: string; computed_at: string; k: number; min_size: number; seed: number; people: number; clusters: NeedCluster[] }>(
    sql('latest-cluster-run'),
    { program },
  )
  if (!run) return undefined
  const rows = await db.query<{ person_id: string; cluster_id: string }>(sql('cluster-members'), { program, run_id: run.run_id, computed_at: run.computed_at })
  const clusters = run.clusters.map((x) => ({
    id: x.id,
    label: x.label,
    size: Number(x.size),
    centroid: Object.fromEntries(Object.entries(x.centroid).map(([need, w]) => [need, Number(w)])),
  }))
  return {
    program,
    runId: run.run_id,
    computedAt: `${run.computed_at.replace(' ', 'T')}Z`,
    k: clusters.length,
    settings: { k: Number(run.k), minSize: Number(run.min_size), seed: Number(run.seed) },
    clusters,
    members: new Map(rows.map((r) => [r.person_id, r.cluster_id])),
  }
}
