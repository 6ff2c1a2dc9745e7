import { z } from 'zod'
import { decisionSectionsShape } from './rule-schema.ts'

// The sections of a program document that describe what the program offers and measures:
// needs, content, goals, levels, questionnaires and patterns. References between them are
// checked by `programReferenceIssues` (program-references.ts), which needs the whole document.

// An id of a need, content item, questionnaire, question, answer or pattern.
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and dashes (at most 64)')

// Goal ids mirror the goal names sites send (`data-attune-goal="diary_downloaded"`), so underscores are allowed.
const goalId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be lower-case letters, digits, dashes and underscores (at most 64)')

const text = (max: number) => z.string().trim().min(1).max(max)

/** A country code, as in `market`. */
export const countryCode = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code')

// A path glob matched against page paths: `*` within one segment, `**` across segments.
const urlPattern = z
  .string()
  .max(200)
  .regex(/^\/[A-Za-z0-9\-._~%!$&'()+,;=:@/*]*$/, 'must be a path glob starting with /, e.g. /demo/itch* (no query or fragment)')

// A path on the program's site that an e-mail or SMS links to; the dispatcher adds the click token.
const sitePath = z
  .string()
  .max(200)
  .regex(/^\/[A-Za-z0-9\-._~%!$&'()+,;=:@/]*$/, 'must be a path starting with /')

// The SDK inserts catalogue HTML as HTML, so refuse what would run script; a guard against mistakes, not a sanitiser.
const vettedHtml = z
  .string()
  .max(20_000)
  .refine(
    (h) => !/<\s*(script|iframe|object|embed|style)\b|\son[a-z]+\s*=|javascript:/i.test(h),
    'must not contain scripts, frames, styles or event-handler attributes',
  )

// Weights of needs, keyed by need id; that the ids exist is checked across sections.
const needWeights = (min: number, max: number) => z.record(z.string().max(64), z.number().min(min).max(max))

/** One need of the program's needs taxonomy. */
export const needSchema = z.object({
  id: slug,
  name: text(100),
  description: text(1000),
})
/** One need of the program's needs taxonomy. */
export type Need = z.infer<typeof needSchema>

/** A content item's variants, one per channel it can be delivered on. */
export const contentChannelsSchema = z
  .object({
    web: z.object({ headline: text(200), text: text(2000), html: vettedHtml.optional() }).optional(),
    email: z
      .object({ subject: text(150), preheader: text(200).optional(), text: text(10_000), html: vettedHtml.optional(), link: sitePath.optional() })
      .optional(),
    sms: z.object({ text: text(320), link: sitePath.optional() }).optional(),
    print: z.object({ headline: text(200), text: text(8000) }).optional(),
    call: z.object({ script: text(5000), talkingPoints: z.array(text(300)).max(12).optional() }).optional(),
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), 'needs at least one channel variant (web, email, sms, print or call)')
/** A content item's channel variants. */
export type ContentChannels = z.infer<typeof contentChannelsSchema>

/** One item of the content catalogue. */
export const contentItemSchema = z.object({
  id: slug,
  title: text(200),
  /** Path globs of the pages that show this item; a page view on one is a touch with it. */
  urlPatterns: z.array(urlPattern).max(50).default([]),
  /** How much the item speaks to each need (0..1); touches add these to the patient's inferred needs. */
  needs: needWeights(0, 1).refine((n) => Object.keys(n).length > 0, 'needs at least one need weight'),
  /** The engagement level at which the item becomes available. */
  level: z.number().int().min(0),
  channels: contentChannelsSchema,
  /** Markets the item is approved for; it is usable only in these. */
  markets: z.array(countryCode).min(1).max(50),
  /** The medical/legal approval of the material; after `validUntil` it is never chosen. */
  approval: z.object({
    id: text(100),
    /** The last day the approval covers (inclusive). */
    validUntil: z.iso.date('must be an ISO date, YYYY-MM-DD'),
  }),
})
/** One item of the content catalogue. */
export type ContentItem = z.infer<typeof contentItemSchema>

/** An event that counts towards a goal: its name and, optionally, property values it must have. */
export const goalEventSchema = z.object({
  event: text(200),
  where: z.record(z.string().min(1).max(100), z.union([z.string().max(500), z.number(), z.boolean()])).optional(),
})
/** An event that counts towards a goal. */
export type GoalEvent = z.infer<typeof goalEventSchema>

/** A goal: the events that reach it and the engagement-value points each reach earns. */
export const goalSchema = z.object({
  id: goalId,
  name: text(200),
  events: z.array(goalEventSchema).min(1).max(20),
  points: z.number().int().min(0).max(10_000),
  /** Only the first occurrence per patient counts (otherwise every occurrence does). */
  countOnce: z.boolean().default(false),
})
/** A goal. */
export type Goal = z.infer<typeof goalSchema>

/** An engagement level: entered at `minValue`, left only below `dropBelow` (which parsing fills in). */
export const levelSchema = z
  .object({
    level: z.number().int().min(0),
    name: text(100),
    /** The engagement value at which a patient enters the level. */
    minValue: z.number().min(0),
    /** Hysteresis: a patient at this level drops from it only below this value (at most `minValue`; default `minValue`). */
    dropBelow: z.number().min(0).optional(),
    /** What becomes available at this level; each item's own `level` / `availableAtLevel` must be this level. */
    unlocks: z
      .object({
        content: z.array(slug).max(100).default([]),
        questionnaires: z.array(slug).max(20).default([]),
      })
      .prefault({}),
  })
  .transform((l) => ({ ...l, dropBelow: l.dropBelow ?? l.minValue }))
/** An engagement level. */
export type Level = z.infer<typeof levelSchema>

/** One answer to a questionnaire question and what it says about each need (-1..1). */
export const answerSchema = z.object({
  id: slug,
  text: text(300),
  needs: needWeights(-1, 1).default({}),
})

/** One single-choice question of a needs questionnaire. */
export const questionSchema = z.object({
  id: slug,
  text: text(500),
  answers: z.array(answerSchema).min(2).max(12),
})

/** A needs questionnaire: explicit needs, which outrank inferred ones. */
export const questionnaireSchema = z.object({
  id: slug,
  title: text(200),
  /** The engagement level from which the questionnaire is offered. */
  availableAtLevel: z.number().int().min(0),
  questions: z.array(questionSchema).min(1).max(30),
})
/** A needs questionnaire. */
export type Questionnaire = z.infer<typeof questionnaireSchema>

/** A pattern card: a typical profile, as weights over the needs; patients are matched to the nearest. */
export const patternSchema = z.object({
  id: slug,
  name: text(100),
  description: text(1000),
  needs: needWeights(0, 1).refine((n) => Object.keys(n).length > 0, 'needs at least one need weight'),
})
/** A pattern card. */
export type Pattern = z.infer<typeof patternSchema>

/**
 * The program sections beyond identity and keys. Each is optional (absent: empty, or the
 * default), so a program that only collects events needs none of them.
 */
export const programSectionsShape = {
  /** The needs taxonomy: 3–20 needs when present. */
  needs: z.array(needSchema).min(3).max(20).default([]),
  content: z.array(contentItemSchema).max(1000).default([]),
  goals: z.array(goalSchema).max(200).default([]),
  levels: z.array(levelSchema).max(20).default([]),
  questionnaires: z.array(questionnaireSchema).max(50).default([]),
  patterns: z.array(patternSchema).max(30).default([]),
  /** Touches with content a patient needs before being matched to a pattern. */
  patternMinTouches: z.number().int().min(1).max(1000).default(3),
  /** Half-life, in days, of a touch's contribution to the inferred needs. */
  needHalfLifeDays: z.number().min(1).max(365).default(30),
  /**
   * Adherence: the goal that is a medication check-in, and the reminder schedule it answers (one
   * check-in expected every `everyDays` days), measured over the last `windowDays`.
   */
  adherence: z
    .object({ goal: z.string().max(64), everyDays: z.number().int().min(1).max(31).default(1), windowDays: z.number().int().min(7).max(365).default(90) })
    .optional(),
  /** Personal data the program's sites and backends may name in their own words: property, trait and context keys removed at ingestion besides Attune's list. */
  privacy: z
    .object({
      personalDataKeys: z
        .array(
          z
            .string()
            .min(1)
            .max(64)
            .regex(/^[A-Za-z0-9 _.-]+$/, 'letters, digits, spaces, dots, dashes and underscores'),
        )
        .max(200)
        .default([]),
    })
    .default({ personalDataKeys: [] }),
  /** Rules, the dialogue plan and the contact policy (the rule language, program/rule-schema.ts). */
  ...decisionSectionsShape,
}
