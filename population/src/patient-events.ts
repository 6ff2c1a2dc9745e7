import { browserId, signIdentityToken, signQuestionnaireTicket } from '../../collector/index.ts'
import type { Questionnaire } from '../../analytics/index.ts'
import { wakingOffset } from './local-days.ts'
import type { SyntheticPatient } from './patient.ts'
import { Random, seedOf } from '../../analytics/index.ts'
import { similarity, type Page, type SenderChannel, type World } from './world.ts'

/** A Segment message as the generator sends it. */
export type SyntheticMessage = Record<string, unknown> & { type: string; messageId: string; timestamp: string }

/** One patient's events: per device what the browser sends, per channel what backends send. */
export interface PatientEvents {
  browser: SyntheticMessage[][]
  senders: Record<SenderChannel, SyntheticMessage[]>
}

/**
 * The generator's version: raised whenever the same options give other events (2: medication
 * check-ins on the program's adherence schedule). Stored with every event as `library_version`,
 * and part of the key under which the benchmark caches a loaded population.
 */
export const GENERATOR_VERSION = 2

/** What every synthetic event says about its origin (stored as `library_name`, `library_version`), so it can be told apart from real data. */
export const LIBRARY = { name: 'attune-population', version: String(GENERATOR_VERSION) } as const

const MINUTE = 60_000
const HOUR = 60 * MINUTE
// Readers choose pages by how well they speak to their needs: weight exp(BETA × similarity).
const BETA = 5
// Answers are chosen by how well they fit the true needs around this centre (below it, a need counts against).
const ANSWER_CENTRE = 0.35
const ANSWER_TEMPERATURE = 0.12

/** The print magazine's items for an issue: the same for every patient, drawn from the seed. */
function issueItems(world: World, seed: number, issue: number, day: number): number[] {
  const r = new Random(seedOf('issue', seed, world.program.id, issue))
  const pool = world.byChannel.print.filter((i) => world.usable[day]![i])
  const out = new Set<number>()
  for (let k = 0; k < Math.min(2, pool.length); k++) out.add(r.pick(pool))
  return [...out]
}

// One patient's behaviour over the simulated days, drawn from the patient's own stream.
class Simulation {
  readonly r: Random
  readonly out: PatientEvents
  readonly needs: number[]
  readonly pageAffinity: Map<Page, number>
  readonly identified: boolean[]
  readonly identifyAfter: number[]
  readonly sessions: number[]
  readonly reached = new Set<string>()
  readonly answered = new Set<string>()
  readonly sent = { email: new Set<number>(), sms: new Set<number>() }
  points = 0
  seq = 0
  /** Nothing happens from here on: the start of the drop-out day, or just before `now`. */
  readonly stopAt: number

  /** Check-ins draw from a stream of their own, so the rest of a patient's behaviour does not depend on them. */
  readonly checkins: Random

  constructor(
    readonly world: World,
    readonly p: SyntheticPatient,
    readonly seed: number,
    readonly idPrefix: string,
  ) {
    this.r = new Random(seedOf('events', seed, world.program.id, p.index))
    this.checkins = new Random(seedOf('checkins', seed, world.program.id, p.index))
    this.out = { browser: p.anonymousIds.map(() => []), senders: { server: [], email: [], sms: [], call: [], print: [] } }
    this.needs = world.needs.map((n) => p.trueNeeds[n] ?? 0)
    this.pageAffinity = new Map(world.pages.map((pg) => [pg, Math.exp(BETA * similarity(pg.weights, this.needs))]))
    this.identified = p.anonymousIds.map(() => false)
    // Most log in at their first or second visit on a device; web-only visitors never do.
    this.identifyAfter = p.anonymousIds.map(() => (p.enrolled ? (this.r.chance(0.4) ? 0 : 1 + Math.floor(this.r.exponential(2))) : Infinity))
    this.sessions = p.anonymousIds.map(() => 0)
    this.stopAt = Math.min(world.now - MINUTE, p.dropoutDay !== null ? world.midnights[p.dropoutDay]! : Infinity)
  }

  #token: string | null | undefined
  /** The patient's identity token, valid when the history arrives (the world's now), or null without an identity secret. */
  identityToken(): string | null {
    if (this.#token === undefined) {
      const secret = this.world.browser.identitySecret
      this.#token = secret
        ? signIdentityToken(
            { program: this.world.program.id, patient: this.p.patientId, expires: Math.floor(this.world.now / 1000) + 86_400 },
            secret,
            this.world.now,
          )
        : null
    }
    return this.#token
  }

