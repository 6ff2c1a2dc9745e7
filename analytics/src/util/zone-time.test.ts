import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { localDay, localHourMinute } from './zone-time.ts'

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/St_Johns',
]
// Intl's own answer, formatter made anew each time: what the cached offsets must equal.
const intl = (ms: number, timeZone: string) => {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(ms))
      .map((x) => [x.type, x.value]),
  )
  return { day: `${p.year}-${p.month}-${p.day}`, hm: `${p.hour}:${p.minute}` }
}

describe('zone time', () => {
  it('gives the day and time of day Intl gives, for any instant in zones with quarter- and half-hour offsets and DST', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2032, 0, 1) }), fc.constantFrom(...ZONES), (ms, tz) => {
        expect({ day: localDay(ms, tz), hm: localHourMinute(ms, tz) }).toEqual(intl(ms, tz))
      }),
      { numRuns: 5000 },
    )
  })

  it('is right on both sides of DST changes, minute by minute', () => {
    // Berlin springs forward at 01:00 UTC on 2026-03-29 and falls back at 01:00 UTC on 2026-10-25.
    for (const change of [Date.UTC(2026, 2, 29, 1), Date.UTC(2026, 9, 25, 1), Date.UTC(2026, 2, 8, 7)]) {
      for (let ms = change - 3_600_000; ms <= change + 3_600_000; ms += 60_000) {
        for (const tz of ['Europe/Berlin', 'America/New_York']) expect({ day: localDay(ms, tz), hm: localHourMinute(ms, tz) }).toEqual(intl(ms, tz))
      }
    }
  })
})
