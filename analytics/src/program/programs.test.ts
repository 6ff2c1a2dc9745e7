import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { secretHash } from './program-keys.ts'
import { loadPrograms, ProgramDocumentError, resolveProgram } from './programs.ts'

// A demo document: its keys may be written in clear (the tests below use that).
const base = {
  id: 'skin-de',
  demo: true,
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
    const programs = loadPrograms(join(import.meta.dirname, '../../../programs'), {})
    expect(programs.map((p) => p.program.id)).toContain('psoriasis-demo')
  })

  it('resolves env: keys and gives secret keys the server channel by default', () => {
    const [p] = loadPrograms(write(base), { SKIN_SECRET: 'sk_skin_from_env_99' })
    expect(p!.keys.find((k) => k.kind === 'secret')).toMatchObject({
      value: 'sk_skin_from_env_99',
      hash: secretHash('sk_skin_from_env_99'),
      form: 'env',
      channel: 'server',
      scopes: ['ingest'],
      program: 'skin-de',
    })
  })

  it('stops with the path of what is wrong', () => {
    expect(() => loadPrograms(write(base), {})).toThrow(/keys\.secret\.0\.key: names SKIN_SECRET, which is not set/)
    expect(() => loadPrograms(write({ ...base, timeZone: 'Mars/Olympus' }), {})).toThrow(/timeZone: must be an IANA time zone/)
    expect(() => loadPrograms(write({ ...base, market: 'Germany' }), {})).toThrow(/market: must be an ISO 3166-1/)
    expect(() =>
      loadPrograms(write({ ...base, keys: { ...base.keys, write: [{ id: 'web', key: 'sk_wrong_prefix', origins: ['https://a.example'] }] } }), {}),
    ).toThrow(/keys\.write\.0\.key: must be env:VARIABLE, sha256:HASH \(of the key\), or in a demo program a pk_… key/)
    expect(() => loadPrograms(write({ ...base, keys: { ...base.keys, write: [{ id: 'web', key: 'pk_abcdefghijk', origins: ['*'] }] } }), {})).toThrow(
      /keys\.write\.0\.origins\.0/,
    )
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
    expect(
      loadPrograms(join(import.meta.dirname, '../../../programs'), {}).find((d) => d.program.id === 'psoriasis-demo')!.linkSecret!.length,
    ).toBeGreaterThanOrEqual(32)
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
    expect(error({ ...base, linkSecret: short })).toMatch(
      /linkSecret: must be env:VARIABLE, sha256:HASH, or in a demo program a value of at least 32 characters/,
    )
    expect(error({ ...base, linkSecret: short })).not.toContain(short)
    expect(error({ ...base, linkSecret: 'env:lower' })).toMatch(/linkSecret: must be env:VARIABLE/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' })).toMatch(/linkSecret: names SKIN_LINKS, which is not set/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' }, { ...env, SKIN_LINKS: short })).toMatch(/SKIN_LINKS must be at least 32 characters/)
    expect(error({ ...base, linkSecret: 'env:SKIN_LINKS' }, { ...env, SKIN_LINKS: short })).not.toContain(short)
  })

  it('refuses a key used twice and an id used twice', () => {
    write(base, 'a.json')
    write({ ...base, id: 'other', keys: { ...base.keys, secret: [{ id: 'be', key: 'sk_other_123456' }] } }, 'b.json')
    expect(() => loadPrograms(dir, { SKIN_SECRET: 'sk_skin_from_env_99' })).toThrow(/keys\.write\.0\.key: key web is used by another program/)
  })
})

