import { OUTBOUND_CHANNELS, type DecisionChannel } from '../program/channels.ts'
import { isContentUsable } from '../program/content-availability.ts'
import type { Profile } from '../profiles/profiles.ts'
import type { ContentItem } from '../program/program-sections.ts'
import type { Program } from '../program/programs.ts'
import { anchorDay, effectiveLevel, evaluate, type ConditionTrace } from './evaluate.ts'
import { inProgramHoldout, inRuleHoldout } from './holdout.ts'
import { localDay as localDayOf, localHourMinute } from '../util/zone-time.ts'
import { RULE_CLASSES, type Action, type Condition, type ContentChoice, type RuleClass } from '../program/rule-schema.ts'
import { DAY_MS, dayText, utcDayNumber } from '../util/days.ts'

// The decision engine: given a profile, the dialogue plan moves the person on, the program's
// rules and the current stage's steps are tested, and arbitration picks at most one intervention
// per web slot — or, for an outbound channel, the person's one next contact across every
// channel — after frequency caps, consent, quiet hours, the contact budget, the content's
// approval and, last, holdouts. Every candidate that matched gets an outcome, logged as a decision.

export type { DecisionChannel } from '../program/channels.ts'
const OUTBOUND: readonly DecisionChannel[] = OUTBOUND_CHANNELS

/** Why a matching candidate was not shown. */
export type SuppressionReason =
  | 'holdout'
  | 'program_holdout'
  | 'cap'
  | 'budget'
  | 'quiet_hours'
  | 'consent'
  | 'unapproved_content'
  | 'no_content'
  | 'arbitration'

/** A decision as it is recorded (a `decision` event). */
export interface DecisionRecord {
  rule: string
  class: RuleClass
  channel: DecisionChannel | 'none'
  slot?: string
  outcome: 'shown' | 'held_out' | 'capped' | 'suppressed'
  reason?: SuppressionReason
  holdout?: 'rule' | 'program'
  contentId?: string
  stage?: string
}

/** Content rendered for the person: the item's variant for the channel, placeholders filled. */
export interface RenderedContent {
  id: string
  title: string
  variant: Record<string, unknown>
}

/** One answer: for a web slot, or for the channel asked. */
export interface DecisionAnswer {
  slot?: string
  channel: DecisionChannel
  outcome: 'shown' | 'none'
  rule?: string
  class?: RuleClass
  action?: Action['type']
  content?: RenderedContent
  /** Print: the magazine's items. */
  items?: RenderedContent[]
  /** Call: the reason shown in the nurse's queue. */
  reason?: string
  /** Why this rule: its description and each condition with the profile value it was tested on. */
  explanation?: { rule: string; description: string; when: ConditionTrace }
  /** Every candidate that matched, in arbitration order, with what became of it. */
  considered: Array<{ rule: string; outcome: DecisionRecord['outcome']; reason?: SuppressionReason }>
}

/** A recent decision not yet in the profile (made by this process since the store last read the person). */
export interface RecentDecision {
  rule: string
  channel: string
  outcome: string
  at: number
}

/** What the engine needs besides the profile. */
export interface DecideInput {
  program: Program
  profile: Profile
  /** The id decisions are made for (the patient id, or an unidentified browser's anonymous id). */
  person: string
  cluster: string | null
  now: number
  channel: DecisionChannel
  slots?: string[]
  /** Decisions this process made that the profile may not show yet. */
  recent?: RecentDecision[]
}

/** The engine's answer: per slot or channel, what to record, and the stage changes the plan made. */
export interface DecideOutput {
  answers: DecisionAnswer[]
  records: DecisionRecord[]
  stageChanges: Array<{ from: string | null; to: string; reason: 'start' | 'entry' | 'rule' }>
  stage: string | null
}

interface Candidate {
  id: string
  description: string
  class: RuleClass
  priority: number
  order: number
  action: Action
  caps: Array<{ times: number; days: number; per: 'rule' | 'channel' }>
  holdout: number
  trace: ConditionTrace
}

