// The dependency rules of .dependency-cruiser.cjs (docs/architecture.md) hold for the whole tree,
// and the check fails on an import that breaks them (a fixture tree with one wrong import each).
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, tempDir } from './helpers.ts'

const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs')
const cruise = (cwd: string, parts: string[]) => {
  try {
    return {
      ok: true,
      out: execFileSync(process.execPath, [CLI, ...parts, '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err'], {
        cwd,
        encoding: 'utf8',
      }),
    }
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? '') }
  }
}

const fixture = tempDir('attune-deps-')
afterAll(() => fixture.remove())

/** A tiny tree of Attune's parts with the given files (path → source). */
function tree(files: Record<string, string>): string {
  const dir = join(fixture.dir, String(Object.keys(files).length) + Math.random().toString(36).slice(2, 8))
  for (const [path, source] of Object.entries({
    'analytics/index.ts': 'export const a = 1\n',
    'analytics/src/model.ts': 'export const m = 1\n',
    'analytics/src/decide/decide.ts': 'export const d = 1\n',
    'collector/index.ts': 'export const c = 1\n',
    'collector/src/route.ts': 'export const r = 1\n',
    'population/index.ts': 'export const p = 1\n',
    'population/src/world.ts': 'export const w = 1\n',
    ...files,
  })) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), source)
  }
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  return dir
}

describe('dependency rules', () => {
  it('hold for the whole tree', () => {
    const r = cruise(ROOT, ['analytics', 'collector', 'population', 'sdk', 'test', 'bench'])
    expect(r.out).toContain('no dependency violations found')
    expect(r.ok).toBe(true)
  })

  it('fail on an import of another part’s internals, against the direction, or in a cycle', () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['collector-internals', { 'analytics/src/bad.ts': "import { r } from '../../collector/src/route.ts'\nexport const b = r\n" }],
      ['analytics-is-below-the-collector', { 'analytics/src/bad.ts': "import { c } from '../../collector/index.ts'\nexport const b = c\n" }],
      ['analytics-internals', { 'collector/src/bad.ts': "import { m } from '../../analytics/src/model.ts'\nexport const b = m\n" }],
      ['analytics-program-below-models', { 'analytics/src/program/bad.ts': "import { d } from '../decide/decide.ts'\nexport const b = d\n" }],
      ['population-internals', { 'collector/src/bad.test.ts': "import { w } from '../../population/src/world.ts'\nexport const b = w\n" }],
      ['collector-does-not-reach-up', { 'collector/src/bad.ts': "import { p } from '../../population/index.ts'\nexport const b = p\n" }],
      [
        'no-cycles',
        {
          'collector/src/x.ts': "import { y } from './y.ts'\nexport const x = () => y\n",
          'collector/src/y.ts': "import { x } from './x.ts'\nexport const y = () => x\n",
        },
      ],
    ]
    for (const [rule, files] of cases) {
      const r = cruise(tree(files), ['analytics', 'collector', 'population'])
      expect(r.ok, rule).toBe(false)
      expect(r.out, rule).toContain(`error ${rule}`)
    }
  })
})

describe('the test run', () => {
  it('includes every test file in the tree', async () => {
    const { default: config } = await import('../vitest.config.ts')
    const include = (config as { test: { include: string[] } }).test.include
    // Each pattern is `<folder>/**/*.test.ts`.
    const folders = include.map((p) => p.replace(/\/\*\*\/\*\.test\.ts$/, '/'))
    expect(folders.every((f) => !f.includes('*'))).toBe(true)
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.test.ts'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
    expect(files.length).toBeGreaterThan(50)
    expect(files.filter((f) => !folders.some((folder) => f.startsWith(folder)))).toEqual([])
  })
})
