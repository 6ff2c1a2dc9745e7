import type { MiddlewareHandler } from 'hono'
import type { KeyScope, ProgramKey } from '../../../analytics/index.ts'
import { programSecretKey } from '../auth.ts'
import type { KeyIndex } from '../keys.ts'

/** Request-scoped values of routes behind {@link requireSecretKey}. */
export interface SecretKeyEnv {
  Variables: { key: ProgramKey }
}

/**
 * Lets through only a secret key (HTTP Basic user; never in a URL, which ends up in logs) that
 * has `scope`, of the program the path's `:id` or the query's `program` names when they name one:
 * no key 401, a write key 403 `secret_key_required`, a key without the scope 403
 * `scope_required`, another program's key 403 `wrong_program`. The key is `c.get('key')`.
 *
 * @example app.get('/profiles/:patientId', requireSecretKey(keys, { scope: 'profiles', program: 'query' }), handler)
 */
export function requireSecretKey(keys: KeyIndex, opts: { scope: KeyScope; program?: 'param' | 'query' }): MiddlewareHandler<SecretKeyEnv> {
  return async function secretKey(c, next) {
    const program = opts.program === 'param' ? c.req.param('id') : opts.program === 'query' ? c.req.query('program') : undefined
    c.set('key', programSecretKey(keys, c.req.header('authorization'), program, opts.program === 'param' ? 'id' : 'program', opts.scope))
    await next()
  }
}