/** The channel an action goes out on ('none' for level and stage changes). */
export function actionChannel(a: Action): DecisionChannel | 'none' {
  return a.type === 'unlock_level' || a.type === 'move_stage' ? 'none' : a.type
}

/** Runs the plan, the rules and arbitration for one request. */
export function decide(input: DecideInput): DecideOutput {
  const { program, now } = input
  const records: DecisionRecord[] = []
  const stageChanges: DecideOutput['stageChanges'] = []
  let profile = input.profile
  const recent = input.recent ?? []
  const today = utcDayNumber(now)
  const localDay = localDayOf(now, program.timeZone)
  const evalOn = (c: Condition) => evaluate(c, { program, profile, cluster: input.cluster, now })
  const withStage = (id: string) => {
    profile = { ...profile, stage: { id, enteredAt: new Date(now).toISOString() } }
  }

  // 1. The dialogue plan: everyone starts in the first stage, then moves forward to the furthest stage whose entry holds.
  const stages = program.dialoguePlan?.stages ?? []
  if (stages.length > 0) {
    const current = profile.stage && stages.some((s) => s.id === profile.stage!.id) ? profile.stage.id : null
    if (current === null) {
      stageChanges.push({ from: profile.stage?.id ?? null, to: stages[0]!.id, reason: 'start' })
      withStage(stages[0]!.id)
    }
    const at = stages.findIndex((s) => s.id === profile.stage!.id)
    for (let j = stages.length - 1; j > at; j--) {
      if (evalOn(stages[j]!.entry!).result) {
        stageChanges.push({ from: profile.stage!.id, to: stages[j]!.id, reason: 'entry' })
        withStage(stages[j]!.id)
        break
      }
    }
  }

  // 2. Candidates: active rules of the market whose conditions hold, and the current stage's due steps.
  const shownOf = (rule: string) =>
    profile.decisions.filter((d) => d.rule === rule && d.outcome === 'shown').reduce((n, d) => n + d.times, 0) +
    recent.filter((r) => r.rule === rule && r.outcome === 'shown').length
  const candidates: Candidate[] = []
  program.rules.forEach((r, order) => {
    if (r.active?.from && localDay < r.active.from) return
    if (r.active?.until && localDay > r.active.until) return
    if (r.markets && !r.markets.includes(program.market)) return
    const trace = evalOn(r.when)
    if (trace.result)
      candidates.push({
        id: r.id,
        description: r.description,
        class: r.class,
        priority: r.priority,
        order,
        action: r.action,
        caps: r.caps,
        holdout: r.holdout,
        trace,
      })
  })
  const stage = stages.find((s) => s.id === profile.stage?.id)
  stage?.steps.forEach((step, i) => {
    const anchor =
      step.from === 'enrolment'
        ? anchorDay(profile, { enrolment: true })
        : step.from === 'stage'
          ? anchorDay(profile, { stage: true })
          : anchorDay(profile, { date: step.from.date })
    // Steps are done once: a step shown before is no longer a candidate.
    if (anchor === null || today - anchor < step.day || shownOf(`${stage.id}.${step.id}`) > 0) return
    // A step without a condition is due by its day alone.
    const trace: ConditionTrace = step.when ? evalOn(step.when) : { condition: { all: [] }, result: true }
    if (!trace.result) return
    candidates.push({
      id: `${stage.id}.${step.id}`,
      description: `Dialogue plan, stage ${stage.name}: day ${step.day} step ${step.id}`,
      class: step.class,
      priority: step.priority,
      order: program.rules.length + i,
      action: step.action,
      caps: [],
      holdout: 0,
      trace,
    })
  })
  const rank = (c: Candidate) => RULE_CLASSES.indexOf(c.class)
  const preferred = preferredChannel(profile)
  candidates.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      b.priority - a.priority ||
      Number(actionChannel(b.action) === preferred) - Number(actionChannel(a.action) === preferred) ||
      a.order - b.order,
  )

  // Checks every candidate passes before it is shown, in this order; the first that fails is its outcome.
  const programHeld = inProgramHoldout(input.person, program.id, program.contactPolicy.programHoldout)
  const exempt = (c: { class: RuleClass }) => c.class === 'safety' || c.class === 'service'
  const budgeted = budgetedIds(program)
  const shownWithin = (days: number, match: (rule: string, channel: string) => boolean) => {
    const from = today - days + 1
    const fromDay = dayText(from)
    let n = 0
    for (const d of profile.decisions) if (d.outcome === 'shown' && d.day >= fromDay && match(d.rule, d.channel)) n += d.times
    for (const r of recent) if (r.outcome === 'shown' && Math.floor(r.at / DAY_MS) >= from && match(r.rule, r.channel)) n++
    return n
  }
  // Holdouts come last, among people the intervention would otherwise reach (consented, within
  // caps and budget, content approved): held-out and treated people are then alike but for the
  // intervention, and the uplift report compares like with like.
  const heldOut = (c: Candidate): Omit<DecisionRecord, 'rule' | 'class' | 'channel' | 'slot'> | null => {
    if (programHeld && !exempt(c)) return { outcome: 'held_out', reason: 'program_holdout', holdout: 'program' }
    if (c.holdout > 0 && inRuleHoldout(input.person, c.id, c.holdout)) return { outcome: 'held_out', reason: 'holdout', holdout: 'rule' }
    return null
  }
  const check = (c: Candidate): Omit<DecisionRecord, 'rule' | 'class' | 'channel' | 'slot'> | null => {
    const channel = actionChannel(c.action)
    for (const cap of c.caps) {
      const n = shownWithin(cap.days, (rule, ch) => (cap.per === 'rule' ? rule === c.id : ch === channel))
      if (n >= cap.times) return { outcome: 'capped', reason: 'cap' }
    }
    if (channel !== 'none') {
      // Outbound channels need a recorded grant (P5); web personalisation stops only when refused.
      const consent = profile.consent[channel]?.granted
      if (channel === 'web' ? consent === false : consent !== true) return { outcome: 'suppressed', reason: 'consent' }
      const quiet = program.contactPolicy.quietHours
      if (quiet.channels.includes(channel) && inQuietHours(now, program.timeZone, quiet.from, quiet.to)) return { outcome: 'suppressed', reason: 'quiet_hours' }
      const budget = program.contactPolicy.budget
      if (budget && !exempt(c) && budget.channels.includes(channel)) {
        if (shownWithin(budget.days, (rule, ch) => budgeted.has(rule) && (budget.channels as string[]).includes(ch)) >= budget.contacts)
          return { outcome: 'suppressed', reason: 'budget' }
      }
    }
    return null
  }

  // 3. Level and stage actions apply on any request, once each.
  for (const c of candidates.filter((x) => actionChannel(x.action) === 'none')) {
    const base = { rule: c.id, class: c.class, channel: 'none' as const }
    if (shownOf(c.id) > 0) continue
    if (c.action.type === 'move_stage' && profile.stage?.id === c.action.stage) continue
    const failed = check(c) ?? heldOut(c)
    if (failed) {
      records.push({ ...base, ...failed })
      continue
    }
    if (c.action.type === 'move_stage') {
      stageChanges.push({ from: profile.stage?.id ?? null, to: c.action.stage, reason: 'rule' })
      withStage(c.action.stage)
      records.push({ ...base, outcome: 'shown', stage: c.action.stage })
    } else records.push({ ...base, outcome: 'shown' })
  }

  // 4. Arbitration for what was asked.
  const answers: DecisionAnswer[] = []
  const pick = (pool: Candidate[], answer: DecisionAnswer, stopOnOtherChannel: boolean) => {
    for (const c of pool) {
      const channel = actionChannel(c.action) as DecisionChannel
      const base = { rule: c.id, class: c.class, channel, ...(answer.slot ? { slot: answer.slot } : {}) }
      const failed = check(c)
      if (failed) {
        records.push({ ...base, ...failed })
        answer.considered.push({ rule: c.id, outcome: failed.outcome, ...(failed.reason ? { reason: failed.reason } : {}) })
        continue
      }
      const rendered = render(program, profile, c.action, now)
      if ('missing' in rendered) {
        records.push({ ...base, outcome: 'suppressed', reason: rendered.missing })
        answer.considered.push({ rule: c.id, outcome: 'suppressed', reason: rendered.missing })
        continue
      }
      const held = heldOut(c)
      if (held) {
        records.push({ ...base, ...held })
        answer.considered.push({ rule: c.id, outcome: held.outcome, reason: held.reason! })
        continue
      }
      if (stopOnOtherChannel && channel !== answer.channel) {
        // The person's next contact is on another channel: what was asked here waits (one contact at a time).
        for (const rest of pool.filter((x) => actionChannel(x.action) === answer.channel && !answer.considered.some((k) => k.rule === x.id))) {
          records.push({ rule: rest.id, class: rest.class, channel: answer.channel, outcome: 'suppressed', reason: 'arbitration' })
          answer.considered.push({ rule: rest.id, outcome: 'suppressed', reason: 'arbitration' })
        }
        return
      }
      records.push({ ...base, outcome: 'shown', ...(rendered.contentId ? { contentId: rendered.contentId } : {}) })
      answer.considered.push({ rule: c.id, outcome: 'shown' })
      Object.assign(answer, {
        outcome: 'shown',
        rule: c.id,
        class: c.class,
        action: c.action.type,
        ...rendered.answer,
        explanation: { rule: c.id, description: c.description, when: c.trace },
      })
      return
    }
  }
  if (input.channel === 'web') {
    const web = candidates.filter((c) => c.action.type === 'web')
    const slots = input.slots?.length ? input.slots : [null]
    for (const slot of slots) {
      const answer: DecisionAnswer = { channel: 'web', outcome: 'none', considered: [], ...(slot ? { slot } : {}) }
      pick(
        web.filter((c) => slot === null || (c.action as { slot: string }).slot === slot),
        answer,
        false,
      )
      answers.push(answer)
    }
  } else {
    const answer: DecisionAnswer = { channel: input.channel, outcome: 'none', considered: [] }
    pick(
      candidates.filter((c) => (OUTBOUND as string[]).includes(actionChannel(c.action))),
      answer,
      true,
    )
    answers.push(answer)
  }
  return { answers, records, stageChanges, stage: profile.stage?.id ?? null }
}

