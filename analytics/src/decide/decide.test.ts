// The decision engine on hand-made profiles: arbitration by class and priority, caps, holdouts,
// consent, quiet hours, the contact budget, content approval, the dialogue plan and explanations.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Profile } from '../profiles/profiles.ts'
import { loadPrograms, programSchema, type Program } from '../program/programs.ts'
import { decide, inQuietHours, type DecideInput } from './decide.ts'
import { inProgramHoldout, inRuleHoldout } from './holdout.ts'
import { DAY_MS } from '../util/days.ts'

const demo = loadPrograms(join(import.meta.dirname, '../../../programs'), {}).find((p) => p.program.id === 'psoriasis-demo')!.program
// 10:00 in Berlin on a winter day: outside quiet hours, inside the winter magazine's dates.
const NOON = Date.parse('2026-11-23T09:00:00Z')
const NIGHT = Date.parse('2026-11-23T22:30:00Z')

function profile(over: Partial<Profile> = {}, program: Program = demo): Profile {
  return {
    program: program.id,
    patientId: 'p-1',
    asOf: new Date(NOON).toISOString(),
    ids: ['p-1'],
    needs: program.needs.map((n) => ({ need: n.id, name: n.name, source: 'inferred' as const, score: 0, explicit: null, inferred: 0, touches: 0 })),
    answers: [],
    channels: [],
    goals: [],
    engagement: { value: 0, level: { level: 0, name: 'Welcome' }, next: null, unlocked: { content: [], questionnaires: [] } },
    pattern: null,
    profiledTouches: 0,
    adherence: null,
    consent: {},
    enrolledAt: '2026-11-01',
    dates: {},
    stage: null,
    activity: [],
    decisions: [],
    ...over,
  }
}
const needs = (scores: Record<string, number>, program: Program = demo) =>
  program.needs
    .map((n) => ({ need: n.id, name: n.name, source: 'inferred' as const, score: scores[n.id] ?? 0, explicit: null, inferred: scores[n.id] ?? 0, touches: 1 }))
    .sort((a, b) => b.score - a.score)
const granted = (...scopes: string[]) => Object.fromEntries(scopes.map((s) => [s, { granted: true, at: '2026-11-01 10:00:00.000' }]))
/** A person id that is (or is not) in a rule's holdout and not in the program holdout. */
function personFor(rule: string, share: number, held: boolean): string {
  for (let i = 0; ; i++)
    if (inRuleHoldout(`p-${i}`, rule, share) === held && !inProgramHoldout(`p-${i}`, demo.id, demo.contactPolicy.programHoldout)) return `p-${i}`
}
const run = (p: Profile, over: Partial<DecideInput> = {}) =>
  decide({ program: demo, profile: p, person: personFor('itch-hero', 0.1, false), cluster: null, now: NOON, channel: 'web', slots: ['home-hero'], ...over })

