import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadPrograms, programSchema } from './programs.ts'

const identity = {
  id: 'skin-de',
  name: 'Skin support',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  demo: true,
  keys: { write: [{ id: 'web', key: 'pk_skin_1234567', origins: ['https://skin.example'] }], secret: [{ id: 'be', key: 'sk_skin_7654321' }] },
}

const approval = { id: 'DE-SKIN-2026-001', validUntil: '2027-06-30' }

/** A small program with every section, each reference in place. */
const complete = () => ({
  ...identity,
  needs: [
    { id: 'itch', name: 'Itch', description: 'Calming the itch.' },
    { id: 'routine', name: 'Routine', description: 'A daily skin care routine.' },
    { id: 'mood', name: 'Mood', description: 'Emotional wellbeing.' },
  ],
  content: [
    {
      id: 'itch-basics',
      title: 'Calming the itch',
      urlPatterns: ['/itch*'],
      needs: { itch: 1 },
      level: 0,
      channels: { web: { headline: 'Itch', text: 'Moisturise.' } },
      markets: ['DE'],
      approval,
    },
    {
      id: 'routine-tips',
      title: 'Routine',
      needs: { routine: 0.8, mood: 0.2 },
      level: 1,
      channels: { sms: { text: 'Moisturise daily.' } },
      markets: ['DE'],
      approval,
    },
  ],
  goals: [{ id: 'diary_downloaded', name: 'Diary', events: [{ event: 'goal_reached', where: { goal: 'diary_downloaded' } }], points: 10 }],
  levels: [
    { level: 0, name: 'Welcome', minValue: 0, unlocks: { content: ['itch-basics'], questionnaires: ['first-needs'] } },
    { level: 1, name: 'Engaged', minValue: 20, dropBelow: 15, unlocks: { content: ['routine-tips'] } },
  ],
  questionnaires: [
    {
      id: 'first-needs',
      title: 'First needs',
      availableAtLevel: 0,
      questions: [
        {
          id: 'main',
          text: 'What matters most?',
          answers: [
            { id: 'itch', text: 'The itch', needs: { itch: 1 } },
            { id: 'mood', text: 'My mood', needs: { mood: 1, itch: -0.2 } },
          ],
        },
      ],
    },
  ],
  patterns: [{ id: 'itch-driven', name: 'Itch-driven', description: 'Itch first.', needs: { itch: 1, routine: 0.3 } }],
})
type Doc = ReturnType<typeof complete>

/** The document's faults as the loader prints them, `path: message`. */
function faults(doc: unknown): string[] {
  const r = programSchema.safeParse(doc)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}
const broken = (change: (d: Doc) => void) => {
  const d = complete()
  change(d)
  return faults(d)
}

