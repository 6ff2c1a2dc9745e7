// The compiler on its own (no engine): every value a condition carries travels as a bound
// parameter, never as SQL text (guarantee K6), and only the parts a condition reads are in the
// query. That compiled audiences agree with evaluate() is shown against ClickHouse in
// test/audience-sql.test.ts.
import fc from 'fast-check'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadPrograms } from '../program/programs.ts'
import { compileAudience } from './compile-sql.ts'
import type { Condition } from '../program/rule-schema.ts'

const program = loadPrograms(join(import.meta.dirname, '../../../programs'), {}).find((p) => p.program.id === 'psoriasis-demo')!.program
const now = Date.parse('2026-11-23T12:00:00Z')

/** Hostile text and odd numbers in every place a condition has a value. */
const marker = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `ZQX'"\\{${s}}`)
const odd = fc.integer({ min: 100_000, max: 999_999 }).map((n) => n + 0.375)
const cmp = fc.record({ gt: odd, lte: odd })
const leaf: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ need: fc.constantFrom(...program.needs.map((n) => n.id)), score: cmp }),
  fc.record({ need: fc.constantFrom(...program.needs.map((n) => n.id)), rankAtMost: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ answer: fc.record({ questionnaire: marker, question: marker, in: fc.array(marker, { minLength: 1, maxLength: 3 }) }) }),
  fc.record({ level: cmp }),
  fc.record({ goal: marker, reached: fc.boolean(), withinDays: fc.integer({ min: 1, max: 365 }) }),
  fc.record({
    daysSince: fc.oneof(
      fc.constant({ enrolment: true as const }),
      marker.map((event) => ({ event })),
      marker.map((goal) => ({ goal })),
      marker.map((date) => ({ date })),
      fc.constant({ stage: true as const }),
    ),
    is: cmp,
  }),
  fc.record({ stage: fc.array(marker, { minLength: 1, maxLength: 3 }) }),
  fc.record({
    touches: fc.record({
      channel: fc.constantFrom('web', 'email', 'sms', 'call', 'print', 'app', 'server' as const),
      withinDays: fc.integer({ min: 1, max: 365 }),
      event: marker,
    }),
    count: cmp,
  }),
  fc.record({ consent: fc.constantFrom('analytics', 'web', 'email', 'sms', 'call', 'print', 'app' as const) }),
  fc.record({ pattern: fc.array(marker, { minLength: 1, maxLength: 3 }) }),
  fc.record({ cluster: fc.array(marker, { minLength: 1, maxLength: 3 }) }),
) as fc.Arbitrary<Condition>
const condition = fc
  .array(leaf, { minLength: 1, maxLength: 8 })
  .chain((leaves) => fc.constantFrom<Condition>({ all: leaves }, { any: leaves }, { not: { all: leaves } }))

/** Every string and number a condition holds. */
function values(c: unknown): Array<string | number> {
  if (typeof c === 'string' || typeof c === 'number') return [c]
  if (Array.isArray(c)) return c.flatMap(values)
  if (c && typeof c === 'object') return Object.values(c).flatMap(values)
  return []
}

describe('compileAudience', () => {
  it('binds every value as a parameter: none is in the SQL text, and the only literals are fixed ones', () => {
    fc.assert(
      fc.property(condition, (c) => {
        const { sql, params } = compileAudience(program, c, { now })
        for (const v of values(c)) if (typeof v === 'string' ? v.startsWith('ZQX') : v > 1000) expect(sql).not.toContain(String(v))
        expect(sql).not.toContain('ZQX')
        // String literals in the query: a time zone, a date part and the language's own outcome name.
        expect(new Set(sql.match(/'[^']*'/g) ?? [])).toEqual(
          new Set([...(sql.includes("'UTC'") ? ["'UTC'"] : []), ...(sql.includes("'day'") ? ["'day'"] : []), ...(sql.includes("'shown'") ? ["'shown'"] : [])]),
        )
        const bound = JSON.stringify(params)
        for (const v of values(c)) if (typeof v === 'string' && v.startsWith('ZQX')) expect(bound).toContain(JSON.stringify(v).slice(1, -1))
      }),
      { numRuns: 200 },
    )
  })

  it('reads only the parts the condition needs', () => {
    const { sql, params } = compileAudience(program, { consent: 'email' }, { now })
    expect(sql).toContain('consents AS (')
    expect(sql).not.toMatch(/need_scores|levels AS|stages AS|clusters AS|activity AS/)
    expect(Object.keys(params).sort()).toEqual(['p0', 'program'])
    expect(compileAudience(program, { need: 'stigma', rankAtMost: 2 }, { now }).sql).toContain('need_scores AS (')
    expect(compileAudience(program, { pattern: ['itch-driven'] }, { now }).sql).toMatch(/need_scores AS \([\s\S]*patterns AS \(/)
  })

  it('compiles what evaluate() treats as constant: a need the program does not have', () => {
    expect(compileAudience(program, { need: 'not-a-need', rankAtMost: 3 }, { now }).sql).toMatch(/WHERE coalesce\(0, 0\)/)
    const score = compileAudience(program, { need: 'not-a-need', score: { lt: 1 } }, { now })
    expect(score.params).toMatchObject({ p0: 0, p1: 1 })
    expect(() => compileAudience(program, { nonsense: true } as unknown as Condition, { now })).toThrow(/not a condition/)
  })
})
