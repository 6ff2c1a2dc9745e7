// guarantee L2: a client that trickles its headers or its body is answered 408 and cut off,
// while other clients are served meanwhile.
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basic, DEMO, startServerProcess, tempDir, type ServerProcess } from './helpers.ts'

let tmp: ReturnType<typeof tempDir>
let proc: ServerProcess
beforeAll(async () => {
  tmp = tempDir()
  proc = await startServerProcess({ ATTUNE_DATA: tmp.dir, ATTUNE_HEADERS_TIMEOUT_MS: '1000', ATTUNE_REQUEST_TIMEOUT_MS: '2000' })
})
afterAll(async () => {
  proc?.child.kill('SIGTERM')
  await proc?.exited
  tmp?.remove()
})

/** Opens a raw connection, writes `first`, then keeps trickling `drip` every 200 ms; resolves with what the server sent and when it closed. */
function trickle(first: string, drip: string): Promise<{ answer: string; ms: number }> {
  const { hostname, port } = new URL(proc.url)
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const socket = connect(Number(port), hostname, () => socket.write(first))
    let answer = ''
    const timer = setInterval(() => socket.writable && socket.write(drip), 200)
    socket.on('data', (b) => (answer += b.toString()))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(timer)
      resolve({ answer, ms: Date.now() - t0 })
    })
    setTimeout(() => reject(new Error('the slow client was never cut off')), 15_000).unref()
  })
}

describe('slow clients', () => {
  it('answers 408 to trickled headers within the headers timeout, and counts it', async () => {
    const metric = async () =>
      Number(/attune_requests_rejected_total\{reason="request_timeout"\} (\d+)/.exec(await (await fetch(`${proc.url}/metrics`)).text())?.[1] ?? 0)
    const before = await metric()
    const r = await trickle('POST /v1/track HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n')
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/)
    expect(r.ms).toBeLessThan(4000)
    expect(await metric()).toBe(before + 1)
  })

  it('answers 400 to what is not HTTP, and counts it', async () => {
    const metric = async () =>
      Number(/attune_requests_rejected_total\{reason="bad_request"\} (\d+)/.exec(await (await fetch(`${proc.url}/metrics`)).text())?.[1] ?? 0)
    const before = await metric()
    const { hostname, port } = new URL(proc.url)
    const answer = await new Promise<string>((resolve) => {
      let out = ''
      const socket = connect(Number(port), hostname, () => socket.write('NOT HTTP AT ALL\r\n\r\n'))
      socket.on('data', (b) => (out += b.toString()))
      socket.on('error', () => {})
      socket.on('close', () => resolve(out))
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400/)
    expect(await metric()).toBe(before + 1)
  })

  it('answers 408 to a trickled body within the request timeout, and serves others meanwhile', async () => {
    const slow = trickle(
      `POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(DEMO.secretKey)}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"userId":"p-1",`,
      ' ',
    )
    const res = await fetch(`${proc.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'p-2', event: 'fast' }),
    })
    expect(res.status).toBe(200)
    const r = await slow
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/)
    expect(r.ms).toBeLessThan(5000)
  })
})
