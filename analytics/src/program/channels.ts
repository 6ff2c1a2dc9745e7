/**
 * THE channel table: every channel a touch point comes from, and what Attune does with it. Every
 * list of channels in the code (what a rule may act on, what consent covers, what a browser may
 * claim, which links carry click tokens) is read from here, so a channel is added in one place.
 */
export const CHANNEL_TABLE = {
  web: { decided: true, outbound: false, consent: 'web', browserMayClaim: true, eventPrefix: false, clickToken: false },
  email: { decided: true, outbound: true, consent: 'email', browserMayClaim: true, eventPrefix: true, clickToken: true },
  sms: { decided: true, outbound: true, consent: 'sms', browserMayClaim: true, eventPrefix: true, clickToken: true },
  call: { decided: true, outbound: true, consent: 'call', browserMayClaim: false, eventPrefix: true, clickToken: false },
  print: { decided: true, outbound: true, consent: 'print', browserMayClaim: false, eventPrefix: true, clickToken: false },
  app: { decided: false, outbound: false, consent: 'app', browserMayClaim: true, eventPrefix: false, clickToken: false },
  server: { decided: false, outbound: false, consent: null, browserMayClaim: false, eventPrefix: false, clickToken: false },
} as const satisfies Record<
  string,
  { decided: boolean; outbound: boolean; consent: string | null; browserMayClaim: boolean; eventPrefix: boolean; clickToken: boolean }
>

/** A channel name. */
export type Channel = keyof typeof CHANNEL_TABLE
type Row = (typeof CHANNEL_TABLE)[Channel]
const where = (test: (row: Row) => boolean) => (Object.keys(CHANNEL_TABLE) as Channel[]).filter((c) => test(CHANNEL_TABLE[c]))

/** Channels a touch point can come from. */
export const CHANNELS = Object.keys(CHANNEL_TABLE) as [Channel, ...Channel[]]
/** Channels a decision is asked for and a rule's action goes out on. */
export const DECISION_CHANNELS = where((r) => r.decided) as ['web', 'email', 'sms', 'call', 'print']
/** A channel a decision is asked for. */
export type DecisionChannel = (typeof DECISION_CHANNELS)[number]
/** Channels that reach a person outside the website (what consent, quiet hours and the contact budget govern). */
export const OUTBOUND_CHANNELS = where((r) => r.outbound) as Array<Exclude<DecisionChannel, 'web'>>
/** What consent is given for: each channel's scope, and analytics. */
export const CONSENT_SCOPES = ['analytics', ...CHANNELS.flatMap((c) => (CHANNEL_TABLE[c].consent ? [CHANNEL_TABLE[c].consent] : []))] as [
  'analytics',
  'web',
  'email',
  'sms',
  'call',
  'print',
  'app',
]
/** A consent scope. */
export type ConsentScope = (typeof CONSENT_SCOPES)[number]
/** The scopes a browser's write key may set: the site's own consent banner covers no more; channel consent comes from a backend. */
export const BROWSER_CONSENT_SCOPES: ReadonlySet<ConsentScope> = new Set(['analytics', 'web'])
/** Channels a browser (write key) may name as its own (by context or event name). */
export const BROWSER_CHANNELS: ReadonlySet<Channel> = new Set(where((r) => r.browserMayClaim))
/** Channels whose links carry click tokens. */
export const CLICK_CHANNELS = where((r) => r.clickToken) as ['email', 'sms']

/** The channel an event name says it happened on (`email_opened`, `print_delivered`), if its prefix names one. */
export function channelOfEvent(event: string): Channel | undefined {
  const prefix = event.slice(0, event.indexOf('_')) as Channel
  return event.includes('_') && CHANNEL_TABLE[prefix]?.eventPrefix ? prefix : undefined
}
