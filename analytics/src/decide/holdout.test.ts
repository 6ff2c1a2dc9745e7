// Holdout assignment: a share of ids lands in each holdout (within sampling tolerance), holdouts of
// different rules and the program's are independent, the same id always gets the same answer, and
// raising a share only adds people.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hash32 } from '../util/random.ts'
import { holdoutDraw, inProgramHoldout, inRuleHoldout } from './holdout.ts'

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
// Binomial tolerance: 5 standard errors of a share over n ids (a false alarm about once in 3.5 million).
const tolerance = (share: number, n: number) => 5 * Math.sqrt((share * (1 - share)) / n)
const ruleId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/)

describe('holdouts', () => {
  it('holds out each rule’s share of people, within sampling tolerance', () => {
    fc.assert(
      fc.property(ruleId, fc.double({ min: 0.01, max: 0.5, noNaN: true }), fc.constantFrom('p-', 'patient_', 'anon-3f2a-', ''), (rule, share, prefix) => {
        const people = ids(prefix, 20_000)
        const held = people.filter((p) => inRuleHoldout(p, rule, share)).length / people.length
        expect(Math.abs(held - share)).toBeLessThan(tolerance(share, people.length))
      }),
      { numRuns: 25 },
    )
  })

  it('holds out the program share of patients', () => {
    fc.assert(
      fc.property(ruleId, fc.double({ min: 0.01, max: 0.5, noNaN: true }), (program, share) => {
        const people = ids('pt-', 20_000)
        const held = people.filter((p) => inProgramHoldout(p, program, share)).length / people.length
        expect(Math.abs(held - share)).toBeLessThan(tolerance(share, people.length))
      }),
      { numRuns: 15 },
    )
  })

  it('assigns two rules (and a rule and the program) independently', () => {
    fc.assert(
      fc.property(ruleId, ruleId, fc.double({ min: 0.1, max: 0.5, noNaN: true }), fc.double({ min: 0.1, max: 0.5, noNaN: true }), (a, b, sa, sb) => {
        fc.pre(a !== b)
        const people = ids('p-', 20_000)
        const n = people.length
        let both = 0
        let ruleAndProgram = 0
        for (const p of people) {
          const inA = inRuleHoldout(p, a, sa)
          if (inA && inRuleHoldout(p, b, sb)) both++
          if (inA && inProgramHoldout(p, a, sb)) ruleAndProgram++
        }
        // Independent: the joint share is the product of the shares.
        expect(Math.abs(both / n - sa * sb)).toBeLessThan(tolerance(sa * sb, n))
        expect(Math.abs(ruleAndProgram / n - sa * sb)).toBeLessThan(tolerance(sa * sb, n))
      }),
      { numRuns: 25 },
    )
  })

  it('gives the same answer for the same person, rule and share, and keeps people held out when the share grows', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 64 }),
        ruleId,
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (person, rule, s1, s2) => {
          expect(inRuleHoldout(person, rule, s1)).toBe(inRuleHoldout(person, rule, s1))
          expect(holdoutDraw(person, 'rule', rule)).toBe(holdoutDraw(person, 'rule', rule))
          const [lo, hi] = s1 < s2 ? [s1, s2] : [s2, s1]
          if (inRuleHoldout(person, rule, lo)) expect(inRuleHoldout(person, rule, hi)).toBe(true)
          const d = holdoutDraw(person, 'program', rule)
          expect(d >= 0 && d < 1).toBe(true)
        },
      ),
    )
  })

  it('holds nobody out at share 0, and is pinned to its hash (so the decide endpoint and reports agree across releases)', () => {
    expect(ids('p-', 1000).some((p) => inRuleHoldout(p, 'r', 0) || inProgramHoldout(p, 'r', 0))).toBe(false)
    // Pinned values: changing the hash or the key format would silently move people between groups mid-experiment.
    expect(['p-1', 'p-2', 'p-3'].map((p) => holdoutDraw(p, 'rule', 'email-itch-tips').toFixed(6))).toMatchInlineSnapshot(`
      [
        "0.808537",
        "0.431333",
        "0.245745",
      ]
    `)
    expect(holdoutDraw('p-1', 'rule', 'email-itch-tips')).toBe(hash32('p-1|rule|email-itch-tips') / 2 ** 32)
    expect(holdoutDraw('p-1', 'program', 'psoriasis-demo').toFixed(6)).toMatchInlineSnapshot(`"0.873846"`)
  })
})
