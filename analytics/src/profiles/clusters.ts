import { randomUUID } from 'node:crypto'
import type { Db } from '../storage/client.ts'
import type { Program } from '../program/programs.ts'
import { Random } from '../util/random.ts'
import { chTime } from '../storage/event-row.ts'
import { sql } from '../storage/sql.ts'

/** One discovered cluster: a candidate pattern card for the program's managers. */
export interface NeedCluster {
  id: string
  /** The dominant needs, as a name a manager can read ("itch-and-flares + stigma"). */
  label: string
  size: number
  /** Mean need vector of its members, each need scaled to the member's largest need. */
  centroid: Record<string, number>
}

/** The settings a clustering was asked for. */
export interface ClusteringSettings {
  /** Clusters asked for (merging small ones may leave fewer). */
  k: number
  minSize: number
  seed: number
}

/** Clusters of a program's people by what they need, and who is in which: one run. */
export interface Clustering {
  program: string
  /** Names this run where it is stored, and the run a cluster approved as a pattern came from. */
  runId: string
  computedAt: string
  /** Clusters found (at most `settings.k`). */
  k: number
  settings: ClusteringSettings
  clusters: NeedCluster[]
  /** Person id → cluster id. */
  members: Map<string, string>
}

const dist2 = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0)

/**
 * k-means (k-means++ seeding, Lloyd iterations) over need vectors; clusters smaller than
 * `minSize` are merged into the nearest remaining one, and the centroids recomputed.
 */
export function kMeans(
  points: number[][],
  k: number,
  opts: { minSize?: number; seed?: number; maxIterations?: number } = {},
): { assignment: number[]; centroids: number[][] } {
  const random = new Random(opts.seed ?? 1)
  const rand = () => random.next()
  const n = points.length
  if (n === 0) return { assignment: [], centroids: [] }
  k = Math.max(1, Math.min(k, n))
  const centroids: number[][] = [points[Math.floor(rand() * n)]!]
  while (centroids.length < k) {
    const d = points.map((p) => Math.min(...centroids.map((c) => dist2(p, c))))
    const total = d.reduce((s, x) => s + x, 0)
    if (total === 0) break
    let r = rand() * total
    let i = 0
    while ((r -= d[i]!) > 0 && i < n - 1) i++
    centroids.push([...points[i]!])
  }
  let assignment = new Array<number>(n).fill(0)
  const recompute = (cs: number[][]) =>
    cs.map((c, j) => {
      const members = points.filter((_, i) => assignment[i] === j)
      return members.length ? c.map((_, d) => members.reduce((s, m) => s + m[d]!, 0) / members.length) : c
    })
  const assign = (cs: number[][]) => points.map((p) => cs.reduce((best, c, j) => (dist2(p, c) < dist2(p, cs[best]!) ? j : best), 0))
  let cs = centroids
  for (let it = 0; it < (opts.maxIterations ?? 100); it++) {
    const next = assign(cs)
    const changed = next.some((a, i) => a !== assignment[i])
    assignment = next
    cs = recompute(cs)
    if (!changed && it > 0) break
  }
  // Merge away clusters that are too small to be a pattern worth a manager's time.
  const minSize = opts.minSize ?? 1
  for (;;) {
    const sizes = cs.map((_, j) => assignment.filter((a) => a === j).length)
    const small = sizes.findIndex((s, j) => s < minSize && cs.length > 1 && sizes.some((t, i) => i !== j && t > 0))
    if (small < 0) break
    const keep = cs.map((_, j) => j).filter((j) => j !== small)
    const kept = keep.map((j) => cs[j]!)
    assignment = points.map((p, i) =>
      assignment[i] === small ? keep[kept.reduce((b, c, x) => (dist2(p, c) < dist2(p, kept[b]!) ? x : b), 0)]! : assignment[i]!,
    )
    const remap = new Map(keep.map((j, x) => [j, x]))
    assignment = assignment.map((a) => remap.get(a)!)
    cs = kept
    cs = recompute(cs)
  }
  return { assignment, centroids: cs }
}

/**
 * Clusters a program's people by their need vectors (decayed inferred scores, each person's
 * scaled to a maximum of 1 so heavy readers and light ones with the same interests meet), labelled
 * by each centroid's two largest needs.
 * @example await clusterNeeds(db, program, { k: 5, minSize: 20 })
 */
export async function clusterNeeds(db: Db, program: Program, opts: { k?: number; minSize?: number; seed?: number; now?: number } = {}): Promise<Clustering> {
  const now = opts.now ?? Date.now()
  const needIds = program.needs.map((n) => n.id)
  const rows = await db.query<{ person: string; needs: string[]; scores: number[] }>(sql('need-vectors'), {
    program: program.id,
    now: chTime(now),
    half_life_days: program.needHalfLifeDays,
  })
  const people: string[] = []
  const points: number[][] = []
  for (const r of rows) {
    const v = needIds.map((id) => Math.max(0, Number(r.scores[r.needs.indexOf(id)] ?? 0)))
    const max = Math.max(...v)
    if (max <= 0) continue
    people.push(r.person)
    points.push(v.map((x) => x / max))
  }
  const settings = { k: opts.k ?? 5, minSize: opts.minSize ?? 20, seed: opts.seed ?? 1 }
  const { assignment, centroids } = kMeans(points, settings.k, settings)
  const clusters = centroids.map((c, j) => {
    const top = needIds
      .map((id, i) => ({ id, w: c[i]! }))
      .sort((a, b) => b.w - a.w)
      .slice(0, 2)
    return {
      id: `cluster-${j + 1}`,
      label: top.map((t) => t.id).join(' + '),
      size: assignment.filter((a) => a === j).length,
      centroid: Object.fromEntries(needIds.map((id, i) => [id, Math.round(c[i]! * 1000) / 1000])),
    }
  })
  return {
    program: program.id,
    runId: randomUUID(),
    computedAt: new Date(now).toISOString(),
    k: clusters.length,
    settings,
    clusters,
    members: new Map(people.map((p, i) => [p, clusters[assignment[i]!]!.id])),
  }
}
