import type { ReferenceIssue } from './reference-issue.ts'
import type { ContentItem, Questionnaire } from './program-sections.ts'
import type { Action, Condition, ContactPolicy, Rule, Stage } from './rule-schema.ts'

/** The parts of a program the rule checks read. */
export interface DecisionSections {
  needs: { id: string }[]
  content: ContentItem[]
  goals: { id: string }[]
  levels: { level: number }[]
  questionnaires: Questionnaire[]
  patterns: { id: string }[]
  rules: Rule[]
  dialoguePlan?: { stages: Stage[] }
  contactPolicy: ContactPolicy
}

/**
 * What the rule schema cannot check alone: every need, goal, content item, questionnaire answer,
 * pattern, stage and level a rule or dialogue-plan step names exists; a content item named for a
 * channel has that channel's variant; ids are unique; every stage after the first has an entry
 * condition. Each issue carries the path of the offending value.
 */
export function decisionReferenceIssues(p: DecisionSections): ReferenceIssue[] {
  const issues: ReferenceIssue[] = []
  const add = (path: (string | number)[], message: string) => issues.push({ path, message })
  const needs = new Set(p.needs.map((n) => n.id))
  const goals = new Set(p.goals.map((g) => g.id))
  const patterns = new Set(p.patterns.map((x) => x.id))
  const content = new Map(p.content.map((c) => [c.id, c]))
  const levels = p.levels.length === 0 ? new Set([0]) : new Set(p.levels.map((l) => l.level))
  const stages = new Set((p.dialoguePlan?.stages ?? []).map((s) => s.id))

  const condition = (c: Condition, path: (string | number)[]): void => {
    if ('all' in c) return c.all.forEach((x, i) => condition(x, [...path, 'all', i]))
    if ('any' in c) return c.any.forEach((x, i) => condition(x, [...path, 'any', i]))
    if ('not' in c) return condition(c.not, [...path, 'not'])
    if ('need' in c && !needs.has(c.need)) add([...path, 'need'], `unknown need "${c.need}"`)
    if ('goal' in c && !goals.has(c.goal)) add([...path, 'goal'], `unknown goal "${c.goal}"`)
    if ('answer' in c) {
      const q = p.questionnaires.find((x) => x.id === c.answer.questionnaire)
      const question = q?.questions.find((x) => x.id === c.answer.question)
      if (!q) add([...path, 'answer', 'questionnaire'], `unknown questionnaire "${c.answer.questionnaire}"`)
      else if (!question) add([...path, 'answer', 'question'], `questionnaire "${q.id}" has no question "${c.answer.question}"`)
      else
        c.answer.in.forEach(
          (a, i) => question.answers.some((x) => x.id === a) || add([...path, 'answer', 'in', i], `question "${question.id}" has no answer "${a}"`),
        )
    }
    if ('daysSince' in c) {
      const s = c.daysSince
      if ('goal' in s && !goals.has(s.goal)) add([...path, 'daysSince', 'goal'], `unknown goal "${s.goal}"`)
      if ('stage' in s && stages.size === 0) add([...path, 'daysSince', 'stage'], 'the program has no dialogue plan')
    }
    if ('stage' in c) c.stage.forEach((s, i) => stages.has(s) || add([...path, 'stage', i], `unknown stage "${s}"`))
    if ('pattern' in c) c.pattern.forEach((x, i) => patterns.has(x) || add([...path, 'pattern', i], `unknown pattern "${x}"`))
  }

  const contentRef = (id: string, channel: keyof ContentItem['channels'], path: (string | number)[]) => {
    const item = content.get(id)
    if (!item) add(path, `unknown content "${id}"`)
    else if (!item.channels[channel]) add(path, `content "${id}" has no ${channel} variant`)
  }
  const action = (a: Action, path: (string | number)[]): void => {
    if (a.type === 'web' || a.type === 'email' || a.type === 'sms' || a.type === 'call') {
      const choice = a.content
      if (typeof choice === 'string') contentRef(choice, a.type, [...path, 'content'])
      else choice?.exclude?.forEach((id, i) => content.has(id) || add([...path, 'content', 'exclude', i], `unknown content "${id}"`))
    }
    if (a.type === 'print') a.items?.forEach((id, i) => contentRef(id, 'print', [...path, 'items', i]))
    if (a.type === 'print' && !a.items?.length && !a.bestFor) add([...path, 'items'], 'names no items and no bestFor: the magazine would be empty')
    if (a.type === 'unlock_level' && !levels.has(a.level)) add([...path, 'level'], `no level ${a.level}`)
    if (a.type === 'move_stage' && !stages.has(a.stage)) add([...path, 'stage'], `unknown stage "${a.stage}"`)
  }

  const seen = new Set<string>()
  p.rules.forEach((r, i) => {
    if (seen.has(r.id)) add(['rules', i, 'id'], `duplicate rule id "${r.id}"`)
    seen.add(r.id)
    condition(r.when, ['rules', i, 'when'])
    action(r.action, ['rules', i, 'action'])
    if (r.active?.from && r.active.until && r.active.from > r.active.until) add(['rules', i, 'active', 'until'], 'must not be before from')
  })
  const stageIds = new Set<string>()
  p.dialoguePlan?.stages.forEach((s, i) => {
    if (stageIds.has(s.id)) add(['dialoguePlan', 'stages', i, 'id'], `duplicate stage id "${s.id}"`)
    stageIds.add(s.id)
    if (i > 0 && !s.entry) add(['dialoguePlan', 'stages', i, 'entry'], 'every stage after the first needs an entry condition')
    if (s.entry) condition(s.entry, ['dialoguePlan', 'stages', i, 'entry'])
    const stepIds = new Set<string>()
    s.steps.forEach((step, j) => {
      if (stepIds.has(step.id)) add(['dialoguePlan', 'stages', i, 'steps', j, 'id'], `duplicate step id "${step.id}"`)
      stepIds.add(step.id)
      if (step.when) condition(step.when, ['dialoguePlan', 'stages', i, 'steps', j, 'when'])
      action(step.action, ['dialoguePlan', 'stages', i, 'steps', j, 'action'])
    })
  })
  return issues
}
