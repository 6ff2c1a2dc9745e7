import { DAY_MS } from './days.ts'
// Local wall-clock time in a program's time zone, for the decide path: the calendar day of a
// check-in or of now, the time of day for quiet hours. Intl formatting costs microseconds a call
// and a new formatter tens of them (a profile asks for hundreds of check-in days, a decision for
// quiet hours on every outbound rule: 7% of the decide endpoint's main thread at 500 req/s), so
// the zone's offset is read once per quarter hour and kept; every zone offset and DST change in
// the tz database falls on a quarter hour, so the offset is constant inside one.

const QUARTER_MS = 900_000
/** Cached quarter hours per zone before the cache is emptied (a year of quarter hours is ~35,000). */
const MAX_CACHED = 100_000

interface Zone {
  format: Intl.DateTimeFormat
  /** Quarter-hour number → offset from UTC in ms. */
  offsets: Map<number, number>
}
const zones = new Map<string, Zone>()

function zone(timeZone: string): Zone {
  let z = zones.get(timeZone)
  if (!z) {
    const format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    zones.set(timeZone, (z = { format, offsets: new Map() }))
  }
  return z
}

/** The zone's offset from UTC (ms) at an instant. */
export function zoneOffset(ms: number, timeZone: string): number {
  const z = zone(timeZone)
  const q = Math.floor(ms / QUARTER_MS)
  let off = z.offsets.get(q)
  if (off === undefined) {
    const at = q * QUARTER_MS
    const p: Record<string, number> = {}
    for (const part of z.format.formatToParts(new Date(at))) if (part.type !== 'literal') p[part.type] = Number(part.value)
    off = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - at
    if (z.offsets.size >= MAX_CACHED) z.offsets.clear()
    z.offsets.set(q, off)
  }
  return off
}

/** The wall-clock time of an instant in the zone, as the UTC instant with the same fields. */
export function wallTime(ms: number, timeZone: string): number {
  return ms + zoneOffset(ms, timeZone)
}

/** The calendar day of an instant in the zone, YYYY-MM-DD. */
export function localDay(ms: number, timeZone: string): string {
  return new Date(wallTime(ms, timeZone)).toISOString().slice(0, 10)
}

/** The time of day of an instant in the zone, HH:MM (24 h). */
export function localHourMinute(ms: number, timeZone: string): string {
  return new Date(wallTime(ms, timeZone)).toISOString().slice(11, 16)
}

/** The calendar day of an instant in the zone, as days since 1970-01-01. */
export function localDayNumber(ms: number, timeZone: string): number {
  return Math.floor(wallTime(ms, timeZone) / DAY_MS)
}
