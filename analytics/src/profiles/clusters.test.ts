import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { kMeans } from './clusters.ts'

describe('kMeans', () => {
  it('finds well-separated groups, whatever the seed', () => {
    const around = (c: number[], n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => c.map((x, d) => x + (((i * 31 + d * 17 + seed) % 11) - 5) / 100))
    const points = [...around([1, 0, 0], 30, 1), ...around([0, 1, 0], 25, 2), ...around([0, 0, 1], 20, 3)]
    for (const seed of [1, 2, 3, 42]) {
      const { assignment, centroids } = kMeans(points, 3, { seed })
      expect(centroids).toHaveLength(3)
      const groups = [assignment.slice(0, 30), assignment.slice(30, 55), assignment.slice(55)]
      for (const g of groups) expect(new Set(g).size).toBe(1)
      expect(new Set(groups.map((g) => g[0])).size).toBe(3)
    }
  })

  it('merges clusters smaller than the minimum size into their nearest', () => {
    const points = [...Array.from({ length: 40 }, () => [1, 0]), ...Array.from({ length: 3 }, () => [0.6, 0.4]), ...Array.from({ length: 40 }, () => [0, 1])]
    const { assignment, centroids } = kMeans(points, 3, { minSize: 10, seed: 7 })
    expect(centroids).toHaveLength(2)
    const sizes = [0, 1].map((j) => assignment.filter((a) => a === j).length)
    expect(sizes.sort()).toEqual([40, 43])
  })

  it('always assigns every point to an existing cluster, each at least the minimum size when it can be', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.float({ min: 0, max: 1, noNaN: true }), fc.float({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 15 }),
        (pts, k, minSize) => {
          const points = pts.map(([a, b]) => [a, b])
          const { assignment, centroids } = kMeans(points, k, { minSize, seed: 3 })
          expect(assignment).toHaveLength(points.length)
          for (const a of assignment) expect(a).toBeGreaterThanOrEqual(0), expect(a).toBeLessThan(centroids.length)
          const sizes = centroids.map((_, j) => assignment.filter((a) => a === j).length)
          if (centroids.length > 1) for (const s of sizes) expect(s).toBeGreaterThanOrEqual(minSize)
        },
      ),
      { numRuns: 200 },
    )
  })
})
