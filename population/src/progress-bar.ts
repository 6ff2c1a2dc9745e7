// A one-line progress bar on stderr, redrawn with `\r` at most every 100 ms; where stderr is not a
// terminal (CI logs) a plain line every tenth of the way instead.

/** The figures a bar shows. */
export interface Progress {
  done: number
  total: number
  events: number
  ms: number
}

const WIDTH = 28
const n = (x: number) => Math.round(x).toLocaleString('en-US')

/** The bar as text: `[█████░░░] 62% 6,200/10,000 patients · 143,512 events · 24,113 events/s · ETA 9 s`. */
export function formatProgress(p: Progress, unit = 'patients'): string {
  const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1
  const filled = Math.round(share * WIDTH)
  const rate = p.ms > 0 ? (p.events / p.ms) * 1000 : 0
  const eta = share > 0 && share < 1 ? ` · ETA ${Math.ceil(((p.ms / share) * (1 - share)) / 1000)} s` : ''
  return `[${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${n(p.done)}/${n(p.total)} ${unit} · ${n(p.events)} events · ${n(rate)} events/s${eta}`
}

/** A bar bound to a stream: `update` as often as you like, `finish` once. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, unit = 'patients'): { update(p: Progress): void; finish(p: Progress): void } {
  let last = 0
  let lastTenth = -1
  let width = 0
  const draw = (p: Progress, final: boolean) => {
    const line = formatProgress(p, unit)
    if (stream.isTTY) {
      stream.write(`\r${line}${' '.repeat(Math.max(0, width - line.length))}${final ? '\n' : ''}`)
      width = line.length
      return
    }
    // The last line is left to `finish`, which has the final figures.
    const tenth = Math.min(9, p.total > 0 ? Math.floor((p.done / p.total) * 10) : 9)
    if (final || tenth > lastTenth) {
      lastTenth = tenth
      stream.write(`${line}\n`)
    }
  }
  return {
    update(p) {
      const now = performance.now()
      if (now - last < 100) return
      last = now
      draw(p, false)
    },
    finish(p) {
      draw(p, true)
    },
  }
}
