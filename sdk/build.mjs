// Builds the SDK into dist/: attune.js (script tag, IIFE), attune-personalise.js (its lazily
// loaded chunk), attune.mjs (+ its chunk) and its types, attune.d.mts and attune.d.ts (generated from the sources), and dist/manifest.json (version,
// sizes, content hashes) that the collector serves from.
// `node sdk/build.mjs` builds; `--if-stale` builds only when a source is newer than dist.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { rollup } from 'rollup'
import esbuild from 'rollup-plugin-esbuild'
import terser from '@rollup/plugin-terser'
import { generateDtsBundle } from 'dts-bundle-generator'

const here = dirname(fileURLToPath(import.meta.url))
const defaultDist = join(here, 'dist')
const src = join(here, 'src')

function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

/** Whether dist is missing or older than a source file or this script. */
export function stale() {
  const manifest = join(defaultDist, 'manifest.json')
  if (!existsSync(manifest)) return true
  return Math.max(newest(src), statSync(fileURLToPath(import.meta.url)).mtimeMs) > statSync(manifest).mtimeMs
}

const minify = () =>
  terser({
    ecma: 2020,
    toplevel: true,
    compress: { passes: 3, unsafe_arrows: true, unsafe: true, pure_getters: true, unsafe_methods: true },
    // Members starting with `_` are private by the SDK's convention and safe to shorten.
    mangle: { properties: { regex: /^_/ } },
    format: { comments: false },
  })
const ts = () => esbuild({ target: 'es2022', tsconfig: join(here, 'tsconfig.json') })

/** Builds every artifact into `dist` (sdk/dist unless given); returns the manifest. */
export async function build(dist = defaultDist) {
  rmSync(dist, { recursive: true, force: true })
  mkdirSync(dist, { recursive: true })
  for (const [input, file] of [
    ['entrypoints/attune.ts', 'attune.js'],
    ['entrypoints/personalise.ts', 'attune-personalise.js'],
  ]) {
    const b = await rollup({ input: join(src, input), plugins: [ts(), minify()] })
    await b.write({ file: join(dist, file), format: 'iife' })
    await b.close()
  }
  const esm = await rollup({ input: join(src, 'entrypoints/esm.ts'), plugins: [ts(), minify()] })
  await esm.write({ dir: dist, format: 'es', entryFileNames: 'attune.mjs', chunkFileNames: 'attune-[name].mjs' })
  await esm.close()
  // TypeScript reads the types of attune.mjs from attune.d.mts; attune.d.ts is the same file for
  // sites that reference it by that name.
  const types = declarations()
  for (const f of ['attune.d.mts', 'attune.d.ts']) writeFileSync(join(dist, f), types)
  const version = /version: '([^']+)'/.exec(readFileSync(join(src, 'core/tracker.ts'), 'utf8'))[1]
  const files = {}
  for (const f of readdirSync(dist)) {
    const body = readFileSync(join(dist, f))
    files[f] = {
      bytes: body.length,
      gzipBytes: gzipSync(body, { level: 9 }).length,
      sha256: createHash('sha256').update(body).digest('base64url').slice(0, 16),
    }
  }
  const manifest = { version, files }
  writeFileSync(join(dist, 'manifest.json'), JSON.stringify(manifest, null, 2))
  return manifest
}

/** The ESM build's types, generated from the sources of its entry point (one file, no imports). */
function declarations() {
  const [dts] = generateDtsBundle([{ filePath: join(src, 'entrypoints/esm.ts'), output: { noBanner: true } }], {
    preferredConfigPath: join(here, 'tsconfig.json'),
  })
  return `// Types of attune.mjs, generated from sdk/src by sdk/build.mjs. See sdk/README.md.\n${dts}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && !stale()) process.exit(0)
  const m = await build()
  for (const [f, s] of Object.entries(m.files)) console.error(`sdk: ${f} ${s.bytes} bytes, ${s.gzipBytes} gzipped`)
}
