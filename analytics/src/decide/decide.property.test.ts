// Properties of the decision engine over generated profiles, consent timelines, times of day and
// past decisions, with both example programs' rules and plans (guarantee P5: no intervention on
// a channel without consent for it, 0 violations).
import fc from 'fast-check'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Profile } from '../profiles/profiles.ts'
import { loadPrograms, type Program } from '../program/programs.ts'
import { decide, inQuietHours } from './decide.ts'
import { inRuleHoldout } from './holdout.ts'
import { DAY_MS } from '../util/days.ts'

const programs = loadPrograms(join(import.meta.dirname, '../../../programs'), {}).map((p) => p.program)
const BASE = Date.parse('2026-11-23T00:00:00Z')
const SCOPES = ['analytics', 'web', 'email', 'sms', 'call', 'print'] as const
const day = (t: number) => new Date(t).toISOString().slice(0, 10)
const chTime = (t: number) => new Date(t).toISOString().replace('T', ' ').replace('Z', '')

/** A generated profile of a program, and the moment of the request. */
function arbitraryCase(program: Program) {
  const ruleIds = [...program.rules.map((r) => r.id), ...(program.dialoguePlan?.stages ?? []).flatMap((s) => s.steps.map((x) => `${s.id}.${x.id}`))]
  const time = fc.integer({ min: BASE - 60 * DAY_MS, max: BASE + DAY_MS - 1 })
  return fc.record({
    now: fc.integer({ min: BASE, max: BASE + DAY_MS - 1 }),
    person: fc.stringMatching(/^p-[a-z0-9]{1,8}$/),
    scores: fc.array(fc.double({ min: -1, max: 3, noNaN: true }), { minLength: program.needs.length, maxLength: program.needs.length }),
    level: fc.integer({ min: 0, max: Math.max(0, program.levels.length - 1) }),
    // A consent timeline: records per scope, the latest wins (as the consent model keeps it).
    consent: fc.array(fc.record({ scope: fc.constantFrom(...SCOPES), granted: fc.boolean(), at: time }), { maxLength: 10 }),
    goals: fc.uniqueArray(fc.record({ goal: fc.constantFrom(...program.goals.map((g) => g.id)), last: time, times: fc.integer({ min: 1, max: 20 }) }), {
      selector: (g) => g.goal,
      maxLength: 6,
    }),
    answers: fc.array(
      fc.constantFrom(
        ...program.questionnaires.flatMap((q) => q.questions.flatMap((x) => x.answers.map((a) => ({ questionnaire: q.id, question: x.id, answer: a.id })))),
      ),
      { maxLength: 5 },
    ),
    stage: fc.option(fc.constantFrom(...(program.dialoguePlan?.stages ?? []).map((s) => s.id)), { nil: null }),
    enrolledDaysAgo: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
    quitInDays: fc.integer({ min: -40, max: 40 }),
    decisions: fc.array(
      fc.record({
        rule: fc.constantFrom(...ruleIds),
        channel: fc.constantFrom('web', 'email', 'sms', 'call', 'print'),
        outcome: fc.constantFrom('shown', 'held_out', 'capped', 'suppressed'),
        daysAgo: fc.integer({ min: 0, max: 30 }),
        times: fc.integer({ min: 1, max: 4 }),
      }),
      { maxLength: 12 },
    ),
    channel: fc.constantFrom('web' as const, 'email' as const, 'sms' as const, 'call' as const, 'print' as const),
  })
}

type Case = ReturnType<typeof arbitraryCase> extends fc.Arbitrary<infer T> ? T : never

function profileOf(program: Program, c: Case): Profile {
  const needs = program.needs
    .map((n, i) => ({ need: n.id, name: n.name, source: 'inferred' as const, score: c.scores[i]!, explicit: null, inferred: c.scores[i]!, touches: 1 }))
    .sort((a, b) => b.score - a.score)
  const consent: Profile['consent'] = {}
  for (const r of [...c.consent].sort((a, b) => a.at - b.at)) consent[r.scope] = { granted: r.granted, at: chTime(r.at) }
  const level = program.levels[c.level]
  return {
    program: program.id,
    patientId: c.person,
    asOf: new Date(c.now).toISOString(),
    ids: [c.person],
    needs,
    answers: c.answers.map((a) => ({ ...a, answeredAt: chTime(c.now - DAY_MS) })),
    channels: [],
    goals: c.goals.map((g) => ({ goal: g.goal, name: g.goal, times: g.times, points: 0, firstAt: chTime(g.last - DAY_MS), lastAt: chTime(g.last) })),
    engagement: {
      value: level?.minValue ?? 0,
      level: level ? { level: level.level, name: level.name } : null,
      next: null,
      unlocked: { content: [], questionnaires: [] },
    },
    pattern: null,
    profiledTouches: 0,
    adherence: null,
    consent,
    enrolledAt: c.enrolledDaysAgo === null ? null : day(c.now - c.enrolledDaysAgo * DAY_MS),
    dates: { quit_date: day(c.now + c.quitInDays * DAY_MS) },
    stage: c.stage ? { id: c.stage, enteredAt: chTime(c.now - 5 * DAY_MS) } : null,
    activity: [],
    decisions: c.decisions.map((d) => ({
      day: day(c.now - d.daysAgo * DAY_MS),
      rule: d.rule,
      channel: d.channel,
      outcome: d.outcome,
      times: d.times,
      lastAt: chTime(c.now - d.daysAgo * DAY_MS),
    })),
  }
}

