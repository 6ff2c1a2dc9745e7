import { randomUUID } from 'node:crypto'
import { blankEventRow, chTime, encodeEventRow, type DecideOutput, type OwnEvent, type Profile, type RecentDecision } from '../../analytics/index.ts'
import { payloadText } from './spool/clickhouse-sink.ts'
import type { Spool } from './spool/spool.ts'

/** How long this process remembers its own decisions and stage changes for a person (until the profile shows them). */
const REMEMBER_MS = 3_600_000

/** Where the decision log's events go in memory as they are spooled (the profile store). */
export interface OwnEventStore {
  apply(program: string, person: string, events: OwnEvent[]): void
  /** The events of `apply` were not spooled and will never land. */
  discard(program: string, person: string, messageIds: string[]): void
}

interface Remembered {
  /** With the message id of the event that records each, so a write that fails takes them back. */
  decisions: Array<RecentDecision & { messageId: string }>
  stage: { id: string; at: number; messageId: string } | null
  touched: number
}

/**
 * Records decisions and stage changes as events — `decision` (rule, slot, outcome, reason …) and
 * `stage_changed` — through the spool, like every event, so reports see impressions, control
 * groups and suppressions, and profiles see caps, budgets and stages once they land. Until a
 * person's profile shows them (a second or so), this process remembers its own, so two requests
 * in quick succession cannot both pass a cap or both start a stage. With profiles in memory,
 * `store` takes the same events as they are spooled, and only decisions made on a profile read
 * from ClickHouse (`remember`) are remembered here: the map of everyone decided for within the hour
 * was the largest thing the decide endpoint kept alive, and the garbage collector moved it.
 */
export class DecisionLog {
  readonly #spool: Spool
  readonly #store: OwnEventStore | undefined
  readonly #recent = new Map<string, Remembered>()
  readonly #log: (m: string) => void

  constructor(spool: Spool, log: (m: string) => void, store?: OwnEventStore) {
    this.#spool = spool
    this.#log = log
    this.#store = store
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
    const stored = profile.stage
      ? Date.parse(profile.stage.enteredAt.includes('T') ? profile.stage.enteredAt : `${profile.stage.enteredAt.replace(' ', 'T')}Z`)
      : 0
    const stage = r.stage && r.stage.at > stored ? { id: r.stage.id, enteredAt: new Date(r.stage.at).toISOString() } : profile.stage
    return { profile: stage === profile.stage ? profile : { ...profile, stage }, recent }
  }

  /**
   * Puts the decisions and stage changes of one request into the spool's next grouped write and
   * remembers them; throws when the spool refuses them (full or closed). The answer does not wait
   * for the fdatasync: the decision is made and answered either way (no sender retries it), and
   * waiting put the disk's sync tail — p99 10 ms, max 380 ms while ClickHouse merged — into every
   * decision. A sync that fails later takes the events back from the store and is logged. `userId`
   * is set for a patient, `anonymousId` for an unidentified browser — never both, so a decision
   * links no ids.
   */
  record(p: { program: string; person: string; patient: boolean; keyId: string; requestId: string; now: number; out: DecideOutput; remember: boolean }): void {
    const { out, now } = p
    if (out.records.length === 0 && out.stageChanges.length === 0) return
    const rows: string[] = []
    const own: OwnEvent[] = []
    const who = { userId: p.patient ? p.person : '', anonymousId: p.patient ? '' : p.person, linkedId: '' }
    const add = (event: string, channel: string, properties: Record<string, unknown>, at: number): string => {
      const ts = chTime(at)
      const row = blankEventRow()
      Object.assign(row, {
        message_id: randomUUID(),
        program: p.program,
        type: 'track',
        event,
        channel,
        user_id: who.userId,
        anonymous_id: who.anonymousId,
        ts,
        original_ts: ts,
        received_at: ts,
        key_id: p.keyId,
        library_name: 'attune-decide',
        properties: JSON.stringify(properties),
      })
      rows.push(payloadText(ts.slice(0, 7).replace('-', ''), p.program, row.message_id, encodeEventRow(row), who))
      return row.message_id
    }
    // Several stage changes in one request (start, then an entry rule) are a millisecond apart,
    // the last at `now`, so "the latest stage" is never a tie between equal times.
    const changes = out.stageChanges.length
    out.stageChanges.forEach((c, i) => {
      const at = now - (changes - 1 - i)
      own.push({
        kind: 'stage',
        stage: c.to,
        ts: chTime(at),
        messageId: add('stage_changed', 'server', { stage: c.to, from: c.from, reason: c.reason, requestId: p.requestId }, at),
      })
    })
    const ts = chTime(now)
    for (const r of out.records) {
      const channel = r.channel === 'none' ? 'server' : r.channel
      own.push({ kind: 'decision', rule: r.rule, channel, outcome: r.outcome, ts, messageId: add('decision', channel, { ...r, requestId: p.requestId }, now) })
    }
    // Applied before the write: the writer may land the rows before this function resumes, and the
    // store must know them as its own by then (else it reads them and applies them a second time).
    this.#store?.apply(p.program, p.person, own)
    const key = `${p.program}\u0000${p.person}`
    const takeBack = () => {
      const ids = new Set(own.map((o) => o.messageId))
      this.#store?.discard(p.program, p.person, [...ids])
      const r = this.#recent.get(key)
      if (!r) return
      r.decisions = r.decisions.filter((d) => !ids.has(d.messageId))
      if (r.stage && ids.has(r.stage.messageId)) r.stage = null
    }
    let synced: Promise<void>
    try {
      synced = this.#spool.queue(rows)
    } catch (e) {
      takeBack()
      throw e
    }
    synced.catch((e: unknown) => {
      takeBack()
      this.#log(`decisions of request ${p.requestId} were not recorded: ${(e as Error).message.slice(0, 200)}`)
    })
    if (!p.remember) return
    const remembered = this.#recent.get(key) ?? { decisions: [], stage: null, touched: now }
    remembered.touched = now
    for (const e of own) {
      if (e.kind === 'decision') remembered.decisions.push({ rule: e.rule, channel: e.channel, outcome: e.outcome, at: now, messageId: e.messageId })
      else remembered.stage = { id: e.stage, at: now, messageId: e.messageId }
    }
    // Re-inserted so the map stays in order of last use: forgetting stops at the first recent one.
    this.#recent.delete(key)
    this.#recent.set(key, remembered)
    this.#forget(now)
  }

  #forget(now: number): void {
    // People not decided for within the hour are dropped (their decisions have long landed).
    for (const [k, v] of this.#recent) {
      if (now - v.touched <= REMEMBER_MS) return
      this.#recent.delete(k)
    }
  }
}
