// Loaded into the collector with `--import` by the decide scenario (BENCH_DECIDE_STALLS=1): logs
// every gap in the main thread's event loop over 20 ms and every garbage-collection pause over
// 10 ms, with wall-clock times, so the bench can say what held answers back during its window,
// and with monotonic ones (`mono`, µs: the clock of V8's CPU profiles), so a profile of the same
// run can say what ran in each gap.
// Plain JavaScript: it is loaded before the TypeScript loader.
import { PerformanceObserver, constants, performance } from 'node:perf_hooks'

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
}
const TICK_MS = 5
const write = (entry) => process.stderr.write(`[attune-stall] ${JSON.stringify(entry)}\n`)
const monoUs = () => Number(process.hrtime.bigint() / 1000n)

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.duration > 10)
      write({
        kind: 'gc',
        gc: GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind),
        at: Math.round(performance.timeOrigin + e.startTime),
        mono: Math.round(monoOffsetUs + e.startTime * 1000),
        ms: Math.round(e.duration * 10) / 10,
      })
  }
}).observe({ entryTypes: ['gc'] })

// performance.now() on the monotonic clock, µs (a gap's start is then not shifted by the write before it).
const monoOffsetUs = monoUs() - performance.now() * 1000
let last = performance.now()
setInterval(() => {
  const now = performance.now()
  const gap = now - last - TICK_MS
  if (gap > 20)
    write({
      kind: 'loop',
      at: Math.round(performance.timeOrigin + last),
      mono: Math.round(monoOffsetUs + (last + TICK_MS) * 1000),
      ms: Math.round(gap * 10) / 10,
    })
  last = now
}, TICK_MS).unref()
