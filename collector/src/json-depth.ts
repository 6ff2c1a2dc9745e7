/**
 * The path to the first value nested deeper than `maxDepth` levels (the value itself is level 1,
 * what it holds level 2, …), or null when none is. Iterative, so any depth JSON.parse accepts
 * (it parses 250,000 levels) is measured without recursion; JSON.stringify and every recursive
 * walk after it overflow the stack at about 10,000 levels, so bodies are checked here first.
 */
export function pathBeyondDepth(value: unknown, maxDepth: number): Array<string | number> | null {
  const stack: Array<{ v: unknown; depth: number; path: Array<string | number> | null; key: string | number | null; parent: number }> = []
  const paths: Array<{ key: string | number | null; parent: number }> = []
  const push = (v: unknown, depth: number, key: string | number | null, parent: number) => {
    if (v === null || typeof v !== 'object') return
    stack.push({ v, depth, path: null, key, parent })
  }
  push(value, 1, null, -1)
  while (stack.length) {
    const { v, depth, key, parent } = stack.pop()!
    const self = paths.push({ key, parent }) - 1
    if (depth > maxDepth) {
      const out: Array<string | number> = []
      for (let i = self; i >= 0 && paths[i]!.key !== null; i = paths[i]!.parent) out.push(paths[i]!.key!)
      return out.reverse()
    }
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) push(v[i], depth + 1, i, self)
    else for (const k of Object.keys(v as object).reverse()) push((v as Record<string, unknown>)[k], depth + 1, k, self)
  }
  return null
}

/** A path as a sender writes it (`properties.a[0].b`), cut after its first `keep` steps. */
export function formatPath(prefix: string, path: ReadonlyArray<string | number>, keep = 8): string {
  let out = prefix
  for (const p of path.slice(0, keep)) out += typeof p === 'number' ? `[${p}]` : out ? `.${p.slice(0, 50)}` : p.slice(0, 50)
  if (path.length > keep) out += '…'
  return out || '(body)'
}
