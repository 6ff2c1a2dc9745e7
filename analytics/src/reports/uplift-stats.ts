// Interval estimates for a proportion and for the difference of two proportions (the uplift of a
// treated group over its control group).
//
// Method: the Wilson score interval for each group's rate (Wilson 1927), and for the difference
// Newcombe's hybrid score interval without continuity correction (Newcombe 1998, "Interval
// estimation for the difference between independent proportions: comparison of eleven methods",
// Statistics in Medicine 17:873–890, method 10). Unlike the textbook Wald interval
// (p1 − p2 ± z·SE) it keeps close to its nominal coverage in small groups and at rates near 0 or 1,
// never leaves [−1, 1], and is defined when a group has 0% or 100%. The difference is called
// significant when its interval excludes 0.

/** The two-sided 95% normal quantile, z(0.975). */
export const Z95 = 1.959963984540054

/** A closed interval. */
export interface Interval {
  low: number
  high: number
}

/**
 * The Wilson score interval of `x` successes in `n` trials (null when n = 0).
 * @example wilsonInterval(81, 263) // { low: 0.2553…, high: 0.3662… } (Newcombe 1998a, Table I)
 */
export function wilsonInterval(x: number, n: number, z = Z95): Interval | null {
  if (!(n > 0) || x < 0 || x > n) return null
  const p = x / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const centre = (p + z2 / (2 * n)) / denom
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  // The exact bounds at x = 0 and x = n; elsewhere clamping only removes rounding.
  return { low: x === 0 ? 0 : Math.max(0, centre - half), high: x === n ? 1 : Math.min(1, centre + half) }
}

/**
 * Newcombe's hybrid score interval for p1 − p2 (x1 of n1 against x2 of n2; null when a group is empty).
 * @example newcombeInterval(56, 70, 48, 80) // { low: 0.0524…, high: 0.3339… } (Newcombe 1998, Table II)
 */
export function newcombeInterval(x1: number, n1: number, x2: number, n2: number, z = Z95): Interval | null {
  const w1 = wilsonInterval(x1, n1, z)
  const w2 = wilsonInterval(x2, n2, z)
  if (!w1 || !w2) return null
  const p1 = x1 / n1
  const p2 = x2 / n2
  const d = p1 - p2
  return {
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2),
  }
}

/** One group of a comparison: how many people, how many reached the outcome, the rate with its Wilson interval; all null when suppressed. */
export interface UpliftGroup {
  people: number | null
  reached: number | null
  rate: number | null
  rateCi: Interval | null
  /** Fewer than the minimum cell size of distinct people: the numbers are withheld (guarantee P2). */
  suppressed: boolean
}

/** Treated against held out: each group, the uplift (difference of rates) with its 95% interval, and whether it excludes 0. */
export interface UpliftComparison {
  treated: UpliftGroup
  heldOut: UpliftGroup
  /** Treated rate minus held-out rate (null when either group is suppressed). */
  uplift: number | null
  /** Newcombe's hybrid score 95% interval of the uplift. */
  ci: Interval | null
  /** Whether the interval excludes 0. */
  significant: boolean | null
  /** Either group suppressed. */
  suppressed: boolean
}

/** A group's numbers, or nulls when it has fewer than `minCell` people. */
export function upliftGroup(people: number, reached: number, minCell: number): UpliftGroup {
  if (people < minCell) return { people: null, reached: null, rate: null, rateCi: null, suppressed: true }
  return { people, reached, rate: reached / people, rateCi: wilsonInterval(reached, people), suppressed: false }
}

/**
 * Compares the treated with the held-out group; the uplift and its interval only when neither is suppressed.
 * @example compareGroups({ people: 200, reached: 100 }, { people: 50, reached: 15 }, 5).uplift // 0.2
 */
export function compareGroups(treated: { people: number; reached: number }, heldOut: { people: number; reached: number }, minCell: number): UpliftComparison {
  const t = upliftGroup(treated.people, treated.reached, minCell)
  const h = upliftGroup(heldOut.people, heldOut.reached, minCell)
  if (t.suppressed || h.suppressed) return { treated: t, heldOut: h, uplift: null, ci: null, significant: null, suppressed: true }
  const ci = newcombeInterval(treated.reached, treated.people, heldOut.reached, heldOut.people)!
  return { treated: t, heldOut: h, uplift: t.rate! - h.rate!, ci, significant: ci.low > 0 || ci.high < 0, suppressed: false }
}
