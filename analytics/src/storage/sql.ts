import { readFileSync } from 'node:fs'

const cache = new Map<string, string>()
/** `{{name}}` in a model file stands for the shared part `sql/parts/name.sql`. */
const PART = /\{\{([a-z][a-z-]*)\}\}/g

function read(path: string): string {
  return readFileSync(new URL(`./sql/${path}.sql`, import.meta.url), 'utf8')
}

/** A shared part without its comment lines, its own parts filled in. */
function part(name: string): string {
  const text = read(`parts/${name}`)
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .trim()
  return text.replace(PART, (_, inner: string) => part(inner))
}

/**
 * The text of a named `.sql` model file under `analytics/src/storage/sql/`, read once, with each `{{part}}`
 * replaced by that shared part: a rule such as which patient an anonymous id counts for is written
 * once and every model that needs it says so.
 */
export function sql(name: string): string {
  let text = cache.get(name)
  if (text === undefined) {
    text = read(name).replace(PART, (_, inner: string) => part(inner))
    cache.set(name, text)
  }
  return text
}
