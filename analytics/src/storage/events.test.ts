import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir } from '../../../test/temp-dir.ts'
import { createDb, type Db } from './client.ts'
import { blankEventRow, encodeEventRow, EVENT_COLUMNS, type EventRow } from './event-row.ts'
import { existingMessageIds, insertEventFile, insertEventLines, landedIdPages } from './events.ts'
import { migrate } from './migrate.ts'

let dir: string
let db: Db
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'attune-events-'))
  db = createDb({ mode: 'embedded', path: join(dir, 'clickhouse') })
  await migrate(db)
})
afterAll(async () => {
  await db.close()
  removeDir(dir)
})

describe('existingMessageIds', () => {
  it('finds exactly the landed ids of the program, whatever characters they hold', async () => {
    const landed = ['a-1', 'with\nnewline', 'with,comma', "quote'd", 'back\\slash', 'ünï', 'x'.repeat(100)]
    await db.insertRows('event_ids', [
      ...landed.map((message_id) => ({ program: 'p1', message_id, received_at: '2026-11-23 10:00:00.000' })),
      { program: 'p2', message_id: 'only-in-p2', received_at: '2026-11-23 10:00:00.000' },
    ])
    const asked = [...landed, 'not-landed', 'with', 'newline', 'only-in-p2', 'with\nnewline\n']
    expect(await existingMessageIds(db, 'p1', asked)).toEqual(new Set(landed))
    expect(await existingMessageIds(db, 'p2', asked)).toEqual(new Set(['only-in-p2']))
    expect(await existingMessageIds(db, 'p1', [])).toEqual(new Set())
  })

  it('answers for 60,000 ids in one call', async () => {
    const ids = Array.from({ length: 60_000 }, (_, i) => `bulk-${i}`)
    await db.insertRows(
      'event_ids',
      ids.filter((_, i) => i % 3 === 0).map((message_id) => ({ program: 'p1', message_id, received_at: '2026-11-23 10:00:00.000' })),
    )
    const found = await existingMessageIds(db, 'p1', ids)
    expect(found.size).toBe(20_000)
    expect(found.has('bulk-0') && found.has('bulk-59997') && !found.has('bulk-1')).toBe(true)
  })
})

describe('landedIdPages', () => {
  it('gives every landed id once, program by program, in pages', async () => {
    const all: string[] = []
    let pages = 0
    for await (const page of landedIdPages(db, 7_000)) {
      pages++
      expect(page.length).toBeLessThanOrEqual(7_000)
      for (const r of page) all.push(`${r.program}/${r.message_id}`)
    }
    const expected = await db.query<{ k: string }>("SELECT DISTINCT concat(program, '/', message_id) k FROM event_ids")
    expect(all.length).toBe(expected.length)
    expect(new Set(all)).toEqual(new Set(expected.map((r) => r.k)))
    expect(pages).toBeGreaterThan(2)
  })
})

describe('insertEventLines', () => {
  it('stores the JSON columns exactly as JSON.stringify wrote them', async () => {
    const objects = [
      { a: 'é ü 💊 中文', quote: '"', backslash: '\\', nl: 'x\ny\tz', ctl: '\u0001\u001f', nested: { arr: [1, 2.5, null, true, { k: [] }] } },
      {},
      { 'key with "quotes"': '}{][', empty: '', big: 1e21, small: -0.000001 },
    ]
    const rows = objects.map(
      (o, i): EventRow => ({
        ...blankEventRow(),
        message_id: `obj-${i}`,
        program: 'p3',
        type: 'track',
        event: 'e',
        channel: 'web',
        ts: '2026-11-23 10:00:00.000',
        original_ts: '2026-11-23 10:00:00.000',
        received_at: '2026-11-23 10:00:00.000',
        properties: JSON.stringify(o),
        traits: JSON.stringify({ t: i }),
        context: JSON.stringify({ c: o }),
      }),
    )
    // A line spooled before the JSON columns were inlined (strings holding the text) still loads.
    const old: EventRow = { ...rows[1]!, message_id: 'obj-old' }
    const oldStyle = JSON.stringify(EVENT_COLUMNS.map((c) => old[c]))
    expect(oldStyle).toContain('"{\\"t\\":1}"')
    const lines = [...rows.map(encodeEventRow), oldStyle].join('\n')
    await insertEventLines(db, Buffer.from(lines), 'json-columns')
    const got = await db.query<{ message_id: string; properties: string; traits: string; context: string }>(
      "SELECT message_id, properties, traits, context FROM events WHERE program = 'p3' ORDER BY message_id",
    )
    expect(got).toEqual(
      [
        ...rows.map((r) => ({ message_id: r.message_id, properties: r.properties, traits: r.traits, context: r.context })),
        { message_id: 'obj-old', properties: '{}', traits: '{"t":1}', context: '{"c":{}}' },
      ].sort((a, b) => a.message_id.localeCompare(b.message_id)),
    )
  })
})

