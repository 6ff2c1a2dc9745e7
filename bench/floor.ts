// The floors: a bare Hono app on @hono/node-server that reads the body and answers 204 — the
// least any collector built on this stack must do per request. With FLOOR_DURABLE=1 it first
// appends the body to a file and waits for fdatasync, grouping concurrent requests into one
// write and one sync as the collector's spool does (guarantee D1): the least any collector
// that acknowledges only durable events can do. Run as its own process by run.ts.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const durable = process.env.FLOOR_DURABLE === '1'
const dir = durable ? mkdtempSync(join(tmpdir(), 'attune-floor-')) : ''
const file = durable ? await open(join(dir, 'log'), 'a') : null

// Group commit: requests that arrive while a write and sync run go together in the next one.
let group: { buffers: Buffer[]; done: Array<() => void> } = { buffers: [], done: [] }
let flushing = false
async function flush(): Promise<void> {
  flushing = true
  while (group.buffers.length > 0) {
    const g = group
    group = { buffers: [], done: [] }
    await file!.writev(g.buffers)
    await file!.datasync()
    for (const d of g.done) d()
  }
  flushing = false
}
function append(body: ArrayBuffer): Promise<void> {
  return new Promise((resolve) => {
    group.buffers.push(Buffer.from(body))
    group.done.push(resolve)
    if (!flushing) void flush()
  })
}

const app = new Hono()
app.post('*', async (c) => {
  const body = await c.req.arrayBuffer()
  if (durable) await append(body)
  return c.body(null, 204)
})

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? '127.0.0.1' }, (info: AddressInfo) => {
  console.log(`floor listening on http://127.0.0.1:${info.port}`)
})
process.on('SIGTERM', () =>
  server.close(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  }),
)
