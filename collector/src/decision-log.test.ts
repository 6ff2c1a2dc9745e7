// The decision log on its own: what it hands the profile store matches the rows it spools (the
// same message ids, stage changes a millisecond apart, the last at the request's time), and a
// spool that refuses the records, or a sync that fails after the answer, takes back exactly what
// was applied.
import { describe, expect, it } from 'vitest'
import { chTime, type DecideOutput, type OwnEvent } from '../../analytics/index.ts'
import { DecisionLog, type OwnEventStore } from './decision-log.ts'
import type { Spool } from './spool/spool.ts'

const NOW = Date.parse('2026-12-02T10:00:00.000Z')
const out: DecideOutput = {
  answers: [],
  records: [
    { rule: 'itch-hero', class: 'education', channel: 'web', slot: 'home-hero', outcome: 'shown' },
    { rule: 'unlock-2', class: 'education', channel: 'none', outcome: 'held_out', reason: 'holdout', holdout: 'rule' },
  ],
  stageChanges: [
    { from: null, to: 'welcome', reason: 'start' },
    { from: 'welcome', to: 'first-needs', reason: 'entry' },
  ],
  stage: 'first-needs',
}
const noLog = () => {}
const request = { program: 'p1', person: 'pt-1', patient: true, keyId: 'k', requestId: 'r-1', now: NOW, out, remember: false }

function recorder() {
  const calls: Array<{ what: 'apply'; events: OwnEvent[] } | { what: 'discard'; ids: string[] }> = []
  const store: OwnEventStore = {
    apply: (_p, _who, events) => calls.push({ what: 'apply', events }),
    discard: (_p, _who, ids) => calls.push({ what: 'discard', ids }),
  }
  return { calls, store }
}
/** The header of each spooled record: [partition, program, messageId, userId, anonymousId, linkedId]. */
const headers = (rows: string[]) => rows.map((r) => JSON.parse(r.slice(0, r.indexOf('\n'))) as string[])

describe('DecisionLog', () => {
  it('hands the store the events it spools, by their message ids, before the write', async () => {
    const { calls, store } = recorder()
    const spooled: string[][] = []
    const spool = { queue: async (rows: string[]) => void spooled.push(rows.map(String)) } as unknown as Spool
    const log = new DecisionLog(spool, noLog, { ...store, apply: (p, who, events) => (expect(spooled).toHaveLength(0), store.apply(p, who, events)) })
    log.record(request)
    expect(calls).toHaveLength(1)
    const applied = (calls[0] as { events: OwnEvent[] }).events
    expect(applied.map((e) => e.messageId)).toEqual(headers(spooled[0]!).map((h) => h[2]))
    expect(applied).toEqual([
      { kind: 'stage', stage: 'welcome', ts: chTime(NOW - 1), messageId: expect.any(String) },
      { kind: 'stage', stage: 'first-needs', ts: chTime(NOW), messageId: expect.any(String) },
      { kind: 'decision', rule: 'itch-hero', channel: 'web', outcome: 'shown', ts: chTime(NOW), messageId: expect.any(String) },
      { kind: 'decision', rule: 'unlock-2', channel: 'server', outcome: 'held_out', ts: chTime(NOW), messageId: expect.any(String) },
    ])
    // A decision names the patient only, never links ids.
    expect(headers(spooled[0]!).every((h) => h[3] === 'pt-1' && h[4] === '' && h[5] === '')).toBe(true)
  })

  it('takes back what it applied when the spool refuses the records, and throws', () => {
    const { calls, store } = recorder()
    const spool = {
      queue: () => {
        throw new Error('spool holds 10 bytes, limit 10')
      },
    } as unknown as Spool
    expect(() => new DecisionLog(spool, noLog, store).record(request)).toThrow('limit 10')
    expect(calls.map((c) => c.what)).toEqual(['apply', 'discard'])
    expect((calls[1] as { ids: string[] }).ids).toEqual((calls[0] as { events: OwnEvent[] }).events.map((e) => e.messageId))
  })

  it('takes back what it applied when the sync fails after the answer, and logs it', async () => {
    const { calls, store } = recorder()
    let fail!: (e: Error) => void
    const spool = { queue: () => new Promise<void>((_, reject) => (fail = reject)) } as unknown as Spool
    const lines: string[] = []
    new DecisionLog(spool, (m) => lines.push(m), store).record(request)
    expect(calls.map((c) => c.what)).toEqual(['apply'])
    fail(new Error('EIO: i/o error, fdatasync'))
    await new Promise((r) => setImmediate(r))
    expect(calls.map((c) => c.what)).toEqual(['apply', 'discard'])
    expect((calls[1] as { ids: string[] }).ids).toEqual((calls[0] as { events: OwnEvent[] }).events.map((e) => e.messageId))
    expect(lines).toEqual(['decisions of request r-1 were not recorded: EIO: i/o error, fdatasync'])
  })

  it('forgets the decisions it remembered for the overlay when their sync fails', async () => {
    let fail!: (e: Error) => void
    const spool = { queue: () => new Promise<void>((_, reject) => (fail = reject)) } as unknown as Spool
    const log = new DecisionLog(spool, noLog)
    const profile = { decisions: [], stage: null } as unknown as Parameters<DecisionLog['overlay']>[2]
    log.record({ ...request, remember: true })
    expect(log.overlay('p1', 'pt-1', profile).recent).toHaveLength(2)
    fail(new Error('EIO: i/o error, fdatasync'))
    await new Promise((r) => setImmediate(r))
    const o = log.overlay('p1', 'pt-1', profile)
    expect(o.recent).toEqual([])
    expect(o.profile.stage).toBeNull()
  })

  it('remembers decisions for the overlay only when asked', async () => {
    const spool = { queue: async () => undefined } as unknown as Spool
    const log = new DecisionLog(spool, noLog)
    const profile = { decisions: [], stage: null } as unknown as Parameters<DecisionLog['overlay']>[2]
    log.record(request)
    expect(log.overlay('p1', 'pt-1', profile).recent).toEqual([])
    log.record({ ...request, remember: true })
    const o = log.overlay('p1', 'pt-1', profile)
    expect(o.recent.map((d) => `${d.rule}/${d.channel}/${d.outcome}`)).toEqual(['itch-hero/web/shown', 'unlock-2/server/held_out'])
    expect(o.profile.stage?.id).toBe('first-needs')
  })
})