  level(): number {
    let level = 0
    for (const l of this.world.program.levels) if (this.points >= l.minValue) level = Math.max(level, l.level)
    return level
  }

  // Engagement value: every goal the event reaches (first time only for countOnce goals).
  credit(event: string, properties: Record<string, unknown>): void {
    for (const g of this.world.program.goals) {
      if (g.countOnce && this.reached.has(g.id)) continue
      if (!g.events.some((e) => e.event === event && Object.entries(e.where ?? {}).every(([k, v]) => properties[k] === v))) continue
      this.reached.add(g.id)
      this.points += g.points
    }
  }

  message(type: string, t: number, fields: Record<string, unknown>): SyntheticMessage {
    return { type, messageId: `${this.idPrefix}-${this.p.patientId}-${(this.seq++).toString(36)}`, timestamp: new Date(t).toISOString(), ...fields }
  }

  // Nothing is sent from the future of `now` (the collector would refuse it), nor after dropping out.
  fits(t: number): boolean {
    return t < this.stopAt
  }

  backend(channel: SenderChannel, t: number, event: string, properties: Record<string, unknown>): void {
    if (!this.fits(t)) return
    const context = channel === 'server' ? { library: LIBRARY } : { channel, library: LIBRARY }
    this.out.senders[channel].push(this.message('track', t, { userId: this.p.patientId, event, properties, context }))
    this.credit(event, properties)
  }

  itemSimilarity(i: number): number {
    return similarity(this.world.contentWeights[i]!, this.needs)
  }

  // Content of a channel the program may send today at the patient's level, not sent lately.
  nextItem(day: number, channel: 'email' | 'sms'): number {
    const level = this.level()
    const pool = this.world.byChannel[channel].filter((i) => this.world.usable[day]![i] && this.world.content[i]!.level <= level)
    if (pool.length === 0) return -1
    let fresh = pool.filter((i) => !this.sent[channel].has(i))
    if (fresh.length === 0) {
      this.sent[channel].clear()
      fresh = pool
    }
    const item = this.r.pick(fresh)
    this.sent[channel].add(item)
    return item
  }

  choosePage(day: number): Page {
    const level = this.level()
    const pages = this.world.pages.filter((pg) => pg.primary < 0 || (this.world.usable[day]![pg.primary] && this.world.content[pg.primary]!.level <= level + 1))
    if (pages.length === 0) return this.world.home
    return pages[this.r.weighted(pages.map((pg) => this.pageAffinity.get(pg)!))]!
  }

  answer(q: Questionnaire): Array<{ question: string; answer: string }> {
    const answers: Array<{ question: string; answer: string }> = []
    for (const question of q.questions) {
      if (this.r.chance(0.05)) continue
      const scores = question.answers.map((a) => Object.entries(a.needs).reduce((s, [need, w]) => s + w * ((this.p.trueNeeds[need] ?? 0) - ANSWER_CENTRE), 0))
      const top = Math.max(...scores)
      const chosen = this.r.weighted(scores.map((s) => Math.exp((s - top) / ANSWER_TEMPERATURE)))
      answers.push({ question: question.id, answer: question.answers[chosen]!.id })
    }
    return answers
  }

