import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ActivityKeys, packTouches, unpackTouches } from './profile-store.ts'
import { compareActivity, emptyAggregates, type ActorAggregates } from './profiles.ts'

// Any UTF-16 text, multi-byte and astral characters and tabs included: the JSON part's byte length is not its length.
const text = fc.string({ unit: 'binary', maxLength: 12 })
// ClickHouse's Date range, its first day included.
const day = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2149, 5, 6) }).map((ms) => new Date(ms).toISOString().slice(0, 10))
const time = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }).map((ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23))
const entries = <V>(value: fc.Arbitrary<V>) => fc.uniqueArray(fc.tuple(text, value), { selector: ([k]) => k, maxLength: 6 })
const aggregates: fc.Arbitrary<ActorAggregates> = fc
  .record({
    // (JSON has no -0: a sum of 0 is 0.)
    needs: entries(fc.record({ sum: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0), touches: fc.nat() })),
    answers: entries(fc.record({ answer: text, ts: time })),
    channels: entries(fc.record({ touches: fc.nat(), last: time })),
    goals: entries(fc.record({ times: fc.nat(), first: time, last: time })),
    profiled: fc.nat(),
    consent: entries(fc.record({ granted: fc.boolean(), at: time })),
    activity: fc.uniqueArray(fc.record({ day, channel: fc.constantFrom('web', 'email', 'sms', 'server', 'ünï'), event: text, times: fc.maxSafeNat() }), {
      selector: (r) => `${r.day}\u0000${r.channel}\u0000${r.event}`,
      maxLength: 40,
    }),
    firstDay: fc.oneof(fc.constant(''), day),
    dates: entries(fc.record({ value: day, at: time })),
    checkinHours: fc.uniqueArray(
      fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => s - (s % 3600)),
      { maxLength: 30 },
    ),
  })
  .map((r) => ({
    ...emptyAggregates(),
    ...r,
    needs: new Map(r.needs),
    answers: new Map(r.answers),
    channels: new Map(r.channels),
    goals: new Map(r.goals),
    consent: new Map(r.consent),
    dates: new Map(r.dates),
    activity: [...r.activity].sort(compareActivity),
    checkinHours: [...r.checkinHours].sort((a, b) => a - b),
  }))

describe('the profile store’s packed touches', () => {
  it('give back exactly the aggregates packed, whatever the text, days, counts and hours', () => {
    const keys = new ActivityKeys()
    fc.assert(
      fc.property(aggregates, (agg) => {
        expect(unpackTouches(packTouches(agg, keys), keys)).toEqual(agg)
      }),
      { numRuns: 2000 },
    )
  })

  it('number each (channel, event) pair once per dictionary, and refuse a row whose day is not a date', () => {
    const keys = new ActivityKeys()
    const agg = { ...emptyAggregates(), activity: [{ day: '2026-11-02', channel: 'web', event: 'page', times: 3 }] }
    expect(unpackTouches(packTouches(agg, keys), keys).activity).toEqual(agg.activity)
    expect(keys.of('web', 'page')).toBe(0)
    expect(keys.of('web', 'click')).toBe(1)
    expect(keys.of('web', 'page')).toBe(0)
    expect(() => packTouches({ ...agg, activity: [{ ...agg.activity[0]!, day: 'someday' }] }, keys)).toThrow(/invalid day/)
  })
})
