// Starts the collector: `npm start`. Configuration comes from the environment (see README).
import { serve } from '@hono/node-server'
import { Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { configFromEnv } from './config.ts'
import { describeError } from './errors.ts'
import { createService } from './service.ts'

const log = (m: string) => console.error(`[attune] ${m}`)
/** Whether an address is this machine's loopback. */
const loopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.')
const config = configFromEnv(process.env)
const service = await createService(config, { log })

// Slow clients (a trickled header or body) are answered 408 and cut off (guarantee L2); Node checks
// these deadlines every connectionsCheckingInterval, so that is kept short.
const serverOptions = {
  headersTimeout: config.headersTimeoutMs,
  requestTimeout: config.requestTimeoutMs,
  connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  keepAliveTimeout: 5_000,
}
const server = serve({ fetch: service.app.fetch, port: config.port, hostname: config.host, serverOptions }, (info: AddressInfo) => {
  // Say what is listened on; URLs below use loopback when every interface is open.
  const everyInterface = config.host === '0.0.0.0' || config.host === '::'
  const bound = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${info.port}`
  const host = everyInterface ? '127.0.0.1' : config.host
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`
  const demos = service.programs.filter((p) => p.program.demo).map((p) => p.program.id)
  const lines = [
    `Attune collector listening on ${bound}${everyInterface ? ' (every network interface)' : loopback(config.host) ? ' (this machine only; HOST opens it)' : ''}`,
    ...(demos.length && !loopback(config.host)
      ? [`  WARNING     demo programs ${demos.join(', ')} are reachable from the network and their keys are public in the repository`]
      : []),
    `  ingestion   ${base}/v1/batch  (also /v1/track, /v1/page, /v1/screen, /v1/identify, /v1/alias, /v1/group)`,
    `  demo site   ${base}/demo/`,
    `  script tag  <script async src="${base}/attune.js" data-key="WRITE_KEY"></script>`,
    `  health      ${base}/health`,
    `  metrics     ${base}/metrics`,
    `  ClickHouse  ${config.storage.mode === 'embedded' ? `embedded, data in ${config.storage.path}` : config.storage.url}`,
    `  spool       ${config.spool.dir}`,
  ]
  // A demo program's keys written in its document are public and printed whole; any other key is a secret, named by its id.
  const fromApi = (p: (typeof service.programs)[number]) => service.registry.get(p.program.id)?.source === 'api'
  const shown = (p: (typeof service.programs)[number], k: (typeof p.keys)[number]) =>
    p.program.demo && k.form === 'literal' && k.value
      ? k.value
      : `(${k.form === 'env' ? 'from the environment' : k.form === 'hash' ? 'known by its hash' : 'in the document'})`
  for (const p of service.programs) {
    const version = service.registry.get(p.program.id)?.version
    lines.push(
      `  program     ${p.program.id} (${p.program.name})${p.program.demo ? ' DEMO: its keys are public' : ''} ${version ? `version ${version} ` : ''}${fromApi(p) ? 'from the admin API' : `from ${p.file}`}`,
    )
    for (const k of p.keys) {
      lines.push(
        `    ${k.kind === 'write' ? 'write key ' : 'secret key'}  ${shown(p, k)}  [${k.id}${k.kind === 'write' ? `; origins ${k.origins.join(' ')}` : `; channel ${k.channel}; ${k.scopes.join(', ')}`}]`,
      )
    }
  }
  const demo = service.programs.flatMap((p) => (p.program.demo ? p.keys.filter((k) => k.kind === 'secret' && k.form === 'literal' && k.value) : []))[0]
  lines.push(`Try: curl -u ${demo?.value ?? 'sk_...'}: -H 'content-type: application/json' -d '{"userId":"p-1","event":"diary_downloaded"}' ${base}/v1/track`)
  const linked = service.programs.find((p) => p.linkSecret)
  if (linked)
    lines.push(
      `E-mail landing link: npm run click-link -- --program ${linked.program.id} --patient p-000123 --message msg-1 --campaign welcome --channel email --url ${base}/demo/`,
    )
  console.log(lines.join('\n'))
})

// Requests Node refuses before the app sees them (headers or request not complete in time,
// headers too large, not HTTP) are answered as Node would, and counted by reason like every other
// refusal; a client that went away is counted as an abort.
const nodeRefusals: Record<string, [string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['request_timeout', '408 Request Timeout'],
  HPE_HEADER_OVERFLOW: ['headers_too_large', '431 Request Header Fields Too Large'],
}
server.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    service.metrics.clientAborts.inc()
    socket.destroy()
    return
  }
  const [reason, status] = nodeRefusals[err.code ?? ''] ?? ['bad_request', '400 Bad Request']
  service.metrics.requestsRejected.inc({ reason })
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
})

// Keep-alive clients that keep sending would hold server.close() open for ever (measured: a
// SIGTERM under load never finished). So after SIGTERM every answer says Connection: close,
// sockets are closed as soon as they are idle, and whatever is still open after the grace
// period is cut: a request cut there got no answer, so nothing acknowledged is lost.
const CLOSE_GRACE_MS = Math.min(5_000, config.shutdownTimeoutMs)

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    // A second signal: the operator will not wait. What is not in ClickHouse stays in the spool.
    log(`${signal} again: exiting now; the spool keeps what was not written`)
    process.exit(1)
  }
  stopping = true
  log(`${signal}: no longer accepting; draining the spool to ClickHouse`)
  // A hung disk or ClickHouse must not keep the process for ever: the drain has its timeout,
  // and this is the backstop past it.
  setTimeout(
    () => {
      log('shutdown did not finish in time; exiting, the spool keeps what was not written')
      process.exit(1)
    },
    config.shutdownTimeoutMs + CLOSE_GRACE_MS + 10_000,
  ).unref()
  const http = server instanceof HttpServer ? server : null
  http?.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close')
  })
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  const idle = setInterval(() => http?.closeIdleConnections(), 50)
  const cut = setTimeout(() => http?.closeAllConnections(), CLOSE_GRACE_MS)
  try {
    await closed
    clearInterval(idle)
    clearTimeout(cut)
    // Requests whose sockets were cut may still be appending: service.close waits for them.
    await service.close({ drain: true })
  } catch (e) {
    log(`shutdown failed: ${describeError(e)}`)
    process.exit(1)
  }
  log(`stopped cleanly; ${service.spool.stats().depthBytes} bytes left in the spool for the next start`)
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