describe('resolveProgram', () => {
  const env = { SKIN_SECRET: 'sk_skin_from_env_99' }
  const faults = (doc: unknown, owner?: (hash: string) => string | undefined) => {
    try {
      resolveProgram(doc, env, 'api', { keyOwner: owner })
    } catch (e) {
      if (e instanceof ProgramDocumentError) return e.issues
      throw e
    }
    return []
  }

  it('gives every schema fault with its path, and the document as written', () => {
    expect(
      faults({ ...base, timeZone: 'Mars/Olympus', market: 'Germany' })
        .map((i) => i.path)
        .sort(),
    ).toEqual(['market', 'timeZone'])
    const fromEnv = { ...base, keys: { ...base.keys, write: [{ ...base.keys.write[0]!, key: 'env:SKIN_WRITE' }] } }
    const loaded = resolveProgram(fromEnv, { ...env, SKIN_WRITE: 'pk_skin_from_env_1' }, 'api')
    expect(loaded.document).toBe(fromEnv)
    expect(loaded.keys.find((k) => k.id === 'be')?.value).toBe('sk_skin_from_env_99')
  })

  it('refuses a key used twice in the document, or used by another program, but not by the program itself', () => {
    expect(
      faults({
        ...base,
        keys: {
          ...base.keys,
          secret: [
            { id: 'be', key: 'sk_skin_1234567' },
            { id: 'be2', key: 'sk_skin_1234567' },
          ],
        },
      }),
    ).toEqual([{ path: 'keys.secret.1.key', message: 'key be2 is used twice' }])
    expect(faults(base, (h) => (h === secretHash('pk_skin_1234567') ? 'other' : undefined))).toEqual([
      { path: 'keys.write.0.key', message: 'key web is used by another program' },
    ])
    expect(faults(base, (h) => (h === secretHash('pk_skin_1234567') ? 'skin-de' : undefined))).toEqual([])
  })

  it('refuses keys and secrets in clear outside a demo program, naming the path and never the value', () => {
    const issues = faults({ ...base, demo: false, linkSecret: 'l'.repeat(40), identitySecret: 'i'.repeat(40) })
    expect(issues.map((i) => i.path)).toEqual(['keys.write.0.key', 'linkSecret', 'identitySecret'])
    expect(issues[0]!.message).toBe('a key in clear is allowed only in a demo program ("demo": true); write env:VARIABLE or sha256:HASH')
    expect(JSON.stringify(issues)).not.toMatch(/pk_skin_1234567|llll|iiii/)
    // env: references and hashes are what a real program writes.
    const real = {
      ...base,
      demo: false,
      keys: {
        write: [{ id: 'web', key: `sha256:${secretHash('pk_real_key_123')}`, origins: ['https://skin.example'] }],
        secret: [{ id: 'be', key: 'env:SKIN_SECRET', scopes: ['ingest', 'profiles'] }],
      },
      identitySecret: 'env:SKIN_IDENTITY',
    }
    const long = 'sk_skin_from_env_0123456789'
    // Outside a demo a key must be long enough not to be guessed from its hash.
    expect(() => resolveProgram(real, { ...env, SKIN_IDENTITY: 'x'.repeat(40) }, 'api')).toThrow(
      'keys.secret.0.key: SKIN_SECRET must start with sk_ and be at least 24 characters',
    )
    const loaded = resolveProgram(real, { ...env, SKIN_SECRET: long, SKIN_IDENTITY: 'x'.repeat(40) }, 'api')
    expect(loaded.keys.map((k) => [k.id, k.form, k.value ?? null, k.scopes])).toEqual([
      ['web', 'hash', null, ['ingest', 'decide']],
      ['be', 'env', long, ['ingest', 'profiles']],
    ])
    expect(loaded.keys[0]!.hash).toBe(secretHash('pk_real_key_123'))
    expect(loaded.identitySecret).toBe('x'.repeat(40))
    expect(loaded.keys.every((k) => k.identitySecret === 'x'.repeat(40))).toBe(true)
  })

  it('keeps no key or secret in clear in the document it gives back, and resolves a secret named by hash from values the service holds', () => {
    const secret = 's'.repeat(40)
    const loaded = resolveProgram({ ...base, linkSecret: secret }, env, 'api')
    const doc = JSON.stringify(loaded.document)
    expect(doc).not.toContain('pk_skin_1234567')
    expect(doc).not.toContain(secret)
    expect(doc).toContain(`sha256:${secretHash(secret)}`)
    expect(doc).toContain('env:SKIN_SECRET')
    // The redacted document resolves again to the same keys and secret when the values are known.
    const known = new Map([
      [secretHash(secret), secret],
      [secretHash('pk_skin_1234567'), 'pk_skin_1234567'],
    ])
    const again = resolveProgram(loaded.document, env, 'api', { knownValue: (h) => known.get(h) })
    // A secret named by hash resolves only to this program's own value of that secret.
    expect(() => resolveProgram(loaded.document, env, 'api', { knownValue: (h, name) => (name === 'key' ? known.get(h) : undefined) })).toThrow(
      /linkSecret: names by its hash a linkSecret this program does not hold/,
    )
    expect(again.linkSecret).toBe(secret)
    expect(again.keys[0]).toMatchObject({ form: 'hash', value: 'pk_skin_1234567' })
    expect(faults({ ...base, linkSecret: `sha256:${'0'.repeat(64)}` })).toEqual([
      { path: 'linkSecret', message: 'names by its hash a linkSecret this program does not hold; write env:VARIABLE' },
    ])
  })
})

