import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isContentUsable, matchesUrlPattern, urlPatternToRegExp } from './content-availability.ts'
import { loadPrograms } from './programs.ts'

const psoriasis = loadPrograms(join(import.meta.dirname, '../../../programs'), {}).find((p) => p.program.id === 'psoriasis-demo')!.program

describe('isContentUsable', () => {
  it('excludes the psoriasis program’s lapsed and other-market items and keeps the others', () => {
    const at = { market: psoriasis.market, now: new Date('2026-12-01T09:00:00Z'), timeZone: psoriasis.timeZone }
    const excluded = psoriasis.content.filter((c) => !isContentUsable(c, at)).map((c) => c.id)
    expect(excluded.sort()).toEqual(['dermatologist-finder-at', 'summer-sun-and-skin'])
    expect(psoriasis.content.filter((c) => isContentUsable(c, at))).toHaveLength(psoriasis.content.length - 2)
  })

  it('keeps an item in the market it is approved for', () => {
    const austria = psoriasis.content.find((c) => c.id === 'dermatologist-finder-at')!
    expect(isContentUsable(austria, { market: 'AT', now: new Date('2026-12-01T09:00:00Z') })).toBe(true)
    expect(isContentUsable(austria, { market: 'DE', now: new Date('2026-12-01T09:00:00Z') })).toBe(false)
  })

  it('counts the last day of an approval, in the given time zone', () => {
    const item = { markets: ['DE'], approval: { id: 'DE-X-1', validUntil: '2027-06-30' } }
    expect(isContentUsable(item, { market: 'DE', now: new Date('2027-06-30T21:59:59Z'), timeZone: 'Europe/Berlin' })).toBe(true)
    // 22:30 UTC is already 1 July in Berlin (summer time), still 30 June in UTC.
    expect(isContentUsable(item, { market: 'DE', now: new Date('2027-06-30T22:30:00Z'), timeZone: 'Europe/Berlin' })).toBe(false)
    expect(isContentUsable(item, { market: 'DE', now: new Date('2027-06-30T22:30:00Z') })).toBe(true)
    expect(isContentUsable(item, { market: 'DE', now: new Date('2027-07-01T00:00:00Z') })).toBe(false)
  })
})

describe('matchesUrlPattern', () => {
  it('matches * within a segment, ** across segments, and ignores a trailing slash', () => {
    expect(matchesUrlPattern('/demo/itch*', '/demo/itch')).toBe(true)
    expect(matchesUrlPattern('/demo/itch*', '/demo/itch-at-night')).toBe(true)
    expect(matchesUrlPattern('/demo/itch*', '/demo/itch/night')).toBe(false)
    expect(matchesUrlPattern('/demo/itch*', '/demo/scratch')).toBe(false)
    expect(matchesUrlPattern('/demo/**', '/demo/treatments/topical/creams')).toBe(true)
    expect(matchesUrlPattern('/demo/', '/demo')).toBe(true)
    expect(matchesUrlPattern('/demo/', '/demo/')).toBe(true)
    expect(matchesUrlPattern('/demo/', '/demo/diary')).toBe(false)
    expect(matchesUrlPattern('/demo/diary', '/demo/diary/')).toBe(true)
    expect(matchesUrlPattern('/', '/')).toBe(true)
    expect(matchesUrlPattern('/', '/demo')).toBe(false)
  })

  it('takes every other character literally', () => {
    expect(matchesUrlPattern('/demo/treatment-diary.txt', '/demo/treatment-diary.txt')).toBe(true)
    expect(matchesUrlPattern('/demo/treatment-diary.txt', '/demo/treatment-diaryxtxt')).toBe(false)
    expect(matchesUrlPattern('/a+(b)', '/a+(b)')).toBe(true)
    // RE2 syntax, for ClickHouse's match().
    expect(urlPatternToRegExp('/demo/itch*').source).toBe(String.raw`^\/demo\/itch[^/]*\/?$`)
  })

  it('matches a path of its own shape for every pattern of the psoriasis program', () => {
    for (const c of psoriasis.content) {
      for (const pattern of c.urlPatterns) expect(matchesUrlPattern(pattern, pattern.replace(/\*+/g, 'x')), `${c.id} ${pattern}`).toBe(true)
    }
  })
})
