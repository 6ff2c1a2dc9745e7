import type { Program, ProgramKey } from '../../analytics/index.ts'
import { drawPatient, type SyntheticPatient } from './patient.ts'
import { simulatePatient, type SyntheticMessage } from './patient-events.ts'
import { Random, seedOf } from '../../analytics/index.ts'
import { buildWorld, type SenderChannel, type World } from './world.ts'
import type { IngestLimits } from '../../collector/index.ts'

/** What to generate. */
export interface PopulationOptions {
  /** The program (a validated document); its needs, content, goals, levels, questionnaires and patterns drive behaviour. */
  program: Program
  /** The program's resolved keys (`LoadedProgram.keys`); without them, the document's literal keys are used. */
  keys?: readonly ProgramKey[]
  patients: number
  days: number
  seed: number
  /** The end of the simulated period (ms); every event is before it. Default: now. */
  now?: number
  /** The site's origin, sent as `Origin` and in page URLs; it must be one the write key allows. Default: from the key's first origin pattern (`http://localhost:*` → `http://localhost:8080`). */
  origin?: string
  /** Messages per request, at most 500 (the collector's batch limit). Default 500. */
  batchSize?: number
}

/** One request to the collector: the key and headers it is sent with, and its `/v1/batch` body. */
export interface PopulationRequest {
  /** The key value, sent as the HTTP Basic user name. */
  key: string
  keyId: string
  kind: 'write' | 'secret'
  /** The `Origin` header (write keys only): an origin the key allows. */
  origin?: string
  /** The `User-Agent` header: the patient's browser for write keys. */
  userAgent: string
  /** The sender's address (the patient's for write keys), as a proxy would forward it. */
  ip: string
  body: { batch: SyntheticMessage[] }
  /** Patients whose events have all been yielded once this request is sent. */
  patientsDone: number
  /** When the simulated history arrives (the period's end): in-process loads take it as the time of receipt, so identity tokens signed for it verify. */
  arrivesAt: number
}

/** A generated population: the patients with their hidden truth, and their events as collector requests. */
export interface Population {
  patients: SyntheticPatient[]
  world: World
  /**
   * The events as requests, patient by patient; the same options give the same requests. With
   * `part`, only the patients whose index is `part.index` modulo `part.of` (a loader's worker
   * takes one part each); `patientsDone` then counts that part's patients.
   */
  requests(part?: PopulationPart): AsyncGenerator<PopulationRequest>
}

/** A share of a population: every `of`-th patient from `index`. */
export interface PopulationPart {
  index: number
  of: number
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
]
/** The user agent backends send with (a secret key's own agent says nothing about the patient). */
const BACKEND_AGENT = 'attune-population/1'
const BACKEND_IP = '10.0.0.1'

/**
 * What an in-process load of a synthetic history may send: events of any age from any key (the
 * history arrived live, day by day, in the world it simulates) and of any number of months.
 */
export const HISTORY_LIMITS: IngestLimits = { liveDays: 36_500, importDays: 36_500, maxMonths: 1_000, history: true }

/** The message-id prefix of a run: the same seed and period length give the same ids, so a rerun is de-duplicated. */
export const messageIdPrefix = (seed: number, days: number): string => `syn${seed}d${days}`

/**
 * A seeded synthetic population of a program: each patient has hidden true needs (a pattern card
 * plus noise, or a mixed profile), an engagement propensity, a start day and maybe a drop-out day,
 * and visits the web (anonymous first, identified at a later visit for most), reads content that
 * fits their needs more often, answers questionnaires as their needs say, opens and clicks e-mails
 * and SMS, takes nurse calls, receives print magazines and reaches goals, in the program's waking
 * hours over the last `days` days. Generation is lazy and separate from sending.
 *
 * @example
 * const pop = generatePopulation({ program, patients: 100, days: 30, seed: 42, now: Date.now() })
 * for await (const req of pop.requests()) send(req)
 */
export function generatePopulation(opts: PopulationOptions): Population {
  if (!Number.isInteger(opts.patients) || opts.patients < 0) throw new RangeError('patients must be a whole number ≥ 0')
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 3650) throw new RangeError('days must be a whole number from 1 to 3650')
  if (!Number.isInteger(opts.seed)) throw new RangeError('seed must be a whole number')
  const batchSize = Math.min(500, Math.max(1, opts.batchSize ?? 500))
  const world = buildWorld(opts.program, opts.days, opts.now ?? Date.now(), opts.keys, opts.origin)
  const patients = Array.from({ length: opts.patients }, (_, i) => drawPatient(world, opts.seed, i))
  const prefix = messageIdPrefix(opts.seed, opts.days)

  async function* requests(part?: PopulationPart): AsyncGenerator<PopulationRequest> {
    if (part && !(Number.isInteger(part.of) && part.of >= 1 && Number.isInteger(part.index) && part.index >= 0 && part.index < part.of))
      throw new RangeError('part must have 0 ≤ index < of')
    // Backend messages of many patients share a request per key; a browser sends its own.
    const pending = new Map<string, { channel: SenderChannel; batch: SyntheticMessage[] }>()
    const backendRequest = (channel: SenderChannel, batch: SyntheticMessage[], patientsDone: number): PopulationRequest => {
      const s = world.senders[channel]
      return { key: s.key, keyId: s.keyId, kind: 'secret', userAgent: BACKEND_AGENT, ip: BACKEND_IP, body: { batch }, patientsDone, arrivesAt: world.now }
    }
    let done = 0
    for (const p of patients) {
      if (part && p.index % part.of !== part.index) continue
      const events = simulatePatient(world, p, opts.seed, prefix)
      for (let d = 0; d < events.browser.length; d++) {
        const messages = events.browser[d]!
        const r = new Random(seedOf('device', opts.seed, world.program.id, p.index, d))
        const userAgent = r.pick(USER_AGENTS)
        const ip = `10.${r.int(1, 254)}.${r.int(0, 255)}.${r.int(1, 254)}`
        for (let i = 0; i < messages.length; i += batchSize) {
          const last = d === events.browser.length - 1 && i + batchSize >= messages.length
          yield {
            key: world.browser.key,
            keyId: world.browser.keyId,
            kind: 'write',
            origin: world.browser.origin,
            userAgent,
            ip,
            body: { batch: messages.slice(i, i + batchSize) },
            patientsDone: last ? done + 1 : done,
            arrivesAt: world.now,
          }
        }
      }
      for (const channel of Object.keys(events.senders) as SenderChannel[]) {
        const key = world.senders[channel].key
        let acc = pending.get(key)
        if (!acc) pending.set(key, (acc = { channel, batch: [] }))
        for (const m of events.senders[channel]) {
          acc.batch.push(m)
          if (acc.batch.length === batchSize) {
            yield backendRequest(acc.channel, acc.batch, done)
            acc.batch = []
          }
        }
      }
      done++
    }
    for (const acc of pending.values()) if (acc.batch.length > 0) yield backendRequest(acc.channel, acc.batch, done)
  }

  return { patients, world, requests }
}
