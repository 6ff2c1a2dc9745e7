import { linkedPatient, readProfile, type Db, type Profile, type Program, type ProfileStore } from '../../analytics/index.ts'

/** Where the person of a request is read from: the profiles in memory, else ClickHouse. */
export interface PersonSources {
  db: Db
  profiles: ProfileStore | null
}

/**
 * The person a browser's anonymous id stands for: the patient it is linked to (a link exists only
 * by proof: an identity or click token), else the anonymous id itself. Unlinked when ClickHouse
 * cannot answer.
 */
export async function browserPerson(d: PersonSources, program: string, anonymousId: string): Promise<{ person: string; patient: boolean }> {
  const held = d.profiles?.personOf(program, anonymousId)
  if (held) return { person: held.person, patient: held.linked && held.person !== anonymousId }
  const user = await linkedPatient(d.db, program, anonymousId).catch(() => null)
  return user ? { person: user, patient: true } : { person: anonymousId, patient: false }
}

/** A person's profile from memory, else from ClickHouse within `timeoutMs`; null when neither answers in time. */
export async function profileWithin(
  d: PersonSources,
  program: Program,
  person: string,
  now: number,
  timeoutMs: number,
): Promise<{ profile: Profile | null; source: 'memory' | 'clickhouse' | 'unavailable' }> {
  const held = d.profiles?.read(program, person, now)
  if (held) return { profile: held, source: 'memory' }
  let timer: NodeJS.Timeout | undefined
  const profile = await Promise.race([
    readProfile(d.db, program, person, now).catch(() => null),
    new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs))),
  ]).finally(() => clearTimeout(timer))
  return { profile, source: profile ? 'clickhouse' : 'unavailable' }
}
