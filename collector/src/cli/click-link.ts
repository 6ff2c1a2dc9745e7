// Prints a landing URL with a signed click token (`atn`) appended, for an e-mail or SMS:
//   npx tsx collector/src/cli/click-link.ts --program psoriasis-demo --patient p-000123 \
//     --message msg-1 --campaign itch-tips --channel email --url http://localhost:8080/demo/ [--days 30]
// Programs are read as the collector reads them (ATTUNE_PROGRAMS, `env:NAME` secrets from the
// environment); the link secret itself is never printed.
import { parseArgs } from 'node:util'
import { CLICK_CHANNELS, MAX_CLICK_TOKEN_DAYS, signClickToken } from '../click-token.ts'
import { programArg } from './program-arg.ts'

const USAGE = 'usage: click-link --program ID --patient ID --message ID --campaign NAME --channel email|sms --url URL [--days 30]'

function stop(message: string): never {
  console.error(`click-link: ${message}\n${USAGE}`)
  process.exit(1)
}

let values: Record<string, string | undefined>
try {
  values = parseArgs({
    options: {
      program: { type: 'string' },
      patient: { type: 'string' },
      message: { type: 'string' },
      campaign: { type: 'string' },
      channel: { type: 'string' },
      url: { type: 'string' },
      days: { type: 'string', default: '30' },
    },
    strict: true,
  }).values
} catch (e) {
  stop((e as Error).message)
}
for (const name of ['program', 'patient', 'message', 'campaign', 'channel', 'url']) if (!values[name]) stop(`--${name} is required`)
const channel = values.channel as (typeof CLICK_CHANNELS)[number]
if (!CLICK_CHANNELS.includes(channel)) stop(`--channel must be ${CLICK_CHANNELS.join(' or ')}`)
const days = Number(values.days)
if (!Number.isInteger(days) || days < 1 || days > MAX_CLICK_TOKEN_DAYS) stop(`--days must be a whole number from 1 to ${MAX_CLICK_TOKEN_DAYS}`)
let landing: URL
try {
  landing = new URL(values.url!)
} catch {
  stop('--url must be an absolute URL')
}
if (landing.protocol !== 'https:' && landing.protocol !== 'http:') stop('--url must be http or https')

const program = programArg(values.program, stop)
if (!program.linkSecret) stop(`program ${program.program.id} has no linkSecret (${program.file})`)

const now = Date.now()
let token: string
try {
  token = signClickToken(
    {
      program: program.program.id,
      patient: values.patient!,
      message: values.message!,
      campaign: values.campaign!,
      channel,
      expires: Math.floor(now / 1000) + days * 86_400,
    },
    program.linkSecret,
    now,
  )
} catch (e) {
  stop((e as Error).message)
}
landing.searchParams.set('atn', token)
console.log(landing.toString())