describe('decide', () => {
  it('fills a slot with the highest class and priority that matches, explaining each condition with the value it saw', () => {
    const p = profile({
      needs: needs({ 'itch-and-flares': 2, 'skin-care-routine': 1 }),
      answers: [{ questionnaire: 'first-needs', question: 'mood', answer: 'weighs-on-me', answeredAt: '2026-11-20 10:00:00.000' }],
      stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
    })
    const out = run(p)
    const [a] = out.answers
    // low-mood-support (service) outranks itch-hero (education, higher priority number) by class.
    expect(a).toMatchObject({ slot: 'home-hero', outcome: 'shown', rule: 'low-mood-support', class: 'service', action: 'web', content: { id: 'nurse-line' } })
    expect(a!.explanation!.when).toEqual({
      condition: { answer: { questionnaire: 'first-needs', question: 'mood', in: ['weighs-on-me'] } },
      result: true,
      value: 'weighs-on-me',
    })
    expect(a!.content!.variant).toHaveProperty('headline')
    expect(out.records).toEqual([{ rule: 'low-mood-support', class: 'service', channel: 'web', slot: 'home-hero', outcome: 'shown', contentId: 'nurse-line' }])
    // Without the answer the itch rule wins; its trace shows the rank it was tested on.
    const itch = run(profile({ needs: needs({ 'itch-and-flares': 2, 'skin-care-routine': 1 }), stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' } }))
      .answers[0]!
    expect(itch).toMatchObject({ rule: 'itch-hero', content: { id: 'itch-basics' } })
    expect(itch.explanation!.when).toMatchObject({ result: true, value: 1 })
  })

  it('caps a rule after its times within the days, then the next candidate fills the slot', () => {
    const shown = (times: number) => [{ day: '2026-11-22', rule: 'itch-hero', channel: 'web', outcome: 'shown', times, lastAt: '2026-11-22 10:00:00.000' }]
    const base = { needs: needs({ 'itch-and-flares': 2 }), stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' } }
    expect(run(profile({ ...base, decisions: shown(4) })).answers[0]!.rule).toBe('itch-hero')
    const capped = run(profile({ ...base, decisions: shown(5) }))
    expect(capped.answers[0]).toMatchObject({
      rule: 'best-fit-hero',
      considered: [
        { rule: 'itch-hero', outcome: 'capped', reason: 'cap' },
        { rule: 'best-fit-hero', outcome: 'shown' },
      ],
    })
    expect(capped.records.map((r) => `${r.rule}:${r.outcome}`)).toEqual(['itch-hero:capped', 'best-fit-hero:shown'])
    // Decisions this process made that the profile does not show yet count too.
    const recent = Array.from({ length: 5 }, (_, i) => ({ rule: 'itch-hero', channel: 'web', outcome: 'shown', at: NOON - i * 1000 }))
    expect(run(profile(base), { recent }).answers[0]!.rule).toBe('best-fit-hero')
    // Outside the 7 days the cap no longer holds.
    expect(run(profile({ ...base, decisions: [{ ...shown(9)[0]!, day: '2026-11-10' }] })).answers[0]!.rule).toBe('itch-hero')
  })

  it('holds out a deterministic share per person and rule, logged, and the slot falls to the next rule', () => {
    const held = personFor('itch-hero', 0.1, true)
    const p = profile({ needs: needs({ 'itch-and-flares': 2 }), stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' } })
    const out = run(p, { person: held })
    expect(out.records[0]).toEqual({
      rule: 'itch-hero',
      class: 'education',
      channel: 'web',
      slot: 'home-hero',
      outcome: 'held_out',
      reason: 'holdout',
      holdout: 'rule',
    })
    expect(out.answers[0]!.rule).toBe('best-fit-hero')
    expect(run(p, { person: held }).records).toEqual(out.records)
    // The program holdout gets only safety and service rules.
    let inProgram = ''
    for (let i = 0; !inProgram; i++) if (inProgramHoldout(`q-${i}`, demo.id, 0.05)) inProgram = `q-${i}`
    const outP = run(p, { person: inProgram })
    expect(outP.answers[0]!.outcome).toBe('none')
    expect(outP.records.every((r) => r.outcome === 'held_out' && r.reason === 'program_holdout')).toBe(true)
    // Holdouts are drawn last, among people the rule would otherwise reach: held out of the e-mail
    // rule but without consent, the person counts as suppressed for consent, not as a control.
    const heldMail = personFor('joint-check-email', 0.1, true)
    const mail = (consent: Profile['consent']) =>
      decide({
        program: demo,
        profile: profile({
          needs: needs({ 'joint-health': 1 }),
          consent,
          stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
          decisions: [{ day: '2026-11-01', rule: 'welcome.welcome-email', channel: 'email', outcome: 'shown', times: 1, lastAt: '2026-11-01 10:00:00.000' }],
        }),
        person: heldMail,
        cluster: null,
        now: NOON,
        channel: 'email',
      }).records.find((r) => r.rule === 'joint-check-email')
    expect(mail({})).toMatchObject({ outcome: 'suppressed', reason: 'consent' })
    expect(mail(granted('email'))).toMatchObject({ outcome: 'held_out', reason: 'holdout', holdout: 'rule' })
  })

  it('contacts on outbound channels only with consent, outside quiet hours, within the budget, one channel at a time', () => {
    const person = personFor('joint-check-email', 0.1, false)
    const base = {
      needs: needs({ 'joint-health': 1 }),
      stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
      decisions: [
        { day: '2026-11-01', rule: 'welcome.welcome-email', channel: 'email', outcome: 'shown', times: 1, lastAt: '2026-11-01 10:00:00.000' },
        { day: '2026-11-04', rule: 'welcome.diary-tip', channel: 'sms', outcome: 'shown', times: 1, lastAt: '2026-11-04 10:00:00.000' },
      ],
    }
    const email = (p: Profile, now = NOON) => decide({ program: demo, profile: p, person, cluster: null, now, channel: 'email' })
    expect(email(profile(base)).answers[0]).toMatchObject({
      outcome: 'none',
      considered: [{ rule: 'joint-check-email', outcome: 'suppressed', reason: 'consent' }],
    })
    const ok = email(profile({ ...base, consent: granted('email') }))
    expect(ok.answers[0]).toMatchObject({
      outcome: 'shown',
      rule: 'joint-check-email',
      content: { id: 'joint-check', variant: { subject: expect.any(String) } },
    })
    expect(email(profile({ ...base, consent: { email: { granted: false, at: '2026-11-22 10:00:00.000' } } })).answers[0]!.considered[0]!.reason).toBe('consent')
    expect(email(profile({ ...base, consent: granted('email') }), NIGHT).answers[0]!.considered[0]!.reason).toBe('quiet_hours')
    // Three education contacts in the last 7 days: the budget is spent (safety and service would still go).
    const spent = ['email', 'sms', 'print'].map((ch, i) => ({
      day: `2026-11-2${i}`,
      rule: 'winter-magazine',
      channel: ch,
      outcome: 'shown',
      times: 1,
      lastAt: `2026-11-2${i} 10:00:00.000`,
    }))
    expect(email(profile({ ...base, consent: granted('email'), decisions: [...base.decisions, ...spent] })).answers[0]!.considered[0]!.reason).toBe('budget')
    // Plan steps outside safety and service count too: the welcome SMS (education) and two more spend it.
    const withStep = [{ ...base.decisions[1]!, day: '2026-11-21' }, ...spent.slice(0, 2)]
    expect(email(profile({ ...base, consent: granted('email'), decisions: [base.decisions[0]!, ...withStep] })).answers[0]!.considered[0]!.reason).toBe(
      'budget',
    )
    expect(email(profile({ ...base, consent: granted('email'), decisions: [base.decisions[0]!, ...spent.slice(0, 2)] })).answers[0]!.outcome).toBe('shown')
    // A missed-check-in call (adherence) outranks the e-mail (education): asked for e-mail, it waits for the call.
    const callPerson = personFor('missed-checkins-call', 0.1, false)
    const callFirst = decide({
      program: demo,
      profile: profile({
        ...base,
        consent: granted('email', 'call'),
        goals: [{ goal: 'treatment_checkin', name: 'x', times: 3, points: 15, firstAt: '2026-11-01 10:00:00.000', lastAt: '2026-11-10 10:00:00.000' }],
      }),
      person: inRuleHoldout(callPerson, 'joint-check-email', 0.1) ? person : callPerson,
      cluster: null,
      now: NOON,
      channel: 'email',
    })
    expect(callFirst.answers[0]).toMatchObject({ outcome: 'none', considered: [{ rule: 'joint-check-email', outcome: 'suppressed', reason: 'arbitration' }] })
  })

  it('never shows content whose approval lapsed or that is not approved for the market', () => {
    const lapsed = programSchema.parse({
      ...demo,
      rules: [
        { id: 'sun', description: 'Summer sun', when: { level: { gte: 0 } }, action: { type: 'web', slot: 'home-hero', content: 'summer-sun-and-skin' } },
        {
          id: 'at-only',
          description: 'AT finder',
          when: { level: { gte: 0 } },
          action: { type: 'web', slot: 'home-hero', content: 'dermatologist-finder-at' },
        },
      ],
      dialoguePlan: undefined,
    })
    const out = decide({ program: lapsed, profile: profile({}, lapsed), person: 'p-1', cluster: null, now: NOON, channel: 'web', slots: ['home-hero'] })
    expect(out.answers[0]).toMatchObject({
      outcome: 'none',
      considered: [
        { rule: 'sun', outcome: 'suppressed', reason: 'unapproved_content' },
        { rule: 'at-only', outcome: 'suppressed', reason: 'unapproved_content' },
      ],
    })
  })

  it('starts everyone in the first stage, moves forward when an entry holds, and runs due steps once', () => {
    const person = personFor('itch-hero', 0.1, false)
    const start = decide({ program: demo, profile: profile({ consent: granted('email') }), person, cluster: null, now: NOON, channel: 'email' })
    expect(start.stageChanges).toEqual([{ from: null, to: 'welcome', reason: 'start' }])
    // Enrolled on the 1st: the day-0 welcome e-mail is due (service class, outside the budget).
    expect(start.answers[0]).toMatchObject({ outcome: 'shown', rule: 'welcome.welcome-email', class: 'service' })
    const again = decide({
      program: demo,
      profile: profile({
        consent: granted('email'),
        stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
        decisions: [{ day: '2026-11-01', rule: 'welcome.welcome-email', channel: 'email', outcome: 'shown', times: 1, lastAt: '2026-11-01 10:00:00.000' }],
      }),
      person,
      cluster: null,
      now: NOON,
      channel: 'email',
    })
    expect(again.answers[0]!.rule).not.toBe('welcome.welcome-email')
    expect(again.stageChanges).toEqual([])
    // The first needs questionnaire answered: forward to first-needs (and not further without the level).
    const moved = decide({
      program: demo,
      profile: profile({
        stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
        goals: [{ goal: 'first_needs_answered', name: 'x', times: 1, points: 20, firstAt: '2026-11-20 10:00:00.000', lastAt: '2026-11-20 10:00:00.000' }],
      }),
      person,
      cluster: null,
      now: NOON,
      channel: 'web',
      slots: ['home-hero'],
    })
    expect(moved.stageChanges).toEqual([{ from: 'welcome', to: 'first-needs', reason: 'entry' }])
    expect(moved.stage).toBe('first-needs')
  })

  it('times steps from a clinical date the record carries: the eve of a quit date, its day 3', () => {
    const smoking = loadPrograms(join(import.meta.dirname, '../../../programs'), {}).find((p) => p.program.id === 'smoking-cessation-demo')!.program
    const on = (daysToQuit: number, over: Partial<Profile> = {}) => {
      const quit = new Date(NOON + daysToQuit * DAY_MS).toISOString().slice(0, 10)
      const p = profile(
        {
          consent: granted('sms', 'email', 'call'),
          dates: { quit_date: quit },
          stage: { id: 'getting-ready', enteredAt: '2026-11-01T00:00:00Z' },
          decisions: [
            { day: '2026-11-01', rule: 'getting-ready.why-quit-email', channel: 'email', outcome: 'shown', times: 1, lastAt: '2026-11-01 10:00:00.000' },
            { day: '2026-11-03', rule: 'getting-ready.planner-sms', channel: 'sms', outcome: 'shown', times: 1, lastAt: '2026-11-03 10:00:00.000' },
          ],
          ...over,
        },
        smoking,
      )
      return decide({ program: smoking, profile: p, person: 'p-7', cluster: null, now: NOON, channel: 'sms' })
    }
    // Five days before: still getting ready, nothing due.
    expect(on(5)).toMatchObject({ stage: 'getting-ready', answers: [{ outcome: 'none' }] })
    // Two days before: into quit week, but the eve-of-quit SMS waits for the eve.
    expect(on(2)).toMatchObject({ stage: 'quit-week', answers: [{ outcome: 'none' }] })
    expect(on(1).answers[0]).toMatchObject({ outcome: 'shown', rule: 'quit-week.eve-of-quit-sms', content: { id: 'four-ds' } })
    // Day 3 after the quit date: the advisor call is the next contact, so an SMS request waits for it.
    const done = [
      { day: '2026-11-19', rule: 'quit-week.eve-of-quit-sms', channel: 'sms', outcome: 'shown', times: 1, lastAt: '2026-11-19 10:00:00.000' },
      { day: '2026-11-20', rule: 'quit-week.first-week-email', channel: 'email', outcome: 'shown', times: 1, lastAt: '2026-11-20 10:00:00.000' },
    ]
    const inQuitWeek = { stage: { id: 'quit-week', enteredAt: '2026-11-18T00:00:00Z' }, decisions: done }
    expect(on(-3, inQuitWeek).answers[0]).toMatchObject({ outcome: 'none', considered: [] })
    const call = decide({
      program: smoking,
      profile: profile({ consent: granted('call'), dates: { quit_date: '2026-11-20' }, ...inQuitWeek }, smoking),
      person: 'p-7',
      cluster: null,
      now: NOON,
      channel: 'call',
    })
    expect(call.answers[0]).toMatchObject({
      outcome: 'shown',
      rule: 'quit-week.day-three-call',
      reason: 'Day 3 after the quit date: withdrawal peaks',
      content: { id: 'craving-toolkit' },
    })
  })

  it('applies level unlocks once, and they raise the level rules see', () => {
    const p = profile({
      goals: [
        { goal: 'follow_up_questionnaire_answered', name: 'x', times: 1, points: 30, firstAt: '2026-11-20 10:00:00.000', lastAt: '2026-11-20 10:00:00.000' },
      ],
      stage: { id: 'welcome', enteredAt: '2026-11-01T00:00:00Z' },
    })
    const out = run(p)
    expect(out.records).toContainEqual({ rule: 'deeper-level-unlock', class: 'service', channel: 'none', outcome: 'shown' })
    const after = run(
      profile({
        ...p,
        decisions: [{ day: '2026-11-23', rule: 'deeper-level-unlock', channel: 'server', outcome: 'shown', times: 1, lastAt: '2026-11-23 09:00:00.000' }],
      }),
    )
    expect(after.records.some((r) => r.rule === 'deeper-level-unlock')).toBe(false)
    // Level 3 reached by the unlock: the dialogue plan's deeper-support entry holds.
    expect(after.stageChanges.at(-1)).toMatchObject({ to: 'deeper-support' })
  })

  it('knows quiet hours across midnight in the program’s time zone', () => {
    expect(inQuietHours(Date.parse('2026-11-23T19:59:00Z'), 'Europe/Berlin', '21:00', '08:00')).toBe(false)
    expect(inQuietHours(Date.parse('2026-11-23T20:00:00Z'), 'Europe/Berlin', '21:00', '08:00')).toBe(true)
    expect(inQuietHours(Date.parse('2026-11-24T06:59:00Z'), 'Europe/Berlin', '21:00', '08:00')).toBe(true)
    expect(inQuietHours(Date.parse('2026-11-24T07:00:00Z'), 'Europe/Berlin', '21:00', '08:00')).toBe(false)
    expect(inQuietHours(Date.parse('2026-11-24T12:30:00Z'), 'UTC', '12:00', '13:00')).toBe(true)
  })
})