const budgetCache = new WeakMap<Program, Set<string>>()
/** What counts against the contact budget: rules and plan steps outside safety and service (per program document, kept). */
function budgetedIds(program: Program): Set<string> {
  let ids = budgetCache.get(program)
  if (!ids) {
    const counted = (x: { class: RuleClass }) => x.class !== 'safety' && x.class !== 'service'
    ids = new Set([
      ...program.rules.filter(counted).map((r) => r.id),
      ...(program.dialoguePlan?.stages ?? []).flatMap((st) => st.steps.filter(counted).map((x) => `${st.id}.${x.id}`)),
    ])
    budgetCache.set(program, ids)
  }
  return ids
}

/** The outbound channel with the person's most touches in the last 90 days (e-mail first on a tie), among channels they consented to. */
export function preferredChannel(profile: Profile): DecisionChannel | null {
  let best: DecisionChannel | null = null
  let most = -1
  for (const ch of OUTBOUND) {
    if (profile.consent[ch]?.granted !== true) continue
    const n = profile.activity.filter((a) => a.channel === ch).reduce((s, a) => s + a.times, 0)
    if (n > most) {
      best = ch
      most = n
    }
  }
  return best
}

/** Whether `now` is within the quiet hours [from, to) in the time zone (wrapping past midnight). */
export function inQuietHours(now: number, timeZone: string, from: string, to: string): boolean {
  const hm = localHourMinute(now, timeZone)
  return from <= to ? hm >= from && hm < to : hm >= from || hm < to
}

