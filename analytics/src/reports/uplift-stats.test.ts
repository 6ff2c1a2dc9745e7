// The interval math against published values: Wilson score intervals from Newcombe (1998a) Table I
// and hybrid score intervals for differences from Newcombe (1998b) Table II, method 10; and the
// suppression of small groups.
import { describe, expect, it } from 'vitest'
import { compareGroups, newcombeInterval, wilsonInterval, Z95 } from './uplift-stats.ts'

// R. G. Newcombe, "Two-sided confidence intervals for the single proportion: comparison of seven
// methods", Statistics in Medicine 17 (1998) 857–872, Table I, method 3 (score, no continuity correction).
const WILSON: Array<[number, number, number, number]> = [
  [81, 263, 0.2553, 0.3662],
  [15, 148, 0.0624, 0.1605],
  [0, 20, 0, 0.1611],
  [1, 29, 0.0061, 0.1718],
]

// R. G. Newcombe, "Interval estimation for the difference between independent proportions:
// comparison of eleven methods", Statistics in Medicine 17 (1998) 873–890, Table II, method 10.
const NEWCOMBE: Array<[number, number, number, number, number, number]> = [
  [56, 70, 48, 80, 0.0524, 0.3339],
  [9, 10, 3, 10, 0.1705, 0.809],
  [5, 56, 0, 29, -0.0381, 0.1926],
  [0, 10, 0, 20, -0.1611, 0.2775],
  [0, 10, 0, 10, -0.2775, 0.2775],
  [10, 10, 0, 20, 0.6791, 1],
  [10, 10, 0, 10, 0.6075, 1],
]

describe('interval math', () => {
  it('uses z(0.975)', () => {
    expect(Z95).toBeCloseTo(1.96, 2)
  })

  it.each(WILSON)('Wilson interval of %i/%i is %f to %f', (x, n, low, high) => {
    const ci = wilsonInterval(x, n)!
    expect(ci.low).toBeCloseTo(low, 4)
    expect(ci.high).toBeCloseTo(high, 4)
  })

  it.each(NEWCOMBE)('hybrid score interval of %i/%i − %i/%i is %f to %f', (x1, n1, x2, n2, low, high) => {
    const ci = newcombeInterval(x1, n1, x2, n2)!
    expect(ci.low).toBeCloseTo(low, 4)
    expect(ci.high).toBeCloseTo(high, 4)
  })

  it('is antisymmetric in the groups, stays within [−1, 1] and contains the estimate', () => {
    for (let n1 = 1; n1 <= 8; n1++)
      for (let n2 = 1; n2 <= 8; n2++)
        for (let x1 = 0; x1 <= n1; x1++)
          for (let x2 = 0; x2 <= n2; x2++) {
            const a = newcombeInterval(x1, n1, x2, n2)!
            const b = newcombeInterval(x2, n2, x1, n1)!
            expect(a.low).toBeCloseTo(-b.high, 12)
            expect(a.high).toBeCloseTo(-b.low, 12)
            expect(a.low).toBeGreaterThanOrEqual(-1 - 1e-12)
            expect(a.high).toBeLessThanOrEqual(1 + 1e-12)
            const d = x1 / n1 - x2 / n2
            expect(a.low).toBeLessThanOrEqual(d + 1e-12)
            expect(a.high).toBeGreaterThanOrEqual(d - 1e-12)
          }
  })

  it('has no interval for an empty group', () => {
    expect(wilsonInterval(0, 0)).toBeNull()
    expect(newcombeInterval(1, 2, 0, 0)).toBeNull()
  })
})

describe('comparing groups', () => {
  it('gives rates, the uplift, its interval and significance', () => {
    const c = compareGroups({ people: 70, reached: 56 }, { people: 80, reached: 48 }, 5)
    expect(c.treated).toMatchObject({ people: 70, reached: 56, rate: 0.8, suppressed: false })
    expect(c.heldOut).toMatchObject({ people: 80, reached: 48, rate: 0.6, suppressed: false })
    expect(c.uplift).toBeCloseTo(0.2, 12)
    expect(c.ci!.low).toBeCloseTo(0.0524, 4)
    expect(c.significant).toBe(true)
    expect(compareGroups({ people: 56, reached: 5 }, { people: 29, reached: 0 }, 5).significant).toBe(false)
    // Significantly worse is significant too.
    expect(compareGroups({ people: 80, reached: 48 }, { people: 70, reached: 56 }, 5)).toMatchObject({ significant: true })
  })

  it('suppresses a group with fewer people than the minimum cell, and then the comparison', () => {
    const c = compareGroups({ people: 200, reached: 100 }, { people: 4, reached: 1 }, 5)
    expect(c.heldOut).toEqual({ people: null, reached: null, rate: null, rateCi: null, suppressed: true })
    expect(c.treated.people).toBe(200)
    expect(c).toMatchObject({ uplift: null, ci: null, significant: null, suppressed: true })
    expect(compareGroups({ people: 11, reached: 1 }, { people: 11, reached: 1 }, 11).suppressed).toBe(false)
    expect(compareGroups({ people: 10, reached: 1 }, { people: 11, reached: 1 }, 11).treated.suppressed).toBe(true)
    expect(compareGroups({ people: 0, reached: 0 }, { people: 0, reached: 0 }, 1).suppressed).toBe(true)
  })
})
