// The ESM build for sites that bundle the SDK: `createAttune({ writeKey, host })`.
import { start, type Attune, type StartOptions } from '../browser/start.ts'

/**
 * Starts the SDK; the personalisation chunk is imported only by pages with a slot or a questionnaire.
 * @example const attune = createAttune({ writeKey: 'pk_…', host: 'https://collect.example.org' }); attune.goal('diary_downloaded')
 */
export function createAttune(o: StartOptions): Attune {
  return start({ loadPersonalisation: (api) => void import('../browser/personalise.ts').then((m) => m.personalise(api)), ...o })
}
export type { Attune, StartOptions, PersonalisationApi } from '../browser/start.ts'
export type { Consent } from '../core/tracker.ts'
export type { Message } from '../core/types.ts'
export { retryDelay, retryable } from '../core/retry.ts'
