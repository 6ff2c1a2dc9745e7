// The SDK's wire format against the collector's schema: at compile time (the SDK's Message type
// must be assignable to what the collector's zod schema accepts, or tsc fails this file) and at
// run time (what the real tracker sends parses with that schema).
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { batchEnvelopeSchema, messageSchema } from '../collector/index.ts'
import { Tracker } from '../sdk/src/core/tracker.ts'
import type { Message as SdkMessage, SendResult, Store } from '../sdk/src/core/types.ts'

/** Every message the SDK can make is a message the collector's schema takes. */
const onTheWire = (m: SdkMessage): z.input<typeof messageSchema> => m

function memory(): Store {
  const m = new Map<string, string>()
  return { get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v), del: (k) => void m.delete(k) }
}

describe('the SDK wire format', () => {
  it('sends batches and messages the collector’s schemas accept', async () => {
    const bodies: string[] = []
    const send = async (_url: string, body: string): Promise<SendResult> => {
      bodies.push(body)
      return { status: 200 }
    }
    const tracker = new Tracker({ writeKey: 'pk_test', host: 'http://127.0.0.1:1', send, store: memory(), context: () => ({ page: { path: '/a' } }) })
    tracker._page({ content: ['itch-basics'] }, 'Itch')
    tracker._track('diary_downloaded', { format: 'pdf' })
    tracker._goal('treatment_checkin')
    tracker._identify('p-000123', { token: 'eyJ2IjoxfQ.sig', plan: 'biologic' })
    tracker._page()
    await tracker._queue._flush()

    const messages = bodies.flatMap((b) => {
      const envelope = batchEnvelopeSchema.parse(JSON.parse(b))
      return envelope.batch as SdkMessage[]
    })
    expect(messages.map((m) => m.type)).toEqual(['page', 'track', 'track', 'identify', 'page'])
    for (const m of messages) {
      const parsed = messageSchema.safeParse(onTheWire(m))
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true)
    }
    // The identity token travels in the context, never as a trait.
    const identify = messages.find((m) => m.type === 'identify')!
    expect(identify.traits).toEqual({ plan: 'biologic' })
    expect(identify.context.identityToken).toBe('eyJ2IjoxfQ.sig')
  })
})
