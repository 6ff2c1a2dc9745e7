// The pipeline skips work when a cheap test proves it unneeded; these properties show the
// cheap tests never skip work that was needed.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeJsonBody } from './decode-body.ts'
import { maskContacts } from './personal-data.ts'
import { jsonBytesAtMost } from './validate.step.ts'

const jsonValue = fc.jsonValue({ maxDepth: 4 })

describe('pipeline shortcuts', () => {
  it('jsonBytesAtMost is true only when the JSON really fits', () => {
    fc.assert(
      fc.property(jsonValue, fc.integer({ min: 0, max: 2000 }), (v, limit) => {
        if (jsonBytesAtMost(v, limit)) expect(Buffer.byteLength(JSON.stringify(v))).toBeLessThanOrEqual(limit)
      }),
      { numRuns: 2000 },
    )
    // Worst case for the bound: control characters escape to six bytes each.
    expect(Buffer.byteLength(JSON.stringify('\u0001'.repeat(100)))).toBe(602)
    expect(jsonBytesAtMost('\u0001'.repeat(100), 602)).toBe(true)
    expect(jsonBytesAtMost({ a: 'x'.repeat(40_000) }, 32 * 1024)).toBe(false)
    expect(jsonBytesAtMost({ a: 'x'.repeat(1000) }, 32 * 1024)).toBe(true)
  })

  it('a body said to hold no contact details has nothing to mask in any parsed value', () => {
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'a@b.de',
        '+49 170 1234567',
        '0170 1234567',
        '555 010 0199',
        '＋４９ １７０ １２３４５６７',
        'jane%40example.com',
        '\\u0040',
        '\\u002B',
        '\\u002b',
        '\\u0030170 1234567',
      ),
    )
    const body = fc.oneof(
      jsonValue.map((v) => JSON.stringify(v)),
      fc.array(text).map((parts) => JSON.stringify({ p: parts.join('') })),
      fc
        .array(fc.constantFrom('{"a":"', 'x', ' ', '0', '1', '7', '\\u0040', '\\u002B', '\\u0030', '\\u00e9', '\\\\u0040', '"}'))
        .map((p) => `{"a":"${p.join('')}"}`),
    )
    fc.assert(
      fc.property(body, (b) => {
        let read: ReturnType<typeof decodeJsonBody>
        try {
          read = decodeJsonBody(Buffer.from(b), '')
        } catch {
          return // not JSON
        }
        if (read.mayContainContact) return
        const strings: string[] = []
        JSON.stringify(read.json, (k, v) => (strings.push(k), typeof v === 'string' && strings.push(v), v))
        for (const s of strings) expect(maskContacts(s).text, s).toBe(s)
      }),
      { numRuns: 3000 },
    )
    expect(decodeJsonBody(Buffer.from('{"a":"\\u0040"}'), '').mayContainContact).toBe(true)
    expect(decodeJsonBody(Buffer.from('{"a":"\\u002B"}'), '').mayContainContact).toBe(true)
    // Any escape may spell a digit: such a body is scanned after parsing.
    expect(decodeJsonBody(Buffer.from('{"a":"\\u00e9 plain"}'), '').mayContainContact).toBe(true)
    expect(decodeJsonBody(Buffer.from('{"a":"plain text, 2026-11-23T10:00:00Z"}'), '').mayContainContact).toBe(false)
  })
})