  /** A visit: page views (the first `entry` when it came from a link), an identify at login, maybe an answer and a goal. */
  session(day: number, t: number, entry?: { page: Page; query: string }): void {
    const { world, p, r } = this
    const device = p.anonymousIds.length > 1 && r.chance(0.35) ? 1 : 0
    const anonymousId = p.anonymousIds[device]!
    const sessionId = r.hex(12)
    const views = Math.min(8, 1 + Math.floor(r.exponential(0.6 + 2 * p.propensity)))
    const login = !this.identified[device] && this.sessions[device]! >= this.identifyAfter[device]!
    this.sessions[device]!++
    let referrer = entry ? '' : r.chance(0.6) ? 'https://www.google.com/' : ''
    for (let v = 0; v < views; v++) {
      const page = v === 0 ? (entry?.page ?? (r.chance(0.3) ? world.home : this.choosePage(day))) : this.choosePage(day)
      const url = `${world.browser.origin}${page.path}${v === 0 && entry ? entry.query : ''}`
      const context = { page: { path: page.path, url, title: page.title, referrer }, locale: world.locale, sessionId, library: LIBRARY }
      const push = (type: string, at: number, fields: Record<string, unknown>) => {
        if (!this.fits(at)) return
        const who = this.identified[device] || fields.userId ? { anonymousId, userId: p.patientId } : { anonymousId }
        // A logged-in page hands the SDK the identity token the site's backend signed for the patient.
        const proof = who.userId && this.identityToken() ? { identityToken: this.identityToken() } : {}
        this.out.browser[device]!.push(this.message(type, at, { ...who, ...fields, context: { ...context, ...proof } }))
      }
      const content = page.primary >= 0 ? [world.content[page.primary]!.id] : []
      push('page', t, {
        name: page.title,
        properties: { title: page.title, path: page.path, url, ...(referrer ? { referrer } : {}), ...(content.length ? { content } : {}) },
      })
      if (v === 0 && login) {
        t += 5_000 + r.int(0, 60_000)
        push('identify', t, { userId: p.patientId, traits: { synthetic: true } })
        this.identified[device] = true
      }
      if (v === 0) {
        const q = world.program.questionnaires.find((x) => x.availableAtLevel <= this.level() && !this.answered.has(x.id))
        if (q && r.chance(0.2 + 0.4 * p.propensity)) {
          t += 60_000 + r.int(0, 240_000)
          const properties = { questionnaire: q.id, answers: this.answer(q) }
          // A questionnaire above level 0 came with a ticket for this browser, which the answers carry.
          const secret = world.browser.identitySecret
          const ticket =
            q.availableAtLevel > 0 && secret
              ? { ticket: signQuestionnaireTicket({ program: world.program.id, questionnaire: q.id, anonymousId: browserId(anonymousId) }, secret, world.now) }
              : {}
          push('track', t, { event: 'questionnaire_answered', properties: { ...properties, ...ticket } })
          this.answered.add(q.id)
          this.credit('questionnaire_answered', properties)
        }
      }
      const webGoals = world.goals.filter((g) => g.channel === 'web' && !(g.goal.countOnce && this.reached.has(g.goal.id)))
      if (webGoals.length > 0 && r.chance(0.03 + 0.08 * p.propensity)) {
        const g = r.pick(webGoals)
        t += 10_000 + r.int(0, 60_000)
        push('track', t, { event: g.event, properties: { ...g.properties, href: url } })
        this.credit(g.event, g.properties)
      }
      referrer = url
      t += 15_000 + Math.floor(Math.min(10 * MINUTE, r.exponential(90_000)))
    }
  }

  email(day: number, t: number): void {
    const item = this.nextItem(day, 'email')
    if (item < 0) return
    const { r, p, world } = this
    const s = this.itemSimilarity(item)
    const campaign = `newsletter-${Math.floor(day / 7) + 1}`
    const id = world.content[item]!.id
    if (!r.chance(0.1 + 0.5 * p.propensity * (0.35 + 0.65 * s))) return
    // Opened the same day, within twelve hours of the morning send.
    const opened = t + Math.floor(Math.min(12 * HOUR, r.exponential(3 * HOUR)))
    this.backend('email', opened, 'email_opened', { content: id, campaign })
    if (!r.chance(p.propensity * (0.05 + 0.6 * s))) return
    this.click('email', day, opened + r.int(MINUTE, 10 * MINUTE), item, campaign)
  }

  sms(day: number, t: number): void {
    const item = this.nextItem(day, 'sms')
    if (item < 0) return
    const { r, p } = this
    const campaign = `sms-${Math.floor(day / 14) + 1}`
    this.backend('sms', t, 'sms_delivered', { campaign })
    for (const g of this.world.goals)
      if (g.channel === 'sms' && r.chance(0.3 * p.propensity)) this.backend('sms', t + r.int(MINUTE, 2 * HOUR), g.event, g.properties)
    if (r.chance(p.propensity * (0.05 + 0.5 * this.itemSimilarity(item)))) this.click('sms', day, t + r.int(MINUTE, 3 * HOUR), item, campaign)
  }

  // A tracked link opened: the click from the messaging backend, then the landing visit.
  click(channel: 'email' | 'sms', day: number, t: number, item: number, campaign: string): void {
    const c = this.world.content[item]!
    const link = c.channels[channel]?.link
    const url = link ? `${this.world.browser.origin}${link}` : undefined
    this.backend(channel, t, `${channel}_click`, { content: c.id, campaign, ...(url ? { url } : {}) })
    if (link) this.session(day, t + 3_000, { page: this.world.pageOf(link), query: `?utm_source=attune&utm_medium=${channel}&utm_campaign=${campaign}` })
  }

