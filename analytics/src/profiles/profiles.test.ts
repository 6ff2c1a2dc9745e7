import { describe, expect, it } from 'vitest'
import { adherenceOf, levelWithHysteresis } from './profiles.ts'
import { programSchema } from '../program/programs.ts'

// Levels 0/20/60/150, left below 15/45/120 (the psoriasis program's thresholds).
const program = programSchema.parse({
  id: 'p1',
  name: 'P',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  demo: true,
  keys: { write: [{ id: 'w', key: 'pk_test_12345678', origins: ['https://example.org'] }], secret: [{ id: 's', key: 'sk_test_12345678', channel: 'server' }] },
  needs: [
    { id: 'a', name: 'A', description: 'a' },
    { id: 'b', name: 'B', description: 'b' },
    { id: 'c', name: 'C', description: 'c' },
  ],
  levels: [
    { level: 0, name: 'Welcome', minValue: 0, unlocks: {} },
    { level: 1, name: 'First needs', minValue: 20, dropBelow: 15, unlocks: {} },
    { level: 2, name: 'Engaged', minValue: 60, dropBelow: 45, unlocks: {} },
    { level: 3, name: 'Deeper support', minValue: 150, dropBelow: 120, unlocks: {} },
  ],
})

describe('levelWithHysteresis', () => {
  it('rises at minValue and drops only below dropBelow, so a value wobbling at a threshold does not flip the level', () => {
    expect(levelWithHysteresis(program, null, 0)).toBe(0)
    expect(levelWithHysteresis(program, null, 59)).toBe(1)
    expect(levelWithHysteresis(program, 1, 60)).toBe(2)
    expect(levelWithHysteresis(program, 2, 50)).toBe(2) // below 60, above 45: stays
    expect(levelWithHysteresis(program, 2, 44)).toBe(1) // below 45: down one
    expect(levelWithHysteresis(program, 3, 14)).toBe(0) // below every dropBelow
    expect(levelWithHysteresis(program, 3, 130)).toBe(3)
    expect(levelWithHysteresis(program, 0, 1000)).toBe(3)
    // A value wobbling around 60 after reaching level 2 never leaves it.
    let level: number | null = null
    const seen = [58, 61, 59, 62, 57, 60, 55].map((v) => (level = levelWithHysteresis(program, level, v)))
    expect(seen).toEqual([1, 2, 2, 2, 2, 2, 2])
  })
})

describe('adherenceOf', () => {
  it('gives the share of due periods with a check-in and the current streak', () => {
    expect(adherenceOf([], '2026-11-23', 1)).toBeNull()
    // Daily since the 10th, missed the 15th; today (23rd) not yet checked in.
    const days = ['10', '11', '12', '13', '14', '16', '17', '18', '19', '20', '21', '22'].map((d) => `2026-11-${d}`)
    expect(adherenceOf(days, '2026-11-23', 1)).toEqual({ rate: 0.923, streak: 7, periodsDue: 13, periodsWithCheckin: 12, lastCheckin: '2026-11-22' })
    // Once today's check-in is in, today counts.
    expect(adherenceOf([...days, '2026-11-23'], '2026-11-23', 1)).toMatchObject({ streak: 8, periodsDue: 14, periodsWithCheckin: 13 })
    // Weekly: two check-ins in the first week count once; the third week missed.
    expect(adherenceOf(['2026-11-01', '2026-11-03', '2026-11-09', '2026-11-23'], '2026-11-23', 7)).toEqual({
      rate: 0.75,
      streak: 1,
      periodsDue: 4,
      periodsWithCheckin: 3,
      lastCheckin: '2026-11-23',
    })
  })
})