describe.each(programs.map((p) => [p.id, p] as const))('decide on %s', (_, program) => {
  it('never contacts without consent, in quiet hours, over the budget, or a held-out person; one contact at a time; always the same answer', () => {
    const exemptIds = new Set([
      ...program.rules.filter((r) => r.class === 'safety' || r.class === 'service').map((r) => r.id),
      ...(program.dialoguePlan?.stages ?? []).flatMap((s) =>
        s.steps.filter((x) => x.class === 'safety' || x.class === 'service').map((x) => `${s.id}.${x.id}`),
      ),
    ])
    let shownOutbound = 0
    fc.assert(
      fc.property(arbitraryCase(program), (c) => {
        const profile = profileOf(program, c)
        const input = {
          program,
          profile,
          person: c.person,
          cluster: null,
          now: c.now,
          channel: c.channel,
          slots: c.channel === 'web' ? ['home-hero'] : undefined,
        }
        const out = decide(input)
        expect(decide(input)).toEqual(out)
        const shown = out.records.filter((r) => r.outcome === 'shown' && r.channel !== 'none')
        for (const r of shown) {
          const granted = profile.consent[r.channel]?.granted
          // P5: outbound needs a grant; web personalisation stops when refused.
          if (r.channel === 'web') expect(granted).not.toBe(false)
          else expect(granted).toBe(true)
          const quiet = program.contactPolicy.quietHours
          if ((quiet.channels as string[]).includes(r.channel)) expect(inQuietHours(c.now, program.timeZone, quiet.from, quiet.to)).toBe(false)
          const rule = program.rules.find((x) => x.id === r.rule)
          if (rule) expect(inRuleHoldout(c.person, rule.id, rule.holdout)).toBe(false)
          // Caps: the shows within each cap's days, this one included, stay within its times.
          for (const cap of rule?.caps ?? []) {
            const from = Math.floor(c.now / DAY_MS) - cap.days + 1
            const before = profile.decisions
              .filter(
                (d) =>
                  d.outcome === 'shown' &&
                  Math.floor(Date.parse(`${d.day}T00:00:00Z`) / DAY_MS) >= from &&
                  (cap.per === 'rule' ? d.rule === rule!.id : d.channel === r.channel),
              )
              .reduce((n, d) => n + d.times, 0)
            expect(before + 1).toBeLessThanOrEqual(cap.times)
          }
          const budget = program.contactPolicy.budget
          if (budget && !exemptIds.has(r.rule) && (budget.channels as string[]).includes(r.channel)) {
            const from = Math.floor(c.now / DAY_MS) - budget.days + 1
            const spent = profile.decisions
              .filter(
                (d) =>
                  d.outcome === 'shown' &&
                  !exemptIds.has(d.rule) &&
                  (budget.channels as string[]).includes(d.channel) &&
                  Math.floor(Date.parse(`${d.day}T00:00:00Z`) / DAY_MS) >= from,
              )
              .reduce((n, d) => n + d.times, 0)
            expect(spent + 1).toBeLessThanOrEqual(budget.contacts)
          }
          // Only the channel asked for is shown.
          expect(r.channel).toBe(c.channel)
        }
        // One show per slot, one contact per outbound request.
        expect(shown.length).toBeLessThanOrEqual(1)
        if (c.channel !== 'web') shownOutbound += shown.length
        // Every answer's shown rule is among the records.
        for (const a of out.answers) if (a.outcome === 'shown') expect(shown.map((r) => r.rule)).toContain(a.rule)
      }),
      { numRuns: 1500, seed: 7 },
    )
    // The properties were tested on shown contacts, not only on empty answers.
    expect(shownOutbound).toBeGreaterThan(20)
  })
})
