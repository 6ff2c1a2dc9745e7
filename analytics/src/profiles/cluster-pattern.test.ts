import { describe, expect, it } from 'vitest'
import { patternFromCluster } from './cluster-pattern.ts'
import type { Clustering } from './clusters.ts'
import { patternSchema } from '../program/program-sections.ts'
import { programSchema } from '../program/programs.ts'

const program = programSchema.parse({
  id: 'p1',
  name: 'P',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  demo: true,
  keys: { write: [{ id: 'w', key: 'pk_test_12345678', origins: ['https://example.org'] }], secret: [{ id: 's', key: 'sk_test_12345678', channel: 'server' }] },
  needs: [
    { id: 'itch-and-flares', name: 'Itch and flare management', description: 'a' },
    { id: 'stigma', name: 'Living visibly', description: 'b' },
    { id: 'joint-health', name: 'Joint health', description: 'c' },
  ],
})
const run: Clustering = {
  program: 'p1',
  runId: '0b0e6a52-6a3c-4d5e-9f0a-1c2d3e4f5a6b',
  computedAt: '2026-11-23T12:00:00.000Z',
  k: 1,
  settings: { k: 5, minSize: 20, seed: 1 },
  // A need dropped from the taxonomy since the run ("sleep") and one nobody in the cluster has.
  clusters: [{ id: 'cluster-2', label: 'stigma + itch-and-flares', size: 2, centroid: { 'itch-and-flares': 0.45, stigma: 1, 'joint-health': 0, sleep: 0.3 } }],
  members: new Map([
    ['p-1', 'cluster-2'],
    ['p-2', 'cluster-2'],
    ['p-3', 'cluster-1'],
  ]),
}

describe('patternFromCluster', () => {
  it('takes the centroid as need weights (needs the program has, above zero) and names the card after the dominant needs', () => {
    const card = patternFromCluster(program, run, run.clusters[0]!)
    expect(card).toEqual({
      id: 'stigma-itch-and-flares',
      name: 'Living visibly & Itch and flare management',
      description:
        'Approved from need cluster cluster-2 (2 of 3 people) of the clustering of 2026-11-23T12:00:00.000Z, run 0b0e6a52-6a3c-4d5e-9f0a-1c2d3e4f5a6b.',
      needs: { 'itch-and-flares': 0.45, stigma: 1 },
    })
    expect(patternSchema.safeParse(card).success).toBe(true)
  })

  it('uses the id and name a manager gives', () => {
    expect(patternFromCluster(program, run, run.clusters[0]!, { id: 'visible-and-low', name: 'Visible and low' })).toMatchObject({
      id: 'visible-and-low',
      name: 'Visible and low',
    })
  })

  it('keeps a default id and name within what a pattern card allows', () => {
    const long = { ...run.clusters[0]!, label: `${'x'.repeat(50)} + ${'y'.repeat(50)}` }
    const wordy = programSchema.parse({ ...program, needs: program.needs.map((n) => ({ ...n, name: 'N'.repeat(80) })) })
    const card = patternFromCluster(wordy, run, long)
    expect(card.id).toBe(`${'x'.repeat(50)}-${'y'.repeat(13)}`)
    expect(patternSchema.safeParse(card).success).toBe(true)
    expect(patternSchema.safeParse(patternFromCluster(wordy, run, run.clusters[0]!)).success).toBe(true)
  })
})
