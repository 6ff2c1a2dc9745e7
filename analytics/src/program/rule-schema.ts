import { CHANNELS, CONSENT_SCOPES, DECISION_CHANNELS, OUTBOUND_CHANNELS } from './channels.ts'
import { z } from 'zod'

// The rule language: what program managers write in the program document to decide the next
// intervention. One language, two engines — evaluate.ts (a profile, in real time) and
// compile-sql.ts (everyone a rule picks now, in ClickHouse) — that must always agree.
// Cross-references (needs, goals, content, channels, stages …) are checked by references.ts.

const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and dashes (at most 64)')
const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, dashes and underscores (at most 64)')
const text = (max: number) => z.string().trim().min(1).max(max)
const days = z.number().int().min(1).max(365)

/** A comparison with a number: any of gt, gte, lt, lte, eq (all must hold). */
export const comparisonSchema = z
  .strictObject({ gt: z.number().optional(), gte: z.number().optional(), lt: z.number().optional(), lte: z.number().optional(), eq: z.number().optional() })
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'needs at least one of gt, gte, lt, lte, eq')
/** A comparison with a number. */
export type Comparison = z.infer<typeof comparisonSchema>

/** The channels an intervention goes out on (a rule's action names one). */
export const ACTION_CHANNELS = DECISION_CHANNELS
/** What consent can be given for. */
export const CONSENT_SCOPE_NAMES = CONSENT_SCOPES
/** Channels a touch can be counted on. */
const TOUCH_CHANNELS = CHANNELS

/** From when "days since" counts. */
export const sinceSchema = z.union([
  z.strictObject({ enrolment: z.literal(true) }),
  z.strictObject({ event: text(200) }),
  z.strictObject({ goal: name }),
  z.strictObject({ date: name }),
  z.strictObject({ stage: z.literal(true) }),
])
/** From when "days since" counts. */
export type Since = z.infer<typeof sinceSchema>

/** A condition over a profile; `all`, `any` and `not` combine them. */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { need: string; score: Comparison }
  | { need: string; rankAtMost: number }
  | { answer: { questionnaire: string; question: string; in: string[] } }
  | { level: Comparison }
  | { goal: string; reached: boolean; withinDays?: number }
  | { daysSince: Since; is: Comparison }
  | { stage: string[] }
  | { touches: { channel: (typeof TOUCH_CHANNELS)[number]; withinDays: number; event?: string }; count: Comparison }
  | { consent: (typeof CONSENT_SCOPE_NAMES)[number] }
  | { pattern: string[] }
  | { cluster: string[] }

/** A condition (see {@link Condition}); at most 200 nodes deep and wide in practice. */
export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(conditionSchema).min(1).max(50) }),
    z.strictObject({ any: z.array(conditionSchema).min(1).max(50) }),
    z.strictObject({ not: conditionSchema }),
    // The need's score as the profile uses it (explicit when answered, else inferred).
    z.strictObject({ need: slug, score: comparisonSchema }),
    // The need is among the person's `rankAtMost` highest (needs with a score above 0, explicit first).
    z.strictObject({ need: slug, rankAtMost: z.number().int().min(1).max(20) }),
    // The latest answer to a question is one of these.
    z.strictObject({ answer: z.strictObject({ questionnaire: slug, question: slug, in: z.array(slug).min(1).max(12) }) }),
    z.strictObject({ level: comparisonSchema }),
    // Reached (ever, or within the last N days) or not.
    z.strictObject({ goal: name, reached: z.boolean(), withinDays: days.optional() }),
    // Whole days since enrolment, the last time of an event or goal, a clinical date, or entering the current stage.
    z.strictObject({ daysSince: sinceSchema, is: comparisonSchema }),
    z.strictObject({ stage: z.array(slug).min(1).max(20) }),
    // Touches on a channel (optionally one event) within the last N days.
    z.strictObject({ touches: z.strictObject({ channel: z.enum(TOUCH_CHANNELS), withinDays: days, event: text(200).optional() }), count: comparisonSchema }),
    z.strictObject({ consent: z.enum(CONSENT_SCOPE_NAMES) }),
    z.strictObject({ pattern: z.array(slug).min(1).max(30) }),
    z.strictObject({ cluster: z.array(z.string().min(1).max(100)).min(1).max(50) }),
  ]),
)

/** Which content: a catalogue item, or the usable item at the person's level that best fits their needs. */
export const contentChoiceSchema = z.union([slug, z.strictObject({ bestFor: z.literal('needs'), exclude: z.array(slug).max(100).optional() })])
/** Which content an action shows. */
export type ContentChoice = z.infer<typeof contentChoiceSchema>

