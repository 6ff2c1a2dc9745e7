import { Hono, type Context } from 'hono'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join, resolve } from 'node:path'
import { ApiError } from '../errors.ts'

/** Where the built SDK and the demo pages are read from. */
export interface SiteDeps {
  /** sdk/dist: the build's files and manifest.json. */
  sdkDir: string
  /** The demo site's pages (`{{WRITE_KEY}}` is replaced by `demoWriteKey`). */
  demoDir: string
  /** The write key the demo pages embed, from the active program documents (it can change at run time). */
  demoWriteKey: () => string | null
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
}

interface Asset {
  body: Buffer
  etag: string
  type: string
}

/** The SDK build, read once: file name → body and ETag (from the build's content hash). */
function loadSdk(dir: string): { version: string; files: Map<string, Asset> } | null {
  const manifestFile = join(dir, 'manifest.json')
  if (!existsSync(manifestFile)) return null
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { version: string; files: Record<string, { sha256: string }> }
  const files = new Map<string, Asset>()
  for (const [name, f] of Object.entries(manifest.files)) {
    files.set(name, { body: readFileSync(join(dir, name)), etag: `"${f.sha256}"`, type: TYPES[extname(name)] ?? 'application/octet-stream' })
  }
  return { version: manifest.version, files }
}

function send(c: Context, a: Asset, cacheControl: string): Response {
  const headers = { 'Content-Type': a.type, ETag: a.etag, 'Cache-Control': cacheControl, 'Access-Control-Allow-Origin': '*' }
  if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, headers)
  return c.body(new Uint8Array(a.body), 200, headers)
}

/**
 * The script tag's files and the demo site: `/attune.js` (and its chunk beside it) cached for
 * five minutes and revalidated by ETag, so a release reaches sites quickly; `/sdk/<version>/…`
 * immutable for a year, for sites that pin a version; `/demo/` the example patient-support site.
 */
export function siteRoutes(d: SiteDeps): Hono {
  const app = new Hono()
  const sdk = loadSdk(d.sdkDir)
  const missing = () => {
    throw new ApiError(404, 'not_found', 'the SDK is not built: run `npm run build:sdk` (npm start does it)')
  }
  app.get('/:file{attune(-[\\w-]+)?\\.(js|mjs)}', (c) => {
    const a = sdk?.files.get(c.req.param('file'))
    return a ? send(c, a, 'public, max-age=300') : sdk ? c.notFound() : missing()
  })
  app.get('/sdk/:version/:file', (c) => {
    if (!sdk) return missing()
    const a = c.req.param('version') === sdk.version ? sdk.files.get(c.req.param('file')) : undefined
    return a ? send(c, a, 'public, max-age=31536000, immutable') : c.notFound()
  })

  const demoRoot = resolve(d.demoDir)
  const files = new Map<string, Buffer>()
  if (existsSync(demoRoot)) for (const name of readdirSync(demoRoot)) files.set(name, readFileSync(join(demoRoot, name)))
  // The pages with the demo write key filled in, rebuilt when the key changes (a program document changed).
  let rendered: { key: string | null; pages: Map<string, Asset> } | null = null
  const demoPages = (): Map<string, Asset> => {
    const key = d.demoWriteKey()
    if (rendered?.key === key) return rendered.pages
    const pages = new Map<string, Asset>()
    for (const [name, file] of files) {
      const body = name.endsWith('.html') ? Buffer.from(file.toString('utf8').replaceAll('{{WRITE_KEY}}', key ?? '')) : file
      pages.set(name, {
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
        type: TYPES[extname(name)] ?? 'application/octet-stream',
      })
    }
    rendered = { key, pages }
    return pages
  }
  app.get('/demo', (c) => c.redirect('/demo/'))
  app.get('/demo/*', (c) => {
    const rest = c.req.path.slice('/demo/'.length)
    const pages = demoPages()
    // Paths of a single-page app (/demo/treatments/biologics) get its shell, as a static host would.
    const a = pages.get(rest === '' ? 'index.html' : rest) ?? (rest.includes('.') ? undefined : pages.get('index.html'))
    return a ? send(c, a, 'no-cache') : c.notFound()
  })
  return app
}
