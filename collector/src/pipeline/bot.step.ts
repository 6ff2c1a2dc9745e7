import { isbot } from 'isbot'
import type { Draft, RequestFacts } from './types.ts'

const cache = new Map<string, boolean>()

/** Step 6: bots are flagged, not dropped, so counts reconcile; reports leave them out. */
export function botStep(d: Draft, _facts: RequestFacts): Draft {
  if (!d.agent) return d
  let bot = cache.get(d.agent)
  if (bot === undefined) {
    bot = isbot(d.agent)
    if (cache.size >= 2000) cache.delete(cache.keys().next().value!)
    cache.set(d.agent, bot)
  }
  d.row.is_bot = bot ? 1 : 0
  return d
}