  call(day: number, t: number): void {
    const { r, p, world } = this
    if (!r.chance(0.45 + 0.45 * p.propensity)) {
      this.backend('call', t, 'call_completed', { outcome: 'no_answer' })
      return
    }
    // The nurse talks about what the patient brings up: items chosen by need.
    const pool = world.byChannel.call.filter((i) => world.usable[day]![i])
    const item = pool[r.weighted(pool.map((i) => Math.exp(BETA * this.itemSimilarity(i))))]
    this.backend('call', t, 'call_completed', {
      outcome: 'reached',
      duration_s: r.int(180, 1500),
      ...(item !== undefined ? { content: [world.content[item]!.id] } : {}),
    })
  }

  print(day: number, t: number, issue: number): void {
    const items = issueItems(this.world, this.seed, issue, day)
    if (items.length === 0) return
    const ids = items.map((i) => this.world.content[i]!.id)
    this.backend('print', t, 'print_delivered', { content: ids, issue: `issue-${issue}` })
    const best = items.reduce((a, b) => (this.itemSimilarity(b) > this.itemSimilarity(a) ? b : a))
    for (const g of this.world.goals) {
      if (g.channel === 'print' && this.r.chance(0.25 * this.p.propensity * this.itemSimilarity(best)))
        this.backend('print', t + this.r.int(2, 10) * 24 * HOUR, g.event, { ...g.properties, content: this.world.content[best]!.id })
    }
  }

  /**
   * A due day of the reminder schedule: every `everyDays` days from the start day. The patient
   * checks in with their propensity, after the morning reminder (8:00) and before 22:00, on the
   * due day itself, so the periods a profile counts from the first check-in are the schedule's.
   */
  checkin(day: number, midnight: number): void {
    const { world, p, checkins: r } = this
    const schedule = world.checkin
    if (!schedule || !p.adherence || (p.adherence.stopDay !== null && day >= p.adherence.stopDay)) return
    if ((day - p.startDay) % schedule.everyDays !== 0 || !r.chance(p.adherence.propensity)) return
    const t = midnight + 8 * HOUR + Math.floor(Math.min(14 * HOUR - MINUTE, r.exponential(2 * HOUR)))
    const g = schedule.goal
    this.backend(g.channel === 'web' ? 'server' : g.channel, t, g.event, g.properties)
  }

  run(): PatientEvents {
    const { world, p, r } = this
    const end = p.dropoutDay ?? world.days
    const scheduled = world.checkin?.goal
    for (let day = p.startDay; day < end; day++) {
      const midnight = world.midnights[day]!
      const age = day - p.startDay
      // Interest is highest after joining and settles at about half.
      const activity = 0.55 + 0.45 * Math.exp(-age / 30)
      const waking = () => midnight + wakingOffset(r.next(), r.next())
      this.checkin(day, midnight)
      if (r.chance((0.04 + 0.3 * p.propensity) * activity)) this.session(day, waking())
      if (p.channels.email && age % 7 === 1) this.email(day, midnight + 9 * HOUR + r.int(0, 59) * MINUTE)
      if (p.channels.sms && age % 14 === 3) this.sms(day, midnight + 17 * HOUR + r.int(0, 119) * MINUTE)
      if (p.channels.call && (age === 2 || (age > 2 && (age - 2) % 21 === 0))) this.call(day, midnight + r.int(10, 17) * HOUR + r.int(0, 59) * MINUTE)
      if (p.channels.print && day % 30 === 5) this.print(day, midnight + 11 * HOUR, Math.floor(day / 30) + 1)
      if (p.enrolled) {
        for (const g of world.goals) {
          if (g.channel !== 'server' || g === scheduled || (g.goal.countOnce && this.reached.has(g.goal.id))) continue
          if (r.chance(g.goal.countOnce ? 0.01 * p.propensity : 0.1 * p.propensity * activity)) this.backend('server', waking(), g.event, g.properties)
        }
      }
    }
    for (const list of this.out.browser) list.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
    return this.out
  }
}

/** Simulates one patient over the world's days; the same (world, patient, seed, prefix) gives the same messages. */
export function simulatePatient(world: World, patient: SyntheticPatient, seed: number, idPrefix: string): PatientEvents {
  return new Simulation(world, patient, seed, idPrefix).run()
}
