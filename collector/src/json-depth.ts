/**
 * The path to the first value nested deeper than `maxDepth` levels (the value itself is level 1,
 * what it holds level 2, …), or null when none is. Iterative, so any depth JSON.parse accepts
 * (it parses 250,000 levels) is measured without recursion; JSON.stringify and every recursive
 * walk after it overflow the stack at about 10,000 levels, so bodies are checked here first.
 */
export function pathBeyondDepth(value: unknown, maxDepth: number): Array<string | number> | null {
  if (value === null || typeof value !== 'object') return null
  // Most values are shallow: measure the depth with two flat stacks (no allocation per node), and
  // find the path to the first value too deep only when there is one.
  const values: unknown[] = [value]
  const depths: number[] = [1]
  let deep = false
  while (values.length) {
    const v = values.pop()!
    const depth = depths.pop()!
    if (depth > maxDepth) {
      deep = true
      break
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) if (v[i] !== null && typeof v[i] === 'object') values.push(v[i]), depths.push(depth + 1)
    } else {
      for (const k in v as object) {
        const x = (v as Record<string, unknown>)[k]
        if (x !== null && typeof x === 'object') values.push(x), depths.push(depth + 1)
      }
    }
  }
  return deep ? firstPathBeyond(value, maxDepth) : null
}

/** The path to the first value (in document order) deeper than `maxDepth`: the slow walk, for a value known to have one. */
function firstPathBeyond(value: unknown, maxDepth: number): Array<string | number> | null {
  const stack: Array<{ v: unknown; depth: number; key: string | number | null; parent: number }> = [{ v: value, depth: 1, key: null, parent: -1 }]
  const paths: Array<{ key: string | number | null; parent: number }> = []
  while (stack.length) {
    const { v, depth, key, parent } = stack.pop()!
    const self = paths.push({ key, parent }) - 1
    if (depth > maxDepth) {
      const out: Array<string | number> = []
      for (let i = self; i >= 0 && paths[i]!.key !== null; i = paths[i]!.parent) out.push(paths[i]!.key!)
      return out.reverse()
    }
    const children: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v as object)
    for (let i = children.length - 1; i >= 0; i--) {
      const [k, x] = children[i]!
      if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1, key: k, parent: self })
    }
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
