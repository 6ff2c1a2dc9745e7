// The floor: a bare Hono app on @hono/node-server that reads the body and answers 204 — the
// least any collector built on this stack must do per request. Run as its own process by run.ts.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'

const app = new Hono()
app.post('*', async (c) => {
  await c.req.arrayBuffer()
  return c.body(null, 204)
})

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? '127.0.0.1' }, (info: AddressInfo) => {
  console.log(`floor listening on http://127.0.0.1:${info.port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
