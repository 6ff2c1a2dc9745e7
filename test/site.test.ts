// The collector serves the SDK build (short-cached, ETag-revalidated, and immutable under its
// version) and the demo site with the demo program's write key in its script tag.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO, ROOT, startService } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc?.stop())

const manifest = () => JSON.parse(readFileSync(join(ROOT, 'sdk/dist/manifest.json'), 'utf8')) as { version: string; files: Record<string, { sha256: string }> }

describe('SDK and demo site', () => {
  it('serves /attune.js with an ETag, a short cache and a 304 on revalidation', async () => {
    const res = await svc.service.app.request('/attune.js')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('public, max-age=300')
    const etag = res.headers.get('etag')!
    expect(etag).toBe(`"${manifest().files['attune.js']!.sha256}"`)
    expect(await res.text()).toBe(readFileSync(join(ROOT, 'sdk/dist/attune.js'), 'utf8'))
    const again = await svc.service.app.request('/attune.js', { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect((await svc.service.app.request('/attune-personalise.js')).status).toBe(200)
  })

  it('serves every file under its version, immutable; another version is not found', async () => {
    const { version, files } = manifest()
    for (const f of Object.keys(files)) {
      const res = await svc.service.app.request(`/sdk/${version}/${f}`)
      expect(res.status, f).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    }
    expect((await svc.service.app.request('/sdk/0.0.0-old/attune.js')).status).toBe(404)
    expect((await svc.service.app.request(`/sdk/${version}/../package.json`)).status).toBe(404)
  })

  it('serves the demo site with the demo write key in its script tag, and its SPA paths', async () => {
    const res = await svc.service.app.request('/demo/')
    const html = await res.text()
    expect(res.status).toBe(200)
    expect(html).toContain(`<script async src="/attune.js" data-key="${DEMO.writeKey}"></script>`)
    expect(html).toContain('data-attune-goal="diary_downloaded"')
    expect(await (await svc.service.app.request('/demo/treatments')).text()).toBe(html)
    expect((await svc.service.app.request('/demo/treatment-diary.txt')).status).toBe(200)
    expect((await svc.service.app.request('/demo/missing.png')).status).toBe(404)
    expect((await svc.service.app.request('/demo')).headers.get('location')).toBe('/demo/')
  })
})
