import { randomUUID } from 'node:crypto'
import { blankEventRow, chTime, encodeEventRow, type DecideOutput, type Profile, type RecentDecision } from '../../analytics/index.ts'
import { payloadText } from './spool/clickhouse-sink.ts'
import type { Spool } from './spool/spool.ts'

/** How long this process remembers its own decisions and stage changes for a person (until the profile shows them). */
const REMEMBER_MS = 3_600_000

interface Remembered {
  decisions: RecentDecision[]
  stage: { id: string; at: number } | null
  touched: number
}

/**
 * Records decisions and stage changes as events — `decision` (rule, slot, outcome, reason …) and
 * `stage_changed` — through the spool, like every event, so reports see impressions, control
 * groups and suppressions, and profiles see caps, budgets and stages once they land. Until a
 * person's profile shows them (a second or so), this process remembers its own, so two requests
 * in quick succession cannot both pass a cap or both start a stage.
 */
export class DecisionLog {
  readonly #spool: Spool
  readonly #recent = new Map<string, Remembered>()

  constructor(spool: Spool) {
    this.#spool = spool
  }

  /** The profile with this process's newer stage, and its decisions the profile does not show yet. */
  overlay(program: string, person: string, profile: Profile): { profile: Profile; recent: RecentDecision[] } {
    const r = this.#recent.get(`${program}\u0000${person}`)
    if (!r) return { profile, recent: [] }
    const shownUpTo = new Map<string, number>()
    for (const d of profile.decisions) {
      const k = `${d.rule}\u0000${d.channel}\u0000${d.outcome}`
      shownUpTo.set(k, Math.max(shownUpTo.get(k) ?? 0, Date.parse(`${d.lastAt.replace(' ', 'T')}Z`)))
    }
    const recent = r.decisions.filter((d) => d.at > (shownUpTo.get(`${d.rule}\u0000${d.channel}\u0000${d.outcome}`) ?? 0))
    const stored = profile.stage ? Date.parse(profile.stage.enteredAt.includes('T') ? profile.stage.enteredAt : `${profile.stage.enteredAt.replace(' ', 'T')}Z`) : 0
    const stage = r.stage && r.stage.at > stored ? { id: r.stage.id, enteredAt: new Date(r.stage.at).toISOString() } : profile.stage
    return { profile: stage === profile.stage ? profile : { ...profile, stage }, recent }
  }

  /**
   * Appends the decisions and stage changes of one request to the spool (one synced write) and
   * remembers them. `userId` is set for a patient, `anonymousId` for an unidentified browser —
   * never both, so a decision links no ids.
   */
  async record(p: { program: string; person: string; patient: boolean; keyId: string; requestId: string; now: number; out: DecideOutput }): Promise<void> {
    const { out, now } = p
    if (out.records.length === 0 && out.stageChanges.length === 0) return
    const ts = chTime(now)
    const rows: string[] = []
    const who = { userId: p.patient ? p.person : '', anonymousId: p.patient ? '' : p.person, linkedId: '' }
    const add = (event: string, channel: string, properties: Record<string, unknown>) => {
      const row = blankEventRow()
      Object.assign(row, { message_id: randomUUID(), program: p.program, type: 'track', event, channel, user_id: who.userId, anonymous_id: who.anonymousId, ts, original_ts: ts, received_at: ts, key_id: p.keyId, library_name: 'attune-decide', properties: JSON.stringify(properties) })
      rows.push(payloadText(ts.slice(0, 7).replace('-', ''), p.program, row.message_id, encodeEventRow(row), who))
    }
    for (const c of out.stageChanges) add('stage_changed', 'server', { stage: c.to, from: c.from, reason: c.reason, requestId: p.requestId })
    for (const r of out.records) add('decision', r.channel === 'none' ? 'server' : r.channel, { ...r, requestId: p.requestId })
    await this.#spool.append(rows)
    const key = `${p.program}\u0000${p.person}`
    const remembered = this.#recent.get(key) ?? { decisions: [], stage: null, touched: now }
    remembered.touched = now
    for (const r of out.records) remembered.decisions.push({ rule: r.rule, channel: r.channel === 'none' ? 'server' : r.channel, outcome: r.outcome, at: now })
    const last = out.stageChanges.at(-1)
    if (last) remembered.stage = { id: last.to, at: now }
    this.#recent.set(key, remembered)
    this.#forget(now)
  }

  #forget(now: number): void {
    // The map is kept small: people not decided for within the hour are dropped (their decisions have long landed).
    if (this.#recent.size < 10_000) return
    for (const [k, v] of this.#recent) if (now - v.touched > REMEMBER_MS) this.#recent.delete(k)
  }
}