/** What a rule does. */
export const actionSchema = z.discriminatedUnion('type', [
  // Content in a web slot.
  z.strictObject({ type: z.literal('web'), slot: slug, content: contentChoiceSchema }),
  // An e-mail, an SMS: the content item's e-mail or SMS variant is the template.
  z.strictObject({ type: z.literal('email'), content: contentChoiceSchema }),
  z.strictObject({ type: z.literal('sms'), content: contentChoiceSchema }),
  // A nurse's outbound call with the reason shown in the call queue; a content item's call variant is the script.
  z.strictObject({ type: z.literal('call'), reason: text(300), content: contentChoiceSchema.optional() }),
  // A personalised print magazine: these items, or the best fits for the person's needs.
  z.strictObject({
    type: z.literal('print'),
    items: z.array(slug).max(20).optional(),
    bestFor: z.literal('needs').optional(),
    maxItems: z.number().int().min(1).max(20).default(6),
  }),
  // Deeper content: the person's unlocked level is raised to at least this one.
  z.strictObject({ type: z.literal('unlock_level'), level: z.number().int().min(0) }),
  // A move to a dialogue-plan stage.
  z.strictObject({ type: z.literal('move_stage'), stage: slug }),
])
/** What a rule does. */
export type Action = z.infer<typeof actionSchema>

/** Priority classes, most important first: arbitration takes a higher class before any priority. */
export const RULE_CLASSES = ['safety', 'service', 'adherence', 'education', 'promotion'] as const
/** A priority class. */
export type RuleClass = (typeof RULE_CLASSES)[number]

/** A frequency cap: at most `times` shown per person within `days`, counted over this rule or every rule on the action's channel. */
export const capSchema = z.strictObject({ times: z.number().int().min(1).max(1000), days, per: z.enum(['rule', 'channel']).default('rule') })

/** A rule: when its conditions hold, its action is a candidate for the person. */
export const ruleSchema = z.strictObject({
  id: slug,
  description: text(1000),
  class: z.enum(RULE_CLASSES).default('education'),
  /** Within a class, higher first. */
  priority: z.number().int().min(0).max(1000).default(100),
  when: conditionSchema,
  action: actionSchema,
  caps: z.array(capSchema).max(5).default([]),
  /** Share of the rule's audience held back (deterministic per person and rule), to measure its effect. */
  holdout: z.number().min(0).max(0.5).default(0),
  /** Active from / until these days (inclusive, in the program's time zone). */
  active: z.strictObject({ from: z.iso.date().optional(), until: z.iso.date().optional() }).optional(),
  /** Markets the rule applies in (default: the program's). */
  markets: z
    .array(z.string().regex(/^[A-Z]{2}$/))
    .min(1)
    .max(50)
    .optional(),
})
/** A rule. */
export type Rule = z.infer<typeof ruleSchema>

/** From when a dialogue-plan step's day offset counts. */
export const stepAnchorSchema = z.union([z.literal('enrolment'), z.literal('stage'), z.strictObject({ date: name })])

/** A time-based step of a stage: due `day` days after its anchor, once per person. */
export const planStepSchema = z.strictObject({
  id: slug,
  // Negative: days before the anchor (the eve of a quit date).
  day: z.number().int().min(-365).max(3650),
  from: stepAnchorSchema.default('stage'),
  when: conditionSchema.optional(),
  action: actionSchema,
  class: z.enum(RULE_CLASSES).default('service'),
  priority: z.number().int().min(0).max(1000).default(500),
})
/** A dialogue-plan step. */
export type PlanStep = z.infer<typeof planStepSchema>

/** A dialogue-plan stage: entered when its entry condition holds (from an earlier stage), with its steps. */
export const stageSchema = z.strictObject({
  id: slug,
  name: text(100),
  /** Required for every stage but the first (where everyone starts). */
  entry: conditionSchema.optional(),
  steps: z.array(planStepSchema).max(50).default([]),
})
/** A dialogue-plan stage. */
export type Stage = z.infer<typeof stageSchema>

/** The program's dialogue plan: stages in order; a person moves forward only, or by a rule's move_stage. */
export const dialoguePlanSchema = z.strictObject({ stages: z.array(stageSchema).min(1).max(20) })

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
/** One contact-pressure budget across channels, quiet hours and the program-level holdout. */
export const contactPolicySchema = z.strictObject({
  /** At most `contacts` interventions shown per person within `days` on these channels; safety and service rules are exempt. */
  budget: z
    .strictObject({
      contacts: z.number().int().min(1).max(100),
      days,
      channels: z
        .array(z.enum(ACTION_CHANNELS))
        .min(1)
        .default([...OUTBOUND_CHANNELS]),
    })
    .optional(),
  /** No SMS, call or e-mail between these local times (program time zone); default 21:00–08:00. */
  quietHours: z
    .strictObject({ from: clock, to: clock, channels: z.array(z.enum(ACTION_CHANNELS)).default(['sms', 'call', 'email']) })
    .prefault({ from: '21:00', to: '08:00' }),
  /** Share of patients who get only the basic service (safety and service rules): the program's control group. */
  programHoldout: z.number().min(0).max(0.5).default(0),
})
/** The contact policy. */
export type ContactPolicy = z.infer<typeof contactPolicySchema>

/** The program-document sections of the rule language. */
export const decisionSectionsShape = {
  rules: z.array(ruleSchema).max(500).default([]),
  dialoguePlan: dialoguePlanSchema.optional(),
  contactPolicy: contactPolicySchema.prefault({}),
}
