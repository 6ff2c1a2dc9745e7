import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ActivityKeys, packTouches, unpackTouches } from './profile-store.ts'
import { compareActivity, emptyAggregates, type ActorAggregates } from './profiles.ts'

const text = fc.string({ maxLength: 12 })
const day = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2099, 11, 31) }).map((ms) => new Date(ms).toISOString().slice(0, 10))
const time = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }).map((ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23))
const entries = <V>(value: fc.Arbitrary<V>) => fc.uniqueArray(fc.tuple(text, value), { selector: ([k]) => k, maxLength: 6 })
const aggregates: fc.Arbitrary<ActorAggregates> = fc.record({
  // (JSON has no -0: a sum of 0 is 0.)
  needs: entries(fc.record({ sum: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0), touches: fc.nat() })),
  answers: entries(fc.record({ answer: text, ts: time })),
  channels: entries(fc.record({ touches: fc.nat(), last: time })),
  goals: entries(fc.record({ times: fc.nat(), first: time, last: time })),
  profiled: fc.nat(),
  consent: entries(fc.record({ granted: fc.boolean(), at: time })),
  activity: fc.uniqueArray(fc.record({ day, channel: fc.constantFrom('web', 'email', 'sms', 'server', 'a\tb', 'ünï'), event: text, times: fc.nat() }), { selector: (r) => `${r.day}\u0000${r.channel}\u0000${r.event}`, maxLength: 40 }),
  firstDay: fc.oneof(fc.constant(''), day),
  dates: entries(fc.record({ value: day, at: time })),
  checkinHours: fc.uniqueArray(fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => s - (s % 3600)), { maxLength: 30 }),
}).map((r) => ({
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

  it('share one string per day and per (channel, event) pair between unpacked rows', () => {
    const keys = new ActivityKeys()
    const agg = { ...emptyAggregates(), activity: [{ day: '2026-11-02', channel: 'web', event: 'page', times: 3 }] }
    const a = unpackTouches(packTouches(agg, keys), keys).activity[0]!
    const b = unpackTouches(packTouches({ ...agg, activity: [{ ...agg.activity[0]!, day: '2026-11-02' }] }, keys), keys).activity[0]!
    expect(a).toEqual(agg.activity[0])
    expect(keys.of('web', 'page')).toBe(0)
    expect(keys.of('web', 'click')).toBe(1)
    expect(a.day).toBe(b.day)
  })
})
