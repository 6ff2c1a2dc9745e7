import type { Db } from '../storage/client.ts'
import { chTime } from '../storage/event-row.ts'
import { sql } from '../storage/sql.ts'

/** How a conversion's credit is shared among the touches before it. */
export type AttributionModel = 'first_touch' | 'last_touch' | 'linear'

/** Credited conversions of one goal for one channel and campaign under one model. */
export interface AttributionRow {
  goal: string
  model: AttributionModel
  channel: string
  campaign: string
  conversions: number
}

/**
 * Goal conversions between `since` and `until`, attributed across web, e-mail, SMS, call centre
 * and print to the touches before them (same person, all linked ids, within `lookbackDays`).
 * @example await goalAttribution(db, 'psoriasis-demo', { since: Date.now() - 30 * DAY_MS })
 */
export async function goalAttribution(db: Db, program: string, opts: { since: number; until?: number; lookbackDays?: number }): Promise<AttributionRow[]> {
  const rows = await db.query<AttributionRow & { conversions: number | string }>(sql('goal-attribution'), {
    program,
    since: chTime(opts.since),
    until: chTime(opts.until ?? Date.now()),
    lookback_days: opts.lookbackDays ?? 30,
  })
  return rows.map((r) => ({ ...r, conversions: Number(r.conversions) }))
}