describe('insertEventFile', () => {
  const row = (i: number, properties: object): EventRow => ({
    ...blankEventRow(),
    message_id: `file-${i}`,
    program: 'p4',
    type: 'page',
    event: '',
    channel: 'web',
    user_id: 'u',
    anonymous_id: 'a',
    ts: '2026-11-23 10:00:00.125',
    original_ts: '2026-11-23 10:00:00.125',
    received_at: '2026-11-23 10:00:01.000',
    sent_at: i % 2 ? null : '2026-11-23 10:00:00.500',
    page_url: 'https://x.example/é',
    properties: JSON.stringify(properties),
    traits: '{}',
    context: JSON.stringify({ page: { path: '/é' } }),
    content_ids: ['c-1'],
    need_ids: ['itch', 'sleep'],
    need_weights: [0.30000001, 1.1],
    goal_ids: i % 2 ? ['g'] : [],
  })

  it('stores rows as an inline insert of the same lines does, views included', async () => {
    const objects = [{ a: 'é ü 💊 中文', quote: '"', backslash: '\\', nl: 'x\ny\tz', ctl: '\u0001\u001f' }, {}, { big: 1e21, arr: [1, null, { k: [] }] }]
    const inline = objects.map((o, i) => row(i, o))
    const viaFile = objects.map((o, i) => ({ ...row(i, o), message_id: `file-${i}-f`, user_id: 'uf' }))
    await insertEventLines(db, Buffer.from(inline.map(encodeEventRow).join('\n')), 'inline-rows')
    const path = join(dir, 'rows.jsonl')
    writeFileSync(path, `${viaFile.map(encodeEventRow).join('\n')}\n`)
    await insertEventFile(db, path, 'file-rows')
    const cols = EVENT_COLUMNS.filter((c) => c !== 'message_id' && c !== 'user_id').join(', ')
    const read = (user: string) => db.query(`SELECT ${cols} FROM events WHERE program = 'p4' AND user_id = {user:String} ORDER BY message_id`, { user })
    expect(await read('uf')).toEqual(await read('u'))
    const touches = await db.query<{ actor_id: string; touches: string }>(
      "SELECT actor_id, sum(touches) AS touches FROM channel_touches WHERE program = 'p4' GROUP BY actor_id ORDER BY actor_id",
    )
    expect(touches.map((t) => [t.actor_id, Number(t.touches)])).toEqual([
      ['u', 3],
      ['uf', 3],
    ])
  })

  it('refuses a file with a value the table cannot take as a data error, and nothing of it lands', async () => {
    const path = join(dir, 'bad.jsonl')
    writeFileSync(path, `${encodeEventRow(row(10, {}))}\n${encodeEventRow({ ...row(11, {}), ts: 'not a time' })}\n`)
    await expect(insertEventFile(db, path, 'bad-rows')).rejects.toMatchObject({ type: expect.stringMatching(/^(CANNOT_PARSE|CANNOT_READ|INCORRECT_DATA)/) })
    const [n] = await db.query<{ n: string }>("SELECT count() AS n FROM events WHERE program = 'p4' AND message_id IN ('file-10', 'file-11')")
    expect(Number(n!.n)).toBe(0)
  })
})
