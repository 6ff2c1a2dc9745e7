import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPrograms } from './programs.ts'

const base = {
  id: 'skin-de',
  name: 'Skin support',
  market: 'DE',
  timeZone: 'Europe/Berlin',
  keys: { write: [{ id: 'web', key: 'pk_skin_1234567', origins: ['https://skin.example'] }], secret: [{ id: 'be', key: 'env:SKIN_SECRET' }] },
}
let dir = ''
const write = (doc: unknown, name = 'p.json') => {
  dir ||= mkdtempSync(join(tmpdir(), 'attune-programs-'))
  writeFileSync(join(dir, name), JSON.stringify(doc))
  return dir
}
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = ''
})

describe('loadPrograms', () => {
  it('loads the repository’s programs', () => {
    const programs = loadPrograms(join(import.meta.dirname, '../../programs'), {})
    expect(programs.map((p) => p.program.id)).toContain('psoriasis-demo')
  })

  it('resolves env: keys and gives secret keys the server channel by default', () => {
    const [p] = loadPrograms(write(base), { SKIN_SECRET: 'sk_skin_from_env_99' })
    expect(p!.keys.find((k) => k.kind === 'secret')).toMatchObject({ key: 'sk_skin_from_env_99', channel: 'server', program: 'skin-de' })
  })

  it('stops with the path of what is wrong', () => {
    expect(() => loadPrograms(write(base), {})).toThrow(/keys\.secret\.0\.key names SKIN_SECRET, which is not set/)
    expect(() => loadPrograms(write({ ...base, timeZone: 'Mars/Olympus' }), {})).toThrow(/timeZone: must be an IANA time zone/)
    expect(() => loadPrograms(write({ ...base, market: 'Germany' }), {})).toThrow(/market: must be an ISO 3166-1/)
    expect(() => loadPrograms(write({ ...base, keys: { ...base.keys, write: [{ id: 'web', key: 'sk_wrong_prefix', origins: ['https://a.example'] }] } }), {})).toThrow(/keys\.write\.0\.key: must start with pk_/)
    expect(() => loadPrograms(write({ ...base, keys: { ...base.keys, write: [{ id: 'web', key: 'pk_abcdefghijk', origins: ['*'] }] } }), {})).toThrow(/keys\.write\.0\.origins\.0/)
  })

  it('resolves the link secret, literal or from the environment, and gives it to every key of the program', () => {
    const literal = 'a_literal_link_secret_of_32_chars_'
    const [p] = loadPrograms(write({ ...base, linkSecret: literal }), { SKIN_SECRET: 'sk_skin_from_env_99' })
    expect(p!.linkSecret).toBe(literal)
    expect(p!.keys.map((k) => k.linkSecret)).toEqual([literal, literal])
    const fromEnv = 'b'.repeat(40)
    const [q] = loadPrograms(write({ ...base, linkSecret: 'env:SKIN_LINKS' }), { SKIN_SECRET: 'sk_skin_from_env_99', SKIN_LINKS: fromEnv })
    expect(q!.linkSecret).toBe(fromEnv)
    const [none] = loadPrograms(write(base), { SKIN_SECRET: 'sk_skin_from_env_99' })
    expect(none!.linkSecret).toBeUndefined()
    expect(none!.keys[0]).not.toHaveProperty('linkSecret')
    expect(loadPrograms(join(import.meta.dirname, '../../programs'), {}).find((d) => d.program.id === 'psoriasis-demo')!.linkSecret!.length).toBeGreaterThanOrEqual(32)
  })

  it('refuses a short or missing link secret without printing it', () => {
    const env = { SKIN_SECRET: 'sk_skin_from_env_99' }
    const short = 'too_short_a_link_secret'
    const error = (doc: unknown, e: Record<string, string> = env) => {
      try {
        loadPrograms(write(doc), e)
      } catch (x) {
        return (x as Error).message
      }
      return ''
    }
    expect(error({ ...base, linkSecret: short })).toMatch(/linkSecret: must be at least 32 characters or env:VARIABLE/)
    expect(error({ ...base, linkSecret: short })).not.toContain(short)
    expect(error({ ...base, linkSecret: 'env:lower' })).toMatch(/linkSecret: must be at least 32/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' })).toMatch(/linkSecret names SKIN_LINKS, which is not set/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' }, { ...env, SKIN_LINKS: short })).toMatch(/SKIN_LINKS must be at least 32 characters/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' }, { ...env, SKIN_LINKS: short })).not.toContain(short)
  })

  it('refuses a key used twice and an id used twice', () => {
    write(base, 'a.json')
    write({ ...base, id: 'other', keys: { ...base.keys, secret: [{ id: 'be', key: 'sk_other_123456' }] } }, 'b.json')
    expect(() => loadPrograms(dir, { SKIN_SECRET: 'sk_skin_from_env_99' })).toThrow(/key web is used twice/)
  })
})
