// The fast load's in-process ingestion gives the rows the collector's own ingestion gives for the
// same request over HTTP (ingestBody on the JSON text), refusals and rejections included.
import { describe, expect, it } from 'vitest'
import { join, resolve } from 'node:path'
import { EVENT_COLUMNS, loadPrograms, DAY_MS } from '../../analytics/index.ts'
import { decodeFrames, ingestBody, KeyIndex } from '../../collector/index.ts'
import { generatePopulation, type PopulationRequest } from '../index.ts'
import { HISTORY_LIMITS } from './population.ts'
import { ingestMessages, mayHoldContact } from './ingest-messages.ts'

const programs = loadPrograms(join(resolve(import.meta.dirname, '../..'), 'programs'), {})
const keys = new KeyIndex(programs.flatMap((p) => p.keys))
const NOW = Date.parse('2026-11-23T15:00:00Z')

/** The request as the HTTP route ingests it: rows (as spooled, header dropped), rejections, refusal. */
function overHttp(req: PopulationRequest) {
  const out = ingestBody(
    {
      body: Buffer.from(JSON.stringify(req.body)),
      contentEncoding: '',
      authorization: `Basic ${Buffer.from(`${req.key}:`).toString('base64')}`,
      origin: req.origin,
      userAgent: req.userAgent,
      ip: req.ip,
      receivedAt: NOW,
      limits: HISTORY_LIMITS,
    },
    keys,
  )
  const rows = out.frames ? decodeFrames(Buffer.from(out.frames), true).records.map((r) => r.subarray(r.indexOf(0x0a) + 1).toString()) : []
  return { rows, rejected: out.error?.rejected ?? out.rejected, refused: out.error && !out.error.rejected ? out.error.code : undefined }
}

function inProcess(req: PopulationRequest) {
  const out = ingestMessages(req, keys, NOW)
  return { rows: out.rows.map((r) => r.json), rejected: out.rejected, refused: out.refused?.code }
}

describe('ingestMessages', () => {
  it.each(['psoriasis-demo', 'smoking-cessation-demo'])('gives exactly the rows of the collector’s ingestion for every generated request (%s)', async (id) => {
    const lp = programs.find((p) => p.program.id === id)!
    let rows = 0
    for await (const req of generatePopulation({ program: lp.program, keys: lp.keys, patients: 120, days: 40, seed: 21, now: NOW }).requests()) {
      const mine = ingestMessages(req, keys, NOW)
      expect(inProcess(req)).toEqual(overHttp(req))
      for (const r of mine.rows) {
        const cells = JSON.parse(r.json) as string[]
        expect([r.messageId, r.program, r.partition]).toEqual([
          cells[EVENT_COLUMNS.indexOf('message_id')],
          id,
          cells[EVENT_COLUMNS.indexOf('ts')]!.slice(0, 7).replace('-', ''),
        ])
      }
      rows += mine.rows.length
    }
    expect(rows).toBeGreaterThan(2000)
  })

  it('masks contact details, rejects bad events and refuses bad keys as the collector does', () => {
    const lp = programs.find((p) => p.program.id === 'psoriasis-demo')!
    const secret = lp.keys.find((k) => k.kind === 'secret')!
    const write = lp.keys.find((k) => k.kind === 'write')!
    const base = { keyId: secret.id, kind: 'secret' as const, userAgent: 'test', ip: '10.1.2.3', patientsDone: 0, arrivesAt: NOW }
    const ts = new Date(NOW - 3_600_000).toISOString()
    const batch = [
      {
        type: 'track',
        messageId: 'm1',
        userId: 'p-1',
        timestamp: ts,
        event: 'note',
        properties: { text: 'write to jane@example.com or +49 170 1234567', name: 'x' },
        context: { address: 'Main St 1' },
      },
      { type: 'track', messageId: 'm2', userId: 'p-1', timestamp: ts, event: 'note', properties: { n: 1e21 } },
      { type: 'track', messageId: 'm3', timestamp: ts, event: 'no-user' },
      { type: 'track', messageId: 'm4', userId: 'p-1', timestamp: new Date(NOW + 3 * DAY_MS).toISOString(), event: 'future' },
    ]
    const req: PopulationRequest = { ...base, key: secret.value!, body: { batch } as unknown as PopulationRequest['body'] }
    const out = inProcess(req)
    expect(out).toEqual(overHttp(req))
    expect(out.rows).toHaveLength(2)
    expect(out.rows[0]).not.toContain('jane@example.com')
    expect(out.rejected.map((r) => r.index)).toEqual([2, 3])
    // A body without @ or + skips the contact scan in both.
    const plain: PopulationRequest = {
      ...base,
      key: secret.value!,
      body: {
        batch: [{ type: 'track', messageId: 'm5', userId: 'p-1', timestamp: ts, event: 'note', context: { address: 'Main St 1' } }],
      } as unknown as PopulationRequest['body'],
    }
    expect(inProcess(plain)).toEqual(overHttp(plain))
    for (const bad of [
      { ...req, key: 'pk_nope_0000000000' },
      { ...req, key: write.value!, kind: 'write' as const, origin: 'https://evil.example' },
    ]) {
      expect(inProcess(bad).refused).toBe(overHttp(bad).refused)
      expect(inProcess(bad).refused).toBeDefined()
    }
  })

  it('finds an @ or + wherever JSON text would show one', () => {
    expect(mayHoldContact({ a: [{ b: 'x' }], c: 1, d: null, e: true })).toBe(false)
    expect(mayHoldContact({ a: [{ b: 'x@y' }] })).toBe(true)
    expect(mayHoldContact({ 'a+b': 1 })).toBe(true)
    expect(mayHoldContact({ n: 1e21 })).toBe(true)
    expect(mayHoldContact(['+'])).toBe(true)
  })
})