/** The content an action shows, rendered for the person; or why there is none. */
function render(
  program: Program,
  profile: Profile,
  action: Action,
  now: number,
): { answer: Partial<DecisionAnswer>; contentId?: string } | { missing: 'unapproved_content' | 'no_content' } {
  const at = { market: program.market, now: new Date(now), timeZone: program.timeZone }
  const level = effectiveLevel(program, profile)
  const fill = (variant: Record<string, unknown>): Record<string, unknown> => {
    const top = profile.needs.find((n) => n.score > 0)
    const values: Record<string, string> = {
      level_name: profile.engagement.level?.name ?? '',
      next_level_name: profile.engagement.next?.name ?? '',
      points_to_next_level: String(profile.engagement.next?.toGo ?? 0),
      top_need_name: top?.name ?? '',
    }
    const sub = (v: unknown): unknown =>
      typeof v === 'string' ? v.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (m, k: string) => values[k] ?? m) : Array.isArray(v) ? v.map(sub) : v
    return Object.fromEntries(Object.entries(variant).map(([k, v]) => [k, sub(v)]))
  }
  const variantOf = (item: ContentItem, channel: keyof ContentItem['channels']) => item.channels[channel] as Record<string, unknown> | undefined
  const choose = (choice: ContentChoice, channel: keyof ContentItem['channels']): ContentItem | 'unapproved_content' | 'no_content' => {
    if (typeof choice === 'string') {
      const item = program.content.find((c) => c.id === choice)
      if (!item || !variantOf(item, channel)) return 'no_content'
      return isContentUsable(item, at) ? item : 'unapproved_content'
    }
    const best = bestFor(program, profile, channel, level, choice.exclude ?? [], now)
    return best[0] ?? 'no_content'
  }
  switch (action.type) {
    case 'web':
    case 'email':
    case 'sms': {
      const item = choose(action.content, action.type)
      if (typeof item === 'string') return { missing: item }
      return { answer: { content: { id: item.id, title: item.title, variant: fill(variantOf(item, action.type)!) } }, contentId: item.id }
    }
    case 'call': {
      if (!action.content) return { answer: { reason: action.reason } }
      const item = choose(action.content, 'call')
      if (typeof item === 'string') return { missing: item }
      return { answer: { reason: action.reason, content: { id: item.id, title: item.title, variant: fill(variantOf(item, 'call')!) } }, contentId: item.id }
    }
    case 'print': {
      const named = (action.items ?? []).map((id) => program.content.find((c) => c.id === id)!).filter((c) => c && isContentUsable(c, at))
      const picked = action.bestFor
        ? [
            ...named,
            ...bestFor(
              program,
              profile,
              'print',
              level,
              named.map((c) => c.id),
              now,
            ),
          ]
        : named
      const items = picked.slice(0, action.maxItems)
      if (items.length === 0) return { missing: action.items?.length ? 'unapproved_content' : 'no_content' }
      return {
        answer: { items: items.map((i) => ({ id: i.id, title: i.title, variant: fill(variantOf(i, 'print')!) })) },
        contentId: items.map((i) => i.id).join(','),
      }
    }
    default:
      return { answer: {} }
  }
}

/** Usable items with a variant for the channel at or below the person's level, best fit to their needs first (catalogue order on ties). */
export function bestFor(
  program: Program,
  profile: Profile,
  channel: keyof ContentItem['channels'],
  level: number,
  exclude: string[],
  now: number,
): ContentItem[] {
  const at = { market: program.market, now: new Date(now), timeZone: program.timeZone }
  const score = new Map(profile.needs.map((n) => [n.need, Math.max(0, n.score)]))
  return program.content
    .map((item, i) => ({ item, i, fit: Object.entries(item.needs).reduce((s, [need, w]) => s + w * (score.get(need) ?? 0), 0) }))
    .filter(({ item, fit }) => fit > 0 && item.level <= level && item.channels[channel] && !exclude.includes(item.id) && isContentUsable(item, at))
    .sort((a, b) => b.fit - a.fit || a.i - b.i)
    .map(({ item }) => item)
}
