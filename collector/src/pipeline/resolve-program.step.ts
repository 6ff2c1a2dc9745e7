import type { Draft, RequestFacts } from './types.ts'

/** Step 3: the event belongs to the key's program; ids, names and library are set on the row. */
export function resolveProgramStep(d: Draft, facts: RequestFacts): Draft {
  const m = d.msg
  const r = d.row
  r.program = facts.key.program
  r.key_id = facts.key.id
  r.type = m.type
  // Other types are events named after themselves, so every model can group by `event`.
  r.event = m.type === 'track' ? m.event : m.type
  r.user_id = m.userId ?? ''
  r.anonymous_id = m.anonymousId ?? ''
  if (m.type === 'alias') r.previous_id = m.previousId
  if (m.type === 'group') r.group_id = m.groupId
  const lib = d.context.library
  if (lib && typeof lib === 'object') {
    const { name, version } = lib as { name?: unknown; version?: unknown }
    r.library_name = typeof name === 'string' ? name.slice(0, 100) : ''
    r.library_version = typeof version === 'string' ? version.slice(0, 50) : ''
    delete d.context.library
  }
  return d
}
