import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatPath, pathBeyondDepth } from './json-depth.ts'

/** Depth by recursion, for values shallow enough to recurse over. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0
  const children = Array.isArray(v) ? v : Object.values(v)
  return 1 + Math.max(0, ...children.map(depthOf))
}

describe('pathBeyondDepth', () => {
  it('finds the first value deeper than the limit, and nothing within it', () => {
    const v = { a: 1, b: { c: [1, { d: {} }] } }
    expect(pathBeyondDepth(v, 5)).toBeNull()
    expect(pathBeyondDepth(v, 4)).toEqual(['b', 'c', 1, 'd'])
    expect(pathBeyondDepth(v, 3)).toEqual(['b', 'c', 1])
    expect(pathBeyondDepth('text', 1)).toBeNull()
  })

  it('measures 200,000 levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000))
    expect(pathBeyondDepth({ properties: { x: deep } }, 32)).toEqual(['properties', 'x', ...Array(30).fill(0)])
  })

  it('agrees with a recursive depth on generated JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 10 }), (v, max) => {
        const path = pathBeyondDepth(v, max)
        expect(path === null).toBe(depthOf(v) <= max)
        if (path) {
          let at: unknown = v
          for (const p of path) at = (at as Record<string | number, unknown>)[p]
          expect(path.length).toBe(max)
          expect(at !== null && typeof at === 'object').toBe(true)
        }
      }),
      { numRuns: 500 },
    )
  })

  it('formats a path as the sender wrote it, cut after its first steps', () => {
    expect(formatPath('batch[2]', ['properties', 'a', 0, 'b'])).toBe('batch[2].properties.a[0].b')
    expect(formatPath('', ['context', 'x'])).toBe('context.x')
    expect(formatPath('', Array(12).fill(0), 3)).toBe('[0][0][0]…')
  })
})
