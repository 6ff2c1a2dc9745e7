import type { Clustering, NeedCluster } from './clusters.ts'
import type { Pattern } from '../program/program-sections.ts'
import type { Program } from '../program/programs.ts'

/**
 * The pattern card a manager approves from a discovered cluster: the cluster's centroid as need
 * weights — only needs the program still has (the taxonomy may have changed since the run) and
 * above zero, since a card's missing need counts as zero when patients are matched. Without an
 * `id` it is named after the cluster's label (`itch-and-flares + stigma` → `itch-and-flares-stigma`),
 * without a `name` after its dominant needs' names.
 * @example patternFromCluster(program, run, run.clusters[0]!, { name: 'Visible and low' })
 */
export function patternFromCluster(program: Program, run: Clustering, cluster: NeedCluster, opts: { id?: string; name?: string } = {}): Pattern {
  const needNames = new Map(program.needs.map((n) => [n.id, n.name]))
  const needs = Object.fromEntries(Object.entries(cluster.centroid).filter(([need, w]) => needNames.has(need) && w > 0))
  const dominant = cluster.label.split(' + ')
  const id = opts.id ?? slugOf(cluster.label)
  const name = opts.name ?? clip(dominant.map((n) => needNames.get(n) ?? n).join(' & '), 100)
  const description = clip(
    `Approved from need cluster ${cluster.id} (${cluster.size} of ${run.members.size} people) of the clustering of ${run.computedAt}, run ${run.runId}.`,
    1000,
  )
  return { id, name, description, needs }
}

/** A pattern id (lower-case letters, digits and dashes, at most 64) from a cluster label. */
function slugOf(label: string): string {
  const s = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 64)
    .replace(/^-+|-+$/g, '')
  return s || 'cluster'
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s)
