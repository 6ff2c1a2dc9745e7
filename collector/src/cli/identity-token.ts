// Prints an identity token for a patient, as a site's backend signs one at login:
//   npm run identity-token -- --program psoriasis-demo --patient p-000123 [--hours 24]
// Programs are read as the collector reads them (ATTUNE_PROGRAMS, `env:NAME` secrets from the
// environment); the identity secret itself is never printed. For testing a site and the demo:
// a real site signs tokens in its own backend (docs/security.md has the recipe).
import { parseArgs } from 'node:util'
import { programArg } from './program-arg.ts'
import { MAX_IDENTITY_TOKEN_DAYS, signIdentityToken } from '../identity-token.ts'

const USAGE = 'usage: identity-token --program ID --patient ID [--hours 24]'

function stop(message: string): never {
  console.error(`identity-token: ${message}\n${USAGE}`)
  process.exit(1)
}

let values: Record<string, string | undefined>
try {
  values = parseArgs({ options: { program: { type: 'string' }, patient: { type: 'string' }, hours: { type: 'string', default: '24' } }, strict: true }).values
} catch (e) {
  stop((e as Error).message)
}
for (const name of ['program', 'patient']) if (!values[name]) stop(`--${name} is required`)
const hours = Number(values.hours)
if (!Number.isInteger(hours) || hours < 1 || hours > MAX_IDENTITY_TOKEN_DAYS * 24)
  stop(`--hours must be a whole number from 1 to ${MAX_IDENTITY_TOKEN_DAYS * 24}`)

const program = programArg(values.program, stop)
if (!program.identitySecret) stop(`program ${program.program.id} has no identitySecret (${program.file})`)

const now = Date.now()
try {
  console.log(
    signIdentityToken({ program: program.program.id, patient: values.patient!, expires: Math.floor(now / 1000) + hours * 3600 }, program.identitySecret, now),
  )
} catch (e) {
  stop((e as Error).message)
}