describe('program sections', () => {
  it('accepts a complete program and fills in the defaults', () => {
    const p = programSchema.parse(complete())
    expect(p.needHalfLifeDays).toBe(30)
    expect(p.patternMinTouches).toBe(3)
    expect(p.goals[0]!.countOnce).toBe(false)
    expect(p.levels.map((l) => l.dropBelow)).toEqual([0, 15])
    expect(p.levels[1]!.unlocks.questionnaires).toEqual([])
    expect(p.content[1]!.urlPatterns).toEqual([])
  })

  it('loads a minimal program without any of the sections', () => {
    const p = programSchema.parse(identity)
    expect(p).toMatchObject({ needs: [], content: [], goals: [], levels: [], questionnaires: [], patterns: [], patternMinTouches: 3, needHalfLifeDays: 30 })
  })

  it('rejects unknown need ids in content, answers and patterns, naming the path', () => {
    expect(broken((d) => (d.content[1]!.needs = { 'itch-relief': 1 } as never))).toEqual(['content.1.needs.itch-relief: unknown need "itch-relief"'])
    expect(broken((d) => (d.questionnaires[0]!.questions[0]!.answers[1]!.needs = { sleep: 0.5 } as never))).toEqual([
      'questionnaires.0.questions.0.answers.1.needs.sleep: unknown need "sleep"',
    ])
    expect(broken((d) => (d.patterns[0]!.needs = { itch: 1, stigma: 0.5 } as never))).toEqual(['patterns.0.needs.stigma: unknown need "stigma"'])
  })

  it('rejects unknown or misplaced content and questionnaires in level unlocks', () => {
    expect(broken((d) => d.levels[1]!.unlocks.content!.push('flare-plan'))).toEqual(['levels.1.unlocks.content.1: unknown content "flare-plan"'])
    expect(broken((d) => (d.levels[1]!.unlocks = { content: ['routine-tips'], questionnaires: ['follow-up'] } as never))).toEqual([
      'levels.1.unlocks.questionnaires.0: unknown questionnaire "follow-up"',
    ])
    expect(broken((d) => d.levels[1]!.unlocks.content!.push('itch-basics'))).toEqual(['levels.1.unlocks.content.1: content "itch-basics" is at level 0, not 1'])
    expect(broken((d) => (d.levels[1]!.unlocks = { content: ['routine-tips'], questionnaires: ['first-needs'] } as never))).toEqual([
      'levels.1.unlocks.questionnaires.0: questionnaire "first-needs" is available at level 0, not 1',
    ])
  })

  it('rejects levels of items that do not exist', () => {
    expect(broken((d) => (d.content[0]!.level = 4))).toEqual([
      'content.0.level: no level 4',
      'levels.0.unlocks.content.0: content "itch-basics" is at level 4, not 0',
    ])
    expect(broken((d) => ((d.questionnaires[0]!.availableAtLevel = 2), (d.levels[0]!.unlocks.questionnaires = [])))).toEqual([
      'questionnaires.0.availableAtLevel: no level 2',
    ])
    expect(faults({ ...identity, needs: complete().needs, content: [{ ...complete().content[1], level: 1 }] })).toEqual([
      'content.0.level: no level 1: the program defines no levels (only 0)',
    ])
  })

  it('rejects ids used twice in every section', () => {
    expect(broken((d) => d.needs.push({ ...d.needs[0]! }))).toEqual(['needs.3.id: duplicate need id "itch"'])
    expect(broken((d) => (d.content[1]!.id = 'itch-basics'))).toEqual(expect.arrayContaining(['content.1.id: duplicate content id "itch-basics"']))
    expect(broken((d) => d.goals.push({ ...d.goals[0]!, name: 'Again' }))).toEqual(['goals.1.id: duplicate goal id "diary_downloaded"'])
    expect(broken((d) => d.questionnaires.push({ ...d.questionnaires[0]! }))).toEqual(['questionnaires.1.id: duplicate questionnaire id "first-needs"'])
    expect(broken((d) => d.patterns.push({ ...d.patterns[0]! }))).toEqual(['patterns.1.id: duplicate pattern id "itch-driven"'])
    expect(broken((d) => d.questionnaires[0]!.questions.push({ ...d.questionnaires[0]!.questions[0]! }))).toEqual([
      'questionnaires.0.questions.1.id: duplicate question id "main"',
    ])
    expect(broken((d) => (d.questionnaires[0]!.questions[0]!.answers[1]!.id = 'itch'))).toEqual([
      'questionnaires.0.questions.0.answers.1.id: duplicate answer id "itch"',
    ])
  })

  it('rejects levels that are not numbered 0, 1, 2… or whose thresholds do not rise', () => {
    expect(broken((d) => (d.levels[1]!.level = 2))).toEqual(
      expect.arrayContaining(['levels.1.level: levels must be numbered 0, 1, 2… in order: expected 1, found 2']),
    )
    expect(broken((d) => d.levels.reverse())).toEqual(
      expect.arrayContaining(['levels.0.level: levels must be numbered 0, 1, 2… in order: expected 0, found 1']),
    )
    const descending = broken((d) => d.levels.push({ level: 2, name: 'Deeper', minValue: 10, unlocks: {} } as never))
    expect(descending).toEqual(["levels.2.minValue: must be above the previous level's minValue (20)"])
    expect(broken((d) => (d.levels[0]!.minValue = 5))).toEqual(['levels.0.minValue: must be 0: every patient is at least at the first level'])
  })

  it('rejects hysteresis above the entry threshold or below the previous level', () => {
    expect(broken((d) => (d.levels[1]!.dropBelow = 25))).toEqual(['levels.1.dropBelow: must be at most minValue (20)'])
    expect(broken((d) => ((d.levels[0]!.minValue = 0), (d.levels[1]!.dropBelow = 20)))).toEqual([])
    const low = broken((d) => d.levels.push({ level: 2, name: 'Deeper', minValue: 60, dropBelow: 10, unlocks: {} } as never))
    expect(low).toEqual(["levels.2.dropBelow: must be at least the previous level's minValue (20): a patient below it cannot stay at a higher level"])
  })

  it('checks each section’s own shape', () => {
    expect(broken((d) => d.needs.splice(2))).toEqual(expect.arrayContaining([expect.stringMatching(/^needs: Too small/)]))
    expect(broken((d) => (d.content[0]!.channels = {} as never))).toEqual([
      'content.0.channels: needs at least one channel variant (web, email, sms, print or call)',
    ])
    expect(broken((d) => (d.content[1]!.channels = { sms: { text: 'x'.repeat(321) } }))).toEqual([
      expect.stringMatching(/^content\.1\.channels\.sms\.text: Too big/),
    ])
    expect(broken((d) => (d.content[0]!.channels = { web: { headline: 'Hi', text: 'Hi', html: '<p onclick="x()">Hi</p>' } } as never))).toEqual([
      'content.0.channels.web.html: must not contain scripts, frames, styles or event-handler attributes',
    ])
    expect(broken((d) => (d.content[0]!.approval = { id: 'A-1', validUntil: '30.06.2027' }))).toEqual([
      'content.0.approval.validUntil: must be an ISO date, YYYY-MM-DD',
    ])
    expect(broken((d) => (d.content[0]!.markets = ['Germany']))).toEqual(['content.0.markets.0: must be an ISO 3166-1 alpha-2 country code'])
    expect(broken((d) => (d.content[0]!.urlPatterns = ['demo/itch*']))).toEqual([expect.stringMatching(/^content\.0\.urlPatterns\.0: must be a path glob/)])
    expect(broken((d) => (d.content[0]!.needs = { itch: 1.5 }))).toEqual([expect.stringMatching(/^content\.0\.needs\.itch: Too big/)])
    expect(broken((d) => (d.questionnaires[0]!.questions[0]!.answers[0]!.needs = { itch: -2 }))).toEqual([
      expect.stringMatching(/^questionnaires\.0\.questions\.0\.answers\.0\.needs\.itch: Too small/),
    ])
    expect(broken((d) => (d.goals[0]!.points = 2.5))).toEqual([expect.stringMatching(/^goals\.0\.points: /)])
    expect(faults({ ...complete(), needHalfLifeDays: 0 })).toEqual([expect.stringMatching(/^needHalfLifeDays: Too small/)])
    expect(faults({ ...complete(), needHalfLifeDays: 400 })).toEqual([expect.stringMatching(/^needHalfLifeDays: Too big/)])
  })

  it('stops the loader with the path of a broken reference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-programs-'))
    try {
      const d = complete()
      d.content[1]!.needs = { 'itch-relief': 1 } as never
      writeFileSync(join(dir, 'p.json'), JSON.stringify(d))
      expect(() => loadPrograms(dir, {})).toThrow(/p\.json: content\.1\.needs\.itch-relief: unknown need "itch-relief"/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
