import { Random, seedOf } from '../../analytics/index.ts'
import type { World } from './world.ts'

/** One synthetic patient: the hidden truth behind their events, which tests compare profiles with. */
export interface SyntheticPatient {
  /** Position in the population (0-based); a patient's behaviour depends only on it and the seed. */
  index: number
  /** Pseudonymous patient id, e.g. `p-000123`. */
  patientId: string
  /** Browser ids, one per device (the first is the main one). */
  anonymousIds: string[]
  /** The pattern card the needs were drawn from, or null for a mixed profile. */
  pattern: string | null
  /** Hidden true needs, 0..1 per need of the program. */
  trueNeeds: Record<string, number>
  /** The need with the highest true value, and by how much it leads the second ('' and 0 for a program without needs). */
  topNeed: string
  topMargin: number
  /** 0..1: how readily the patient visits, opens and answers. */
  propensity: number
  /** Enrolled: known to the program by `patientId` (messages, calls, print) and identified on the web at some visit. */
  enrolled: boolean
  /** Opted in to each outbound channel (enrolled patients only). */
  channels: { email: boolean; sms: boolean; call: boolean; print: boolean }
  /** First active day (0 = the first simulated day). */
  startDay: number
  /** The day all activity stops, or null for a patient who stays. */
  dropoutDay: number | null
  /**
   * Medication check-ins on the program's reminder schedule (`program.adherence`), or null for a
   * patient not on it (not enrolled, or a program without a check-in goal). `propensity` is the
   * chance of checking in on each due day (1: never misses one); from `stopDay` on (treatment
   * stopped, still in the program) there are none. A drop-out's check-ins end with the rest.
   */
  adherence: { propensity: number; stopDay: number | null } | null
}

/** Shares of adherence classes among patients on the schedule: always, mostly (0.8–0.97), irregular (0.25–0.75); and of those who stop treatment. */
const ALWAYS = 0.25
const MOSTLY = 0.4
const STOPS = 0.15

/** The patient id of a population index: `p-000001` for index 0. */
export const patientIdOf = (index: number): string => `p-${String(index + 1).padStart(6, '0')}`

const clamp01 = (x: number) => Math.min(1, Math.max(0, x))
const round3 = (x: number) => Math.round(x * 1000) / 1000

/** Draws one patient's hidden traits from its own stream (seed, program, index), independent of the population size. */
export function drawPatient(world: World, seed: number, index: number): SyntheticPatient {
  const r = new Random(seedOf('patient', seed, world.program.id, index))
  const { needs, days } = world
  const patterns = world.program.patterns
  // Most patients resemble a pattern card; some have a mixed profile of their own.
  const pattern = patterns.length > 0 && r.chance(0.85) ? r.pick(patterns) : null
  const values = needs.map((n) => round3(pattern ? clamp01((pattern.needs[n] ?? 0) + r.normal(0, 0.12) + 0.05 * r.next()) : clamp01(r.next() ** 2)))
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  const enrolled = r.chance(0.8)
  const offered = (list: number[]) => list.length > 0
  const propensity = 0.08 + 0.9 * r.next() ** 1.3
  const startDay = r.chance(0.25) ? 0 : Math.floor(r.next() * days * 0.9)
  const drops = r.chance(0.3)
  const dropAfter = 1 + Math.floor(r.exponential(25))
  const devices = r.chance(0.25) ? 2 : 1
  const anonymousIds = Array.from({ length: devices }, () => `a-${r.hex(16)}`)
  const channels = {
    email: enrolled && offered(world.byChannel.email) && r.chance(0.7),
    sms: enrolled && offered(world.byChannel.sms) && r.chance(0.35),
    call: enrolled && offered(world.byChannel.call) && r.chance(0.3),
    print: enrolled && offered(world.byChannel.print) && r.chance(0.25),
  }
  return {
    index,
    patientId: patientIdOf(index),
    anonymousIds,
    pattern: pattern?.id ?? null,
    trueNeeds: Object.fromEntries(needs.map((n, i) => [n, values[i]!])),
    topNeed: order[0] ? needs[order[0][1]]! : '',
    topMargin: order[0] ? round3(order[0][0] - (order[1]?.[0] ?? 0)) : 0,
    propensity: round3(propensity),
    enrolled,
    channels,
    startDay,
    dropoutDay: drops && startDay + dropAfter < days ? startDay + dropAfter : null,
    adherence: enrolled && world.checkin ? drawAdherence(new Random(seedOf('adherence', seed, world.program.id, index)), startDay, days) : null,
  }
}

// From a stream of its own, so adding the schedule left every other trait of a patient as it was.
function drawAdherence(r: Random, startDay: number, days: number): NonNullable<SyntheticPatient['adherence']> {
  const u = r.next()
  const propensity = u < ALWAYS ? 1 : u < ALWAYS + MOSTLY ? 0.8 + 0.17 * r.next() : 0.25 + 0.5 * r.next()
  const stopAfter = r.chance(STOPS) ? 1 + Math.floor(r.exponential(40)) : null
  return { propensity: round3(propensity), stopDay: stopAfter !== null && startDay + stopAfter < days ? startDay + stopAfter : null }
}
