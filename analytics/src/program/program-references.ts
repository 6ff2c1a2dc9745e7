import type { ContentItem, Level, Need, Pattern, Questionnaire } from './program-sections.ts'
import { decisionReferenceIssues } from './rule-references.ts'
import type { ReferenceIssue } from './reference-issue.ts'
import type { ContactPolicy, Rule, Stage } from './rule-schema.ts'

/** The parts of a program the reference checks read. */
export interface ProgramSections {
  needs: Need[]
  content: ContentItem[]
  goals: { id: string }[]
  levels: Level[]
  questionnaires: Questionnaire[]
  patterns: Pattern[]
  adherence?: { goal: string }
  rules: Rule[]
  dialoguePlan?: { stages: Stage[] }
  contactPolicy: ContactPolicy
}

/**
 * Checks what the schema of each section cannot: unique ids, need ids in content, answers and
 * patterns, content and questionnaire ids in level unlocks, levels numbered 0, 1, 2… with rising
 * thresholds and sound hysteresis, and item levels that exist.
 */
export function programReferenceIssues(p: ProgramSections): ReferenceIssue[] {
  const issues: ReferenceIssue[] = []
  const add = (path: (string | number)[], message: string) => issues.push({ path, message })

  const unique = (items: { id: string }[], section: (string | number)[], what: string) => {
    const seen = new Set<string>()
    items.forEach((item, i) => {
      if (seen.has(item.id)) add([...section, i, 'id'], `duplicate ${what} id "${item.id}"`)
      seen.add(item.id)
    })
  }
  unique(p.needs, ['needs'], 'need')
  unique(p.content, ['content'], 'content')
  unique(p.goals, ['goals'], 'goal')
  unique(p.questionnaires, ['questionnaires'], 'questionnaire')
  unique(p.patterns, ['patterns'], 'pattern')
  if (p.adherence && !p.goals.some((g) => g.id === p.adherence!.goal)) add(['adherence', 'goal'], `unknown goal "${p.adherence.goal}"`)
  p.questionnaires.forEach((q, qi) => {
    unique(q.questions, ['questionnaires', qi, 'questions'], 'question')
    q.questions.forEach((question, ki) => unique(question.answers, ['questionnaires', qi, 'questions', ki, 'answers'], 'answer'))
  })

  const needIds = new Set(p.needs.map((n) => n.id))
  const knownNeeds = (weights: Record<string, number>, path: (string | number)[]) => {
    for (const id of Object.keys(weights)) if (!needIds.has(id)) add([...path, id], `unknown need "${id}"`)
  }
  p.content.forEach((c, i) => knownNeeds(c.needs, ['content', i, 'needs']))
  p.patterns.forEach((pattern, i) => knownNeeds(pattern.needs, ['patterns', i, 'needs']))
  p.questionnaires.forEach((q, qi) =>
    q.questions.forEach((question, ki) =>
      question.answers.forEach((a, ai) => knownNeeds(a.needs, ['questionnaires', qi, 'questions', ki, 'answers', ai, 'needs'])),
    ),
  )

  p.levels.forEach((l, i) => {
    if (l.level !== i) add(['levels', i, 'level'], `levels must be numbered 0, 1, 2… in order: expected ${i}, found ${l.level}`)
    if (i === 0 && l.minValue !== 0) add(['levels', 0, 'minValue'], 'must be 0: every patient is at least at the first level')
    const below = p.levels[i - 1]
    if (below && l.minValue <= below.minValue) add(['levels', i, 'minValue'], `must be above the previous level's minValue (${below.minValue})`)
    else if (l.dropBelow > l.minValue) add(['levels', i, 'dropBelow'], `must be at most minValue (${l.minValue})`)
    else if (below && l.dropBelow < below.minValue)
      add(['levels', i, 'dropBelow'], `must be at least the previous level's minValue (${below.minValue}): a patient below it cannot stay at a higher level`)
  })

  const levelNumbers = new Set(p.levels.map((l) => l.level))
  // Without levels every patient is at level 0, so only level 0 exists.
  const levelExists = (n: number) => (p.levels.length === 0 ? n === 0 : levelNumbers.has(n))
  const noLevel = (n: number) => (p.levels.length === 0 ? `no level ${n}: the program defines no levels (only 0)` : `no level ${n}`)
  p.content.forEach((c, i) => {
    if (!levelExists(c.level)) add(['content', i, 'level'], noLevel(c.level))
  })
  p.questionnaires.forEach((q, i) => {
    if (!levelExists(q.availableAtLevel)) add(['questionnaires', i, 'availableAtLevel'], noLevel(q.availableAtLevel))
  })

  const contentById = new Map(p.content.map((c) => [c.id, c]))
  const questionnaireById = new Map(p.questionnaires.map((q) => [q.id, q]))
  p.levels.forEach((l, i) => {
    l.unlocks.content.forEach((id, j) => {
      const c = contentById.get(id)
      if (!c) add(['levels', i, 'unlocks', 'content', j], `unknown content "${id}"`)
      else if (c.level !== l.level) add(['levels', i, 'unlocks', 'content', j], `content "${id}" is at level ${c.level}, not ${l.level}`)
    })
    l.unlocks.questionnaires.forEach((id, j) => {
      const q = questionnaireById.get(id)
      if (!q) add(['levels', i, 'unlocks', 'questionnaires', j], `unknown questionnaire "${id}"`)
      else if (q.availableAtLevel !== l.level)
        add(['levels', i, 'unlocks', 'questionnaires', j], `questionnaire "${id}" is available at level ${q.availableAtLevel}, not ${l.level}`)
    })
  })
  issues.push(...decisionReferenceIssues(p))
  return issues
}
