import { Hono } from 'hono'
import { openApiDocument } from '../openapi.ts'

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

type Operation = {
  tags?: string[]
  summary?: string
  description?: string
  security?: Array<Record<string, unknown>>
  parameters?: Array<{ name: string; in: string; description?: string }>
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>
}

/** The OpenAPI document as one page: every operation by tag, with its keys, parameters and schemas. */
export function referencePage(doc: ReturnType<typeof openApiDocument>): string {
  const d = doc as {
    info: { title: string; version: string; description: string }
    tags: Array<{ name: string }>
    paths: Record<string, Record<string, Operation>>
    components: { schemas: Record<string, unknown> }
  }
  const schema = (s: unknown) => `<details><summary>schema</summary><pre>${esc(JSON.stringify(s, null, 2))}</pre></details>`
  const ops = Object.entries(d.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
  const section = (tag: string) => {
    const items = ops.filter((o) => o.op.tags?.includes(tag))
    return `<section id="${esc(tag)}"><h2>${esc(tag)}</h2>${items
      .map(({ path, method, op }) => {
        const id = `${method}-${path}`.replace(/[^a-z0-9]+/gi, '-')
        const keys = op.security?.length ? op.security.map((s) => Object.keys(s)[0]).join(' or ') : 'none'
        const params = op.parameters?.length
          ? `<table><tr><th>parameter</th><th>in</th><th></th></tr>${op.parameters.map((p) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${esc(p.description)}</td></tr>`).join('')}</table>`
          : ''
        const body = op.requestBody
          ? `<h4>body</h4>${Object.entries(op.requestBody.content)
              .map(([type, c]) => `<code>${esc(type)}</code>${schema(c.schema)}`)
              .join('')}`
          : ''
        const answers = Object.entries(op.responses)
          .map(
            ([status, r]) =>
              `<li><strong>${esc(status)}</strong> ${esc(r.description)}${
                r.content
                  ? Object.values(r.content)
                      .map((c) => schema(c.schema))
                      .join('')
                  : ''
              }</li>`,
          )
          .join('')
        return `<article class="op" id="${esc(id)}"><h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3><p>${esc(op.summary)}</p>${op.description ? `<p>${esc(op.description)}</p>` : ''}<p class="keys">keys: ${esc(keys)}</p>${params}${body}<h4>answers</h4><ul>${answers}</ul></article>`
      })
      .join('')}</section>`
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(d.info.title)} API</title><meta name="viewport" content="width=device-width,initial-scale=1"><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d2430}
nav a{margin-right:1rem}h2{border-bottom:1px solid #d5dae1;padding-bottom:.3rem;margin-top:2.5rem;text-transform:capitalize}
.op{border:1px solid #d5dae1;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}.op h3{font-size:1rem}
.method{display:inline-block;min-width:3.5rem;text-align:center;border-radius:4px;color:#fff;padding:0 .4rem;font-size:.85rem}
.get{background:#2b6cb0}.post{background:#2f855a}.put{background:#b7791f}.keys{color:#4a5568;font-size:.9rem}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:24rem;font-size:12px}table{border-collapse:collapse}td,th{border:1px solid #d5dae1;padding:.2rem .5rem;text-align:left}
</style></head><body><h1>${esc(d.info.title)} <small>${esc(d.info.version)}</small></h1><p>${esc(d.info.description)}</p><p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p><nav>${d.tags.map((t) => `<a href="#${esc(t.name)}">${esc(t.name)}</a>`).join('')}</nav>${d.tags.map((t) => section(t.name)).join('')}</body></html>`
}

/** `GET /openapi.json` (the OpenAPI 3.1 document) and `GET /docs/api` (it as a page): public, like the API's own documentation. */
export function docsRoutes(version: string): Hono {
  const app = new Hono()
  // Built once: the document follows from the code, not from requests.
  const doc = openApiDocument(version)
  const json = JSON.stringify(doc)
  const page = referencePage(doc)
  app.get('/openapi.json', (c) => c.body(json, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=300' }))
  app.get('/docs/api', (c) => c.html(page, 200, { 'Cache-Control': 'public, max-age=300' }))
  return app
}
