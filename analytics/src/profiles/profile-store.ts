import type { Db } from '../storage/client.ts'
import { nextTurn } from '../util/next-turn.ts'
import {
  aggregateSignature,
  assembleProfile,
  compareDecisions,
  emptyAggregates,
  mergeAggregates,
  readActorAggregates,
  type ActivityRow,
  type ActorAggregates,
  type DecisionRow,
  type Profile,
} from './profiles.ts'
import type { Program } from '../program/programs.ts'
import { sql } from '../storage/sql.ts'
import { DAY_MS, dayNumber, dayText } from '../util/days.ts'

/** Who an event landed for, as the writer knows it: the patient id, the anonymous id, and the id it links to the patient (alias: the previous id). */
export interface LandedActor {
  userId: string
  anonymousId: string
  /** The id an identify/alias event links to `userId` ('' when none). */
  linkedId: string
  /** When that link was made (the event's time, ms): a browser shared by patients belongs to the one linked last. */
  linkedAt?: number
  /** The event's message id: the store knows its own events (see `applyOwn`) by it. */
  messageId?: string
}

/**
 * An event this process wrote for a person and applied to the store itself — its own `decision`
 * and `stage_changed` events, the only writes to the decision and stage aggregates (ingestion
 * refuses both names from keys) — with the time it carries in ClickHouse's text form.
 */
export type OwnEvent = { messageId: string; ts: string } & (
  | { kind: 'decision'; rule: string; channel: string; outcome: string }
  | { kind: 'stage'; stage: string }
)

/** Ids per page when the store loads a program: a page's rows are held in memory at once. */
const IDS_PER_PAGE = 50_000
/** Age of the anchor after which a program is loaded again (the served state stays in use meanwhile). */
const REANCHOR_MS = 30 * DAY_MS
/** Wait after a failed load before the next. */
const RETRY_LOAD_MS = 30_000
/**
 * Ids per query when re-reading those the writer landed events for. A query's rows are held at
 * once: 20,000 ids' (a burst of consent updates) were hundreds of MB that lived through young
 * collections into the old generation, and every later young collection took longer for them
 * (its time follows the old generation's size). Measured with --trace-gc after the decide
 * benchmark's 71,688 consent updates: heap during the load 560 MB at 20,000 ids, 355 MB at 2,000.
 * At 2,000 the rows of one query (~300,000) were still parsed and packed in one go: event-loop
 * gaps of 0.8–1.4 s while the consent updates landed; at 500, with turns between, 249–368 ms.
 */
const REFRESH_IDS = 500
/** Ids packed between turns of the event loop during a load or a refresh. */
const PUT_PER_TURN = 100

interface ProgramState {
  signature: string
  /** Need sums are relative to this time (the load's start). */
  anchor: number
  /** Each id's aggregates but decisions and stage, packed in a buffer outside the JS heap (see packTouches). */
  actors: Map<string, Buffer>
  /** The (channel, event) pairs the packed activity rows name by number. */
  activityKeys: ActivityKeys
  /** Each id's decisions and stage (the part the decide endpoint changes on every decision), as one JSON string (see packDecided). */
  decided: Map<string, string>
  /** Patient id → the ids linked to it. */
  links: Map<string, Set<string>>
  /** Linked id → the patient ids it is linked to (an id linked to several: the first by id answers). */
  linkedTo: Map<string, Map<string, number>>
  ready: boolean
  /** Ids with events landed since they were last read. */
  dirty: Set<string>
  /** Per id, its own events applied in memory whose insert has not been confirmed yet: a read of the id from ClickHouse lacks them, so they are applied again on top. */
  own: Map<string, OwnEvent[]>
  /** Ids being read by the refresh in progress. */
  reading: Set<string>
  /**
   * Own events of ids being read that landed meanwhile: the read may predate their insert, and
   * they are no longer in `own`, so the refresh applies them too (the id is read again after).
   */
  landedWhileReading: Map<string, OwnEvent[]>
  refreshing: Promise<void> | null
  loading: Promise<void> | null
}

