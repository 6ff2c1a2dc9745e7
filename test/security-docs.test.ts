// The identity-token recipes in docs/security.md, run as a site's backend would run them (Node,
// and Python with the standard library only): the collector verifies what they sign.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyIdentityToken } from '../collector/index.ts'
import { DEMO, ROOT } from './helpers.ts'

const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8')
/** The code block after `<!-- recipe:NAME -->`. */
function recipe(name: string): string {
  const m = new RegExp(`<!-- recipe:${name} -->\\s*\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(doc)
  if (!m) throw new Error(`docs/security.md has no recipe:${name}`)
  return m[1]!
}

const env = { ...process.env, P: DEMO.program, U: 'p-000123', S: DEMO.identitySecret }
const verified = (token: string) => verifyIdentityToken(token.trim(), (p) => (p === DEMO.program ? DEMO.identitySecret : undefined), Date.now())

describe('identity-token recipes', () => {
  it('Node', () => {
    const token = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `${recipe('node')}\nconsole.log(identityToken(process.env.P, process.env.U, process.env.S))`],
      { env, encoding: 'utf8' },
    )
    expect(verified(token)).toMatchObject({ valid: true, payload: { program: DEMO.program, patient: 'p-000123' } })
  })

  it('Python', () => {
    const token = execFileSync('python3', ['-c', `${recipe('python')}\nimport os\nprint(identity_token(os.environ["P"], os.environ["U"], os.environ["S"]))`], {
      env,
      encoding: 'utf8',
    })
    expect(verified(token)).toMatchObject({ valid: true, payload: { program: DEMO.program, patient: 'p-000123' } })
    const t = token.trim()
    const tampered = `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`
    expect(verified(tampered)).toEqual({ valid: false, failure: 'bad_signature' })
  })
})
