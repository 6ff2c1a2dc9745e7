// Calendar days and waking hours in a program's time zone, as UTC instants.
import { wallTime, zoneOffset, DAY_MS } from '../../analytics/index.ts'

/**
 * The UTC instants of local midnight of the `days` calendar days ending with the day of `now` in
 * `timeZone`, oldest first. The zone's offset is taken at noon, so a day with a DST change is
 * off by that hour before the change (at night, outside waking hours).
 */
export function localMidnights(timeZone: string, now: number, days: number): number[] {
  const minute = now - (now % 60_000)
  const wall = wallTime(minute, timeZone)
  const today = wall - (wall % DAY_MS)
  const out: number[] = []
  for (let k = days - 1; k >= 0; k--) {
    const date = today - k * DAY_MS
    // Noon of that day, near enough to find the offset in force then.
    const noon = date + DAY_MS / 2 - (wall - minute)
    out.push(date - zoneOffset(noon, timeZone))
  }
  return out
}

// Relative activity per local hour from 7:00 to 22:59: a morning peak and a larger evening one.
const HOUR_WEIGHTS = [3, 5, 5, 4, 4, 5, 5, 4, 4, 5, 6, 8, 9, 8, 6, 3]
const HOUR_TOTAL = HOUR_WEIGHTS.reduce((a, b) => a + b, 0)

/** Milliseconds after local midnight of a moment in waking hours (7:00–23:00), drawn from `u1`, `u2` in [0, 1). */
export function wakingOffset(u1: number, u2: number): number {
  let x = u1 * HOUR_TOTAL
  let hour = 0
  while (hour < HOUR_WEIGHTS.length - 1 && x >= HOUR_WEIGHTS[hour]!) x -= HOUR_WEIGHTS[hour++]!
  return (7 + hour) * 3_600_000 + Math.floor(u2 * 3_600_000)
}
