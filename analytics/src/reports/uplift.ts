import { z } from 'zod'
import type { Db } from '../storage/client.ts'
import { chTime } from '../storage/event-row.ts'
import type { Program } from '../program/programs.ts'
import { sql } from '../storage/sql.ts'
import { inProgramHoldout } from '../decide/holdout.ts'
import { compareGroups, type UpliftComparison } from './uplift-stats.ts'
import { DAY_MS } from '../util/days.ts'

// The measured effect of each rule, and of the program as a whole, on an outcome goal: the
// people treated against the people held out, in phases — parse the options, run the two models
// (sql/uplift-rules.sql, sql/uplift-program.sql), split the program level by the program holdout,
// shape each comparison with its interval and small-cell suppression (uplift-stats.ts).

/** What the uplift report is asked for. */
export const upliftOptionsSchema = z
  .strictObject({
    /** The goal that is the outcome (staying on treatment, an adherence check-in, a quit date kept …). */
    outcomeGoal: z.string().min(1).max(64),
    /** People whose first decision (rules) or first touch (program) falls in [from, to), as epoch ms. */
    from: z.number().int(),
    to: z.number().int(),
    /** The outcome counts when reached within this many days from that first decision or touch. */
    windowDays: z.number().int().min(1).max(365),
    /** Only these rules (default: every rule with decisions in the window), reported in this order. */
    rules: z.array(z.string().min(1).max(64)).max(500).optional(),
    /** Groups with fewer distinct people are suppressed (guarantee P2). */
    minCell: z.number().int().min(1).max(1000).default(5),
    /** The goal must be reached on at least this many distinct days (program time zone): > 1 for adherence check-ins. */
    minDays: z.number().int().min(1).max(365).default(1),
    /** Treated: people `shown` the rule, or every decision that passed the holdout check (`assigned`: also capped and suppressed). */
    treatedBy: z.enum(['shown', 'assigned']).default('shown'),
    /** The time the report is made (default: now); says whether every outcome window has closed. */
    now: z.number().int().optional(),
  })
  .refine((o) => o.from < o.to, { message: 'must be after from', path: ['to'] })
  .refine((o) => o.minDays <= o.windowDays, { message: 'cannot exceed windowDays', path: ['minDays'] })
/** What the uplift report is asked for (input). */
export type UpliftOptions = z.input<typeof upliftOptionsSchema>

/** One rule: its own holdout against those it treated. */
export interface RuleUplift extends UpliftComparison {
  rule: string
  /** The rule's holdout share in the program document now (null: no such rule any more). */
  holdoutShare: number | null
  /** People with decisions in both groups (left out of both); null when 1 to minCell − 1. */
  mixed: number | null
}

/** The program: patients in the program holdout (basic service only) against everyone else. */
export interface ProgramUplift extends UpliftComparison {
  holdoutShare: number
}

/** The uplift report. */
export interface UpliftReport {
  program: string
  outcome: { goal: string; minDays: number }
  from: string
  to: string
  windowDays: number
  minCell: number
  treatedBy: 'shown' | 'assigned'
  confidence: 0.95
  method: 'wilson-newcombe-hybrid-score'
  /** Whether `to + windowDays` has passed: before that, late starters have not had their whole window. */
  windowsClosed: boolean
  rules: RuleUplift[]
  overall: ProgramUplift
}

/** A row of sql/uplift-rules.sql. */
export interface UpliftRuleRow {
  rule: string
  treated: number | string
  treated_reached: number | string
  held_out: number | string
  held_out_reached: number | string
  mixed: number | string
}

/** A row of sql/uplift-program.sql. */
export interface UpliftProgramRow {
  person: string
  reached: number | boolean
}

/**
 * The outcome rates of treated and held-out people per rule and for the program, the uplift and
 * its 95% interval (Newcombe's hybrid score), small groups suppressed.
 * @example await upliftReport(db, program, { outcomeGoal: 'treatment_checkin', from: Date.parse('2026-10-01'), to: Date.parse('2026-11-01'), windowDays: 30 })
 */
export async function upliftReport(db: Db, program: Program, options: UpliftOptions): Promise<UpliftReport> {
  const opts = parseUpliftOptions(program, options)
  const params = {
    program: program.id,
    from: chTime(opts.from),
    to: chTime(opts.to),
    window_days: opts.windowDays,
    goal: opts.outcomeGoal,
    min_days: opts.minDays,
    tz: program.timeZone,
  }
  const ruleRows = await db.query<UpliftRuleRow>(sql('uplift-rules'), { ...params, rules: opts.rules ?? [], assigned: opts.treatedBy === 'assigned' ? 1 : 0 })
  const patients = await db.query<UpliftProgramRow>(sql('uplift-program'), params)

  const share = program.contactPolicy.programHoldout
  const arms = { treated: { people: 0, reached: 0 }, heldOut: { people: 0, reached: 0 } }
  for (const p of patients) {
    const arm = inProgramHoldout(p.person, program.id, share) ? arms.heldOut : arms.treated
    arm.people++
    if (Number(p.reached)) arm.reached++
  }

  const byRule = new Map(ruleRows.map((r) => [r.rule, r]))
  const shares = new Map(program.rules.map((r) => [r.id, r.holdout]))
  const rules = (opts.rules ?? [...byRule.keys()]).map((rule): RuleUplift => {
    const r = byRule.get(rule)
    const n = (v: number | string | undefined) => Number(v ?? 0)
    const mixed = n(r?.mixed)
    return {
      rule,
      holdoutShare: shares.get(rule) ?? null,
      ...compareGroups({ people: n(r?.treated), reached: n(r?.treated_reached) }, { people: n(r?.held_out), reached: n(r?.held_out_reached) }, opts.minCell),
      // Zero reveals no one; 1 to minCell − 1 people would.
      mixed: mixed > 0 && mixed < opts.minCell ? null : mixed,
    }
  })

  return {
    program: program.id,
    outcome: { goal: opts.outcomeGoal, minDays: opts.minDays },
    from: new Date(opts.from).toISOString(),
    to: new Date(opts.to).toISOString(),
    windowDays: opts.windowDays,
    minCell: opts.minCell,
    treatedBy: opts.treatedBy,
    confidence: 0.95,
    method: 'wilson-newcombe-hybrid-score',
    windowsClosed: opts.to + opts.windowDays * DAY_MS <= (opts.now ?? Date.now()),
    rules,
    overall: { holdoutShare: share, ...compareGroups(arms.treated, arms.heldOut, opts.minCell) },
  }
}

/** The options checked against the schema and the program (the outcome must be one of its goals); throws a ZodError naming the field. */
export function parseUpliftOptions(program: Program, options: UpliftOptions): z.output<typeof upliftOptionsSchema> {
  return upliftOptionsSchema
    .superRefine((o, ctx) => {
      if (!program.goals.some((g) => g.id === o.outcomeGoal))
        ctx.addIssue({ code: 'custom', path: ['outcomeGoal'], message: `"${o.outcomeGoal}" is not a goal of program ${program.id}` })
    })
    .parse(options)
}