/**
 * Profiles served from memory. ClickHouse stays the source of truth: at start each program's
 * per-id aggregates (actor-aggregates.sql, the same query a direct profile read uses) and identity
 * links are read page by page; after every insert the writer names the ids it landed events for,
 * and those are read again (one query for all of them), so a profile follows ClickHouse within one
 * refresh of the insert. Identity links are applied from the landed events at once. The decide
 * endpoint's own decisions and stage changes are applied to memory as they are spooled instead
 * (`applyOwn`): re-reading every decided person after each insert cost more than deciding.
 *
 * Only a process that is ClickHouse's only writer may use it (the embedded engine behind the data
 * lock): on a shared server other collectors' inserts would never reach this memory.
 */
export class ProfileStore {
  readonly #db: Db
  readonly #log: (m: string) => void
  /** The state each program is served from. */
  readonly #states = new Map<string, ProgramState>()
  /** States being loaded: they receive landings too, and replace the served state once ready. */
  readonly #pending = new Map<string, ProgramState>()
  readonly #failedAt = new Map<string, number>()
  #stopped = false

  constructor(db: Db, log: (m: string) => void) {
    this.#db = db
    this.#log = log
  }

  /**
   * Loads (or reloads) a program. The state being served stays in use until the new one is ready
   * unless its settings no longer match the program; until a program is ready `read` answers null
   * and callers read ClickHouse.
   */
  load(program: Program): Promise<void> {
    const pending = this.#pending.get(program.id)
    if (pending?.loading) return pending.loading
    // After a failed load, reads go to ClickHouse for a while instead of each starting another load.
    if (Date.now() - (this.#failedAt.get(program.id) ?? 0) < RETRY_LOAD_MS) return Promise.resolve()
    const state: ProgramState = {
      signature: aggregateSignature(program),
      anchor: Date.now(),
      actors: new Map(),
      activityKeys: new ActivityKeys(),
      decided: new Map(),
      links: new Map(),
      linkedTo: new Map(),
      ready: false,
      dirty: new Set(),
      own: new Map(),
      reading: new Set(),
      landedWhileReading: new Map(),
      refreshing: null,
      loading: null,
    }
    this.#pending.set(program.id, state)
    state.loading = this.#loadState(program, state)
      .then(() => {
        if (this.#pending.get(program.id) !== state) return
        this.#pending.delete(program.id)
        this.#states.set(program.id, state)
        state.ready = true
        this.#refresh(program, state)
      })
      .catch((e: unknown) => {
        // Reads fall back to ClickHouse (or the older state); the next read tries again.
        if (this.#pending.get(program.id) === state) this.#pending.delete(program.id)
        this.#failedAt.set(program.id, Date.now())
        this.#log(`profile store: ${program.id} could not be loaded (${(e as Error).message.slice(0, 200)}); profiles are read from ClickHouse`)
      })
      .finally(() => (state.loading = null))
    return state.loading
  }

  async #loadState(program: Program, state: ProgramState): Promise<void> {
    const started = Date.now()
    const count = await this.#db.query<{ n: number }>('SELECT uniqExact(actor_id) AS n FROM channel_touches WHERE program = {program:String}', {
      program: program.id,
    })
    const pages = Math.max(1, Math.ceil(Number(count[0]?.n ?? 0) / IDS_PER_PAGE))
    for (let page = 0; page < pages && !this.#stopped; page++) {
      const actors = await readActorAggregates(this.#db, program, { page, pages }, state.anchor, Date.now())
      let n = 0
      for (const [id, agg] of actors) {
        put(state, id, agg)
        if (++n % PUT_PER_TURN === 0) await nextTurn()
      }
      const links = await this.#db.query<{ user_id: string; anonymous_id: string; last_ms: string | number }>(sql('identity-links-page'), {
        program: program.id,
        page,
        pages,
      })
      for (const l of links) this.#link(state, l.user_id, l.anonymous_id, Number(l.last_ms))
    }
    this.#log(`profile store: ${program.id} loaded, ${state.actors.size} ids in ${Date.now() - started} ms`)
  }