describe('the shipped programs', () => {
  const shipped = loadPrograms(join(import.meta.dirname, '../../../programs'), {})
  const psoriasis = shipped.find((p) => p.program.id === 'psoriasis-demo')!.program
  const quit = shipped.find((p) => p.program.id === 'smoking-cessation-demo')?.program

  it('are the psoriasis and the smoking-cessation programs, each with every section filled', () => {
    expect(shipped.map((p) => p.program.id)).toEqual(['psoriasis-demo', 'smoking-cessation-demo'])
    for (const { program: p } of shipped) {
      expect(p.needs.length, p.id).toBeGreaterThanOrEqual(3)
      expect(p.content.length, p.id).toBeGreaterThanOrEqual(15)
      expect(p.content.length, p.id).toBeLessThanOrEqual(25)
      expect(p.goals.length, p.id).toBeGreaterThan(0)
      expect(
        p.levels.map((l) => l.level),
        p.id,
      ).toEqual([0, 1, 2, 3])
      expect(
        p.levels.slice(1).every((l) => l.dropBelow < l.minValue),
        `${p.id}: every level above 0 has hysteresis`,
      ).toBe(true)
      expect(p.questionnaires.length, p.id).toBeGreaterThanOrEqual(2)
      expect(p.questionnaires.length, p.id).toBeLessThanOrEqual(3)
      expect(p.patterns.length, p.id).toBeGreaterThanOrEqual(3)
      expect(p.patterns.length, p.id).toBeLessThanOrEqual(5)
      // Every item is unlocked by the level it belongs to, so the unlock lists are complete.
      for (const l of p.levels) {
        expect([...l.unlocks.content].sort(), `${p.id} level ${l.level}`).toEqual(
          p.content
            .filter((c) => c.level === l.level)
            .map((c) => c.id)
            .sort(),
        )
        expect([...l.unlocks.questionnaires].sort(), `${p.id} level ${l.level}`).toEqual(
          p.questionnaires
            .filter((q) => q.availableAtLevel === l.level)
            .map((q) => q.id)
            .sort(),
        )
      }
      // Goals that name a questionnaire name one of the program's.
      for (const g of p.goals)
        for (const e of g.events) if (e.event === 'questionnaire_answered') expect(p.questionnaires.map((q) => q.id)).toContain(e.where?.questionnaire)
    }
  })

  it('keep the psoriasis program’s identity, keys and link secret', () => {
    expect(psoriasis).toMatchObject({
      id: 'psoriasis-demo',
      name: 'Clear Skin Companion (demo psoriasis support program)',
      market: 'DE',
      timeZone: 'Europe/Berlin',
      linkSecret: 'demo_link_secret_psoriasis_0d6e2b9f47a3c158',
    })
    expect(psoriasis.keys.write).toEqual([
      { id: 'web-demo', key: 'pk_demo_psoriasis_7f3a9c2e', origins: ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'] },
    ])
    expect(psoriasis.keys.secret.map((k) => `${k.key} ${k.channel}`)).toEqual([
      'sk_demo_psoriasis_4b81d6f0e2 server',
      'sk_demo_psoriasis_call_91c2a7 call',
      'sk_demo_psoriasis_print_5e0b3d print',
    ])
  })

  it('give the psoriasis program the goals, questionnaire and approvals the demo and the tests rely on', () => {
    expect(psoriasis.goals.map((g) => g.id)).toEqual(
      expect.arrayContaining([
        'diary_downloaded',
        'nurse_callback_requested',
        'first_needs_answered',
        'email_clicked',
        'sms_clicked',
        'treatment_checkin',
        'magazine_response',
      ]),
    )
    const events = psoriasis.goals.flatMap((g) => g.events.map((e) => e.event))
    expect(events).toEqual(
      expect.arrayContaining(['goal_reached', 'questionnaire_answered', 'email_click', 'sms_click', 'medication_checkin', 'print_response']),
    )
    expect(psoriasis.goals.find((g) => g.id === 'diary_downloaded')!.events).toContainEqual({ event: 'goal_reached', where: { goal: 'diary_downloaded' } })
    expect(psoriasis.questionnaires.find((q) => q.id === 'first-needs')?.availableAtLevel).toBe(0)
    const channels = new Set(psoriasis.content.flatMap((c) => Object.keys(c.channels)))
    expect([...channels].sort()).toEqual(['call', 'email', 'print', 'sms', 'web'])
    expect(psoriasis.content.filter((c) => c.approval.validUntil < '2026-01-01').map((c) => c.id)).toEqual(['summer-sun-and-skin'])
    expect(psoriasis.content.filter((c) => !c.markets.includes('DE')).map((c) => c.id)).toEqual(['dermatologist-finder-at'])
  })

  it('give the smoking-cessation program its own market, keys and goals', () => {
    expect(quit).toMatchObject({ market: 'GB', timeZone: 'Europe/London' })
    expect(quit!.linkSecret!.length).toBeGreaterThanOrEqual(32)
    expect(
      quit!.keys.write.every((k) => k.key.startsWith('pk_demo_quit_') && k.origins.every((o) => /^http:\/\/(localhost|127\.0\.0\.1|\[::1\]):\*$/.test(o))),
    ).toBe(true)
    expect(quit!.keys.secret.map((k) => k.channel).sort()).toEqual(['call', 'server', 'sms'])
    expect(quit!.keys.secret.every((k) => k.key.startsWith('sk_demo_quit_'))).toBe(true)
    expect(quit!.needs.map((n) => n.id)).toEqual(expect.arrayContaining(['motivation', 'cravings', 'medication-adherence', 'relapse-risk', 'social-support']))
    expect(quit!.goals.map((g) => g.id)).toEqual(
      expect.arrayContaining(['quit_date_set', 'smoke_free_day', 'medication_checkin', 'craving_tip_used', 'buddy_invited']),
    )
    expect(quit!.content.every((c) => c.markets.includes('GB'))).toBe(true)
  })
})
