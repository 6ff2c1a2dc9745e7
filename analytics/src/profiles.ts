import type { Db } from './client.ts'
import type { Program } from './programs.ts'
import { sql } from './sql.ts'

/** One need in a profile: the score used (explicit when the person answered about it), and both sources. */
export interface NeedScore {
  need: string
  name: string
  source: 'explicit' | 'inferred'
  score: number
  /** From questionnaire answers (−1..1 per answer, summed), or null when no answer touches this need. */
  explicit: number | null
  /** From content shown, decayed by age with the program's half-life. */
  inferred: number
  /** Touches that carried this need. */
  touches: number
}

/** What Attune knows of one patient in one program (the needs part of the profile). */
export interface Profile {
  program: string
  patientId: string
  /** Every id resolved to this person: the patient id first, then linked anonymous ids. */
  ids: string[]
  /** Explicit needs first (highest first), then inferred ones (highest first). */
  needs: NeedScore[]
  answers: Array<{ questionnaire: string; question: string; answer: string; answeredAt: string }>
  channels: Array<{ channel: string; touches: number; lastTouch: string }>
}

/** ClickHouse DateTime64 text for a JS time (UTC). */
const chNow = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

/**
 * Reads a patient's profile from the aggregate tables (never from raw events): the person's ids,
 * inferred needs decayed at `now`, the latest questionnaire answers mapped to needs through the
 * program's questionnaires, and touches per channel.
 */
export async function readProfile(db: Db, program: Program, patientId: string, now = Date.now()): Promise<Profile> {
  const linked = await db.query<{ id: string }>(sql('profile-ids'), { program: program.id, patient: patientId })
  const ids = [patientId, ...linked.map((r) => r.id).filter((id) => id !== patientId)]
  const params = { program: program.id, ids }
  const [inferred, answers, channels] = await Promise.all([
    db.query<{ need: string; score: number; touches: string }>(sql('profile-inferred-needs'), { ...params, now: chNow(now), half_life_days: program.needHalfLifeDays ?? 30 }),
    db.query<{ questionnaire: string; question: string; answer: string; answered_at: string }>(sql('profile-answers'), params),
    db.query<{ channel: string; touches: string; last_ts: string }>(sql('profile-channels'), params),
  ])
  const explicit = new Map<string, number>()
  for (const a of answers) {
    const question = program.questionnaires?.find((q) => q.id === a.questionnaire)?.questions.find((q) => q.id === a.question)
    const weights = question?.answers.find((x) => x.id === a.answer)?.needs ?? {}
    for (const [need, w] of Object.entries(weights)) explicit.set(need, (explicit.get(need) ?? 0) + w)
  }
  const inferredBy = new Map(inferred.map((r) => [r.need, r]))
  const needs: NeedScore[] = (program.needs ?? []).map((n) => {
    const inf = inferredBy.get(n.id)
    const exp = explicit.has(n.id) ? explicit.get(n.id)! : null
    const inferredScore = Number(inf?.score ?? 0)
    return { need: n.id, name: n.name, source: exp === null ? 'inferred' : 'explicit', score: exp ?? inferredScore, explicit: exp, inferred: inferredScore, touches: Number(inf?.touches ?? 0) }
  })
  needs.sort((a, b) => (a.source === b.source ? b.score - a.score : a.source === 'explicit' ? -1 : 1))
  return {
    program: program.id,
    patientId,
    ids,
    needs,
    answers: answers.map((a) => ({ questionnaire: a.questionnaire, question: a.question, answer: a.answer, answeredAt: a.answered_at })),
    channels: channels.map((c) => ({ channel: c.channel, touches: Number(c.touches), lastTouch: c.last_ts })),
  }
}
