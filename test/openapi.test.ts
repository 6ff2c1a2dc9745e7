// The OpenAPI 3.1 document at /openapi.json: valid against the OpenAPI 3.1 schema, describing
// every route the app serves (so a new route cannot go undocumented), and its reference page at
// /docs/api rendered in a real Chromium.
import { serve, type ServerType } from '@hono/node-server'
import { Validator } from '@seriousme/openapi-schema-validator'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOCUMENTED_ROUTES } from '../collector/index.ts'
import { startService } from './helpers.ts'

const CHROMIUM = '/usr/bin/chromium'
let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc?.stop())

/** Routes served in another form than the document names them: the SDK's file pattern, the demo site's paths and its redirect. */
const SERVED_AS: Record<string, string> = {
  'GET /:file{attune(-[\\w-]+)?\\.(js|mjs)}': 'GET /attune.js',
  'GET /demo/*': 'GET /demo/:path',
  'GET /demo': 'GET /demo/:path',
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const res = await svc.service.app.request('/openapi.json')
    expect(res.status).toBe(200)
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> }
    expect(doc.openapi).toBe('3.1.0')
    const result = await new Validator().validate(doc as Parameters<Validator['validate']>[0])
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('documents every route the app serves, and no route it does not', () => {
    const served = new Set(svc.service.app.routes.filter((r) => r.method !== 'ALL').map((r) => SERVED_AS[`${r.method} ${r.path}`] ?? `${r.method} ${r.path}`))
    expect([...served].sort()).toEqual([...new Set(DOCUMENTED_ROUTES)].sort())
  })

  it('describes a request as the route validates it: a batch of each message type', async () => {
    const doc = (await (await svc.service.app.request('/openapi.json')).json()) as {
      components: { schemas: Record<string, { properties?: Record<string, { items?: { oneOf?: Array<{ $ref: string }> } }> }> }
    }
    expect(doc.components.schemas.Batch!.properties!.batch!.items!.oneOf!.map((r) => r.$ref.split('/').pop())).toEqual([
      'Track',
      'Page',
      'Screen',
      'Identify',
      'Alias',
      'Group',
    ])
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['ProgramDocument', 'Decision', 'BrowserDecision', 'Error', 'IngestAnswer']))
  })
})

describe('/docs/api', () => {
  it('renders every operation in Chromium', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`)
    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: svc.service.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    })
    try {
      const page = await browser.newPage()
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/docs/api`)
      expect(await page.locator('h1').textContent()).toMatch(/^Attune collector/)
      expect(await page.locator('article.op').count()).toBe(DOCUMENTED_ROUTES.length)
      expect(await page.locator('article.op h3').allTextContents()).toContain('POST /v1/decide')
      await page.screenshot({ path: '/tmp/attune-api-reference.png', fullPage: false })
    } finally {
      await browser.close()
      await new Promise((r) => server.close(r))
    }
  })
})
