// Day arithmetic, defined once: Attune counts calendar days as whole UTC days since 1970-01-01
// (a day number), and writes them as YYYY-MM-DD. Local days in a program's time zone are in
// zone-time.ts and use the same numbering.

/** One day in milliseconds. */
export const DAY_MS = 86_400_000

/** The day number of a YYYY-MM-DD day (a longer date-time string is read by its first 10 characters). */
export const dayNumber = (day: string): number => Math.floor(Date.parse(`${day.slice(0, 10)}T00:00:00Z`) / DAY_MS)

/** The YYYY-MM-DD text of a day number. */
export const dayText = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)

/** The UTC day number of an instant (ms). */
export const utcDayNumber = (ms: number): number => Math.floor(ms / DAY_MS)
