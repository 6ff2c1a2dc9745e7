// Entry of a fast-load worker thread. Plain JavaScript: a worker does not inherit the loader that
// runs the TypeScript sources, so it loads them through tsx's API itself.
import { tsImport } from 'tsx/esm/api'

await tsImport('./fast-load.worker.ts', import.meta.url)