  #link(state: ProgramState, userId: string, linkedId: string, at: number): void {
    if (linkedId === userId) return
    let set = state.links.get(userId)
    if (!set) state.links.set(userId, (set = new Set()))
    set.add(linkedId)
    let users = state.linkedTo.get(linkedId)
    if (!users) state.linkedTo.set(linkedId, (users = new Map()))
    users.set(userId, Math.max(users.get(userId) ?? 0, at))
  }

  /** The writer landed events of `program` for these ids: links apply at once, aggregates are read again. */
  landed(program: string, who: LandedActor[], programs: (id: string) => Program | undefined): void {
    // A state being loaded may have read these ids before they landed: it reads them again once ready.
    for (const state of [this.#states.get(program), this.#pending.get(program)]) {
      if (!state) continue
      for (const w of who) {
        const actor = w.userId !== '' ? w.userId : w.anonymousId
        if (w.messageId !== undefined && this.#landedOwn(state, actor, w.messageId)) continue
        if (actor !== '') state.dirty.add(actor)
        if (w.userId !== '' && w.linkedId !== '') this.#link(state, w.userId, w.linkedId, w.linkedAt ?? Date.now())
      }
      const p = programs(program)
      if (p && state.ready) this.#refresh(p, state)
    }
  }

  /**
   * Applies events this process has just spooled for a person (its decisions and stage changes)
   * to the served state, so the next decision sees them without a read. A state still loading
   * does not take them: it reads the person again when the events land.
   */
  applyOwn(program: string, actor: string, events: OwnEvent[]): void {
    const state = this.#states.get(program)
    if (!state?.ready || events.length === 0 || actor === '') return
    const packed = state.decided.get(actor)
    const agg = emptyAggregates()
    if (packed !== undefined) unpackDecided(packed, agg)
    for (const e of events) applyOwnEvent(agg, e)
    state.decided.set(actor, packDecided(agg))
    const list = state.own.get(actor)
    if (list) list.push(...events)
    else state.own.set(actor, [...events])
  }

  /** Events `applyOwn` took that will never land (their spool write failed): the person is read from ClickHouse again. */
  discardOwn(program: Program, actor: string, messageIds: string[]): void {
    const state = this.#states.get(program.id)
    const list = state?.own.get(actor)
    if (!state || !list) return
    const gone = new Set(messageIds)
    const kept = list.filter((e) => !gone.has(e.messageId))
    if (kept.length > 0) state.own.set(actor, kept)
    else state.own.delete(actor)
    state.dirty.add(actor)
    this.#refresh(program, state)
  }

  /** Whether a landed event is one of this state's own (now in ClickHouse, so no longer applied on top of reads). */
  #landedOwn(state: ProgramState, actor: string, messageId: string): boolean {
    const list = state.own.get(actor)
    const i = list ? list.findIndex((e) => e.messageId === messageId) : -1
    if (i < 0) return false
    const [event] = list!.splice(i, 1)
    if (list!.length === 0) state.own.delete(actor)
    // A read in progress may have started before the insert: its answer lacks the event, which
    // is no longer applied from `own`, so the refresh applies it from here and the id is read
    // once more.
    if (state.reading.has(actor)) {
      state.dirty.add(actor)
      const landed = state.landedWhileReading.get(actor)
      if (landed) landed.push(event!)
      else state.landedWhileReading.set(actor, [event!])
    }
    return true
  }

  /** Reads the dirty ids again, one query per REFRESH_IDS, until none is left; one refresh at a time per program. */
  #refresh(program: Program, state: ProgramState): void {
    if (state.refreshing || state.dirty.size === 0 || this.#stopped || this.#states.get(program.id) !== state) return
    state.refreshing = (async (): Promise<boolean> => {
      while (state.dirty.size > 0 && !this.#stopped && this.#states.get(program.id) === state) {
        const ids = [...state.dirty].slice(0, REFRESH_IDS)
        for (const id of ids) {
          state.dirty.delete(id)
          state.reading.add(id)
        }
        try {
          const actors = await readActorAggregates(this.#db, program, { ids }, state.anchor, Date.now())
          let n = 0
          for (const id of ids) {
            // Own events applied meanwhile are in `state.own`, and those that landed meanwhile in
            // `landedWhileReading`: both read here, at each id's turn.
            if (++n % PUT_PER_TURN === 0) await nextTurn()
            const own = state.own.get(id)
            const landed = state.landedWhileReading.get(id)
            const agg = actors.get(id) ?? (own || landed ? emptyAggregates() : undefined)
            if (agg) for (const events of [own, landed]) for (const e of events ?? []) applyOwnEvent(agg, e)
            put(state, id, agg)
          }
        } catch (e) {
          // ClickHouse answered the insert but not this read: keep the ids dirty and let the next landing retry.
          for (const id of ids) state.dirty.add(id)
          this.#log(`profile store: refresh of ${program.id} failed (${(e as Error).message.slice(0, 200)}); retried with the next insert`)
          return false
        } finally {
          for (const id of ids) {
            state.reading.delete(id)
            state.landedWhileReading.delete(id)
          }
        }
      }
      return true
    })()
      .catch(() => false)
      .then((ok) => {
        state.refreshing = null
        // Ids that landed after the loop's last check: read now, not at the next insert (unless the read failed).
        if (ok) this.#refresh(program, state)
      })
  }

  /**
   * A patient's profile from memory, or null when the program is not loaded yet (or its
   * aggregate settings changed, which starts a reload): the caller then reads ClickHouse.
   */
  read(program: Program, patientId: string, now = Date.now()): Profile | null {
    const state = this.#states.get(program.id)
    const stale = !state || state.signature !== aggregateSignature(program)
    // Need sums relative to an anchor months old grow large: a fresh load re-anchors them.
    if ((stale || now - state.anchor > REANCHOR_MS) && !this.#stopped) void this.load(program)
    if (stale) return null
    const ids = [patientId, ...[...(state.links.get(patientId) ?? [])].sort()]
    const agg = mergeAggregates(ids.map((id) => get(state, id)))
    return assembleProfile(program, patientId, ids, agg, state.anchor, now)
  }

  /**
   * The patient an id belongs to: itself when it is a patient id with links or no link at all,
   * else the patient it was linked to last (a shared browser is the patient who logged in last;
   * the first by id on a tie), as `linked-patient.sql` answers. Undefined while the program is not loaded.
   */
  personOf(program: string, id: string): { person: string; linked: boolean } | undefined {
    const state = this.#states.get(program)
    if (!state?.ready) return undefined
    const users = state.linkedTo.get(id)
    if (!users || users.size === 0) return { person: id, linked: state.links.has(id) }
    let best: [string, number] | null = null
    for (const [user, at] of users) if (!best || at > best[1] || (at === best[1] && user < best[0])) best = [user, at]
    return { person: best![0], linked: true }
  }

  /** Whether a program is loaded and its refreshes have caught up with the writer. */
  current(program: string): boolean {
    const state = this.#states.get(program)
    return !!state && state.ready && state.dirty.size === 0 && !state.refreshing
  }

  /** Per program: whether it is served from memory, how many ids it holds, and how many wait for a refresh. */
  status(): Array<{ program: string; ready: boolean; loading: boolean; ids: number; waiting: number }> {
    const programs = new Set([...this.#states.keys(), ...this.#pending.keys()])
    return [...programs].sort().map((program) => {
      const s = this.#states.get(program)
      return { program, ready: !!s?.ready, loading: !!this.#pending.get(program)?.loading, ids: s?.actors.size ?? 0, waiting: s?.dirty.size ?? 0 }
    })
  }

  /** Waits for loads and refreshes in progress, then stops: ClickHouse can be closed afterwards. */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const s of [...this.#states.values(), ...this.#pending.values()]) await Promise.allSettled([s.loading, s.refreshing])
  }
}

/** Adds one of the process's own events to an id's aggregates, as decision_days and stage_states would. */
function applyOwnEvent(agg: ActorAggregates, e: OwnEvent): void {
  if (e.kind === 'stage') {
    if (!agg.stage || e.ts >= agg.stage.at) agg.stage = { id: e.stage, at: e.ts }
    return
  }
  const row: DecisionRow = { day: e.ts.slice(0, 10), rule: e.rule, channel: e.channel, outcome: e.outcome, times: 1, lastAt: e.ts }
  // New decisions are today's: their place is at the end, or near it.
  let i = agg.decisions.length
  while (i > 0 && compareDecisions(agg.decisions[i - 1]!, row) > 0) i--
  const same = i > 0 ? agg.decisions[i - 1]! : undefined
  if (same && compareDecisions(same, row) === 0)
    agg.decisions[i - 1] = { ...same, times: same.times + 1, lastAt: row.lastAt > same.lastAt ? row.lastAt : same.lastAt }
  else agg.decisions.splice(i, 0, row)
}

/** Keeps an id's aggregates (or forgets the id): touches and decisions in their own strings. */
function put(state: ProgramState, id: string, agg: ActorAggregates | undefined): void {
  if (!agg) {
    state.actors.delete(id)
    state.decided.delete(id)
    return
  }
  state.actors.set(id, packTouches(agg, state.activityKeys))
  if (agg.decisions.length > 0 || agg.stage) state.decided.set(id, packDecided(agg))
  else state.decided.delete(id)
}

/** An id's aggregates (empty for an id the store does not hold). */
function get(state: ProgramState, id: string): ActorAggregates {
  const touches = state.actors.get(id)
  const agg = touches === undefined ? emptyAggregates() : unpackTouches(touches, state.activityKeys)
  const decided = state.decided.get(id)
  if (decided !== undefined) unpackDecided(decided, agg)
  return agg
}

// Held in packed form, one per id and part, not as maps of objects: a store of millions of small
// objects made the garbage collector walk them all on every major collection (measured at
// 100,000 patients and 10 M events: 45% of the collector's time in GC, decide p99 in seconds).
// The touches — most of the store's bytes — are kept in buffers outside the JS heap, not as
// strings: every young-generation collection took time in proportion to the old generation's
// size (1.2 GB of strings: 5 ms a scavenge against 1.2 ms for the same bytes in buffers; at
// 10 M events 9–10 ms, twice a second), and a request arriving meanwhile waited. Each buffer
// has its own allocation (not a slice of Node's shared pool, which one live slice keeps whole).
//
// A buffer holds the activity rows and check-in hours as numbers, the rest as JSON text:
//   Uint32 × 4   JSON bytes, activity rows, check-in hours, 0
//   Float64 × rows    each row's times        Float64 × hours   the check-in hours
//   Int32 × 2 rows    each row's day number and (channel, event) pair in the state's dictionary
//   UTF-8             [needs, answers, channels, goals, profiled, consent, firstDay, dates]
// Activity was 70% of the JSON (~150 rows an id in the decide benchmark's population): parsing
// it made every row's day, channel and event a new string, and unpacking took a third of a
// decision's CPU. Rows now share their strings: days from one cache, pairs from the dictionary.
const HEADER = 16

/** The (channel, event) pairs of a state's activity rows, each numbered once. */
export class ActivityKeys {
  readonly #index = new Map<string, number>()
  readonly #pairs: Array<{ channel: string; event: string }> = []
  /** The pair's number (added when new). */
  of(channel: string, event: string): number {
    const key = `${channel}\t${event}`
    let i = this.#index.get(key)
    if (i === undefined) {
      i = this.#pairs.length
      this.#pairs.push({ channel, event })
      this.#index.set(key, i)
    }
    return i
  }
  pair(i: number): { channel: string; event: string } {
    return this.#pairs[i]!
  }
}

const dayTexts = new Map<number, string>()
/** YYYY-MM-DD of a day number, one string per day for the whole process (a few hundred in use). */
function dayTextOf(day: number): string {
  let text = dayTexts.get(day)
  if (text === undefined) {
    if (dayTexts.size >= 20_000) dayTexts.clear()
    dayTexts.set(day, (text = dayText(day)))
  }
  return text
}

/** Views of a packed buffer with `rows` activity rows and `hours` check-in hours; the JSON text starts at `textAt`. */
function layout(bytes: Buffer, rows: number, hours: number) {
  const numbersAt = bytes.byteOffset + HEADER
  const daysAt = numbersAt + 8 * (rows + hours)
  return {
    header: new Uint32Array(bytes.buffer, bytes.byteOffset, 4),
    numbers: new Float64Array(bytes.buffer, numbersAt, rows + hours),
    days: new Int32Array(bytes.buffer, daysAt, 2 * rows),
    textAt: daysAt + 8 * rows - bytes.byteOffset,
  }
}

export function packTouches(a: ActorAggregates, keys: ActivityKeys): Buffer {
  const text = JSON.stringify([[...a.needs], [...a.answers], [...a.channels], [...a.goals], a.profiled, [...a.consent], a.firstDay, [...a.dates]])
  const rows = a.activity.length
  const hours = a.checkinHours.length
  const textAt = HEADER + 16 * rows + 8 * hours
  const bytes = Buffer.allocUnsafeSlow(textAt + Buffer.byteLength(text))
  const { header, numbers, days } = layout(bytes, rows, hours)
  header.set([bytes.length - textAt, rows, hours, 0])
  for (let i = 0; i < rows; i++) {
    const r = a.activity[i]!
    const day = dayNumber(r.day)
    if (!Number.isFinite(day)) throw new Error(`activity row with an invalid day: ${JSON.stringify(r.day).slice(0, 40)}`)
    numbers[i] = r.times
    days[2 * i] = day
    days[2 * i + 1] = keys.of(r.channel, r.event)
  }
  numbers.set(a.checkinHours, rows)
  bytes.write(text, textAt)
  return bytes
}

export function unpackTouches(bytes: Buffer, keys: ActivityKeys): ActorAggregates {
  const head = new Uint32Array(bytes.buffer, bytes.byteOffset, 4)
  const rows = head[1]!
  const hours = head[2]!
  const { numbers, days, textAt } = layout(bytes, rows, hours)
  const [needs, answers, channels, goals, profiled, consent, firstDay, dates] = JSON.parse(bytes.toString('utf8', textAt)) as [
    Array<[string, { sum: number; touches: number }]>,
    Array<[string, { answer: string; ts: string }]>,
    Array<[string, { touches: number; last: string }]>,
    Array<[string, { times: number; first: string; last: string }]>,
    number,
    Array<[string, { granted: boolean; at: string }]>,
    string,
    Array<[string, { value: string; at: string }]>,
  ]
  const activity: ActivityRow[] = new Array(rows)
  for (let i = 0; i < rows; i++) {
    const pair = keys.pair(days[2 * i + 1]!)
    activity[i] = { day: dayTextOf(days[2 * i]!), channel: pair.channel, event: pair.event, times: numbers[i]! }
  }
  const checkinHours = Array.from(numbers.subarray(rows))
  return {
    needs: new Map(needs),
    answers: new Map(answers),
    channels: new Map(channels),
    goals: new Map(goals),
    profiled,
    consent: new Map(consent),
    activity,
    firstDay,
    decisions: [],
    stage: null,
    dates: new Map(dates),
    checkinHours,
  }
}

function packDecided(a: ActorAggregates): string {
  const decisions: Array<string | number> = []
  for (const r of a.decisions) decisions.push(r.day, r.rule, r.channel, r.outcome, r.times, r.lastAt)
  return JSON.stringify([decisions, a.stage])
}

/** Sets `agg`'s decisions and stage from their string. */
function unpackDecided(text: string, agg: ActorAggregates): void {
  const [flat, stage] = JSON.parse(text) as [Array<string | number>, ActorAggregates['stage']]
  const decisions: DecisionRow[] = []
  for (let i = 0; i < flat.length; i += 6)
    decisions.push({
      day: flat[i] as string,
      rule: flat[i + 1] as string,
      channel: flat[i + 2] as string,
      outcome: flat[i + 3] as string,
      times: flat[i + 4] as number,
      lastAt: flat[i + 5] as string,
    })
  agg.decisions = decisions
  agg.stage = stage
}
