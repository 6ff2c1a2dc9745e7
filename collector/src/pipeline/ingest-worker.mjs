// Entry of an ingestion worker thread. Plain JavaScript: a worker does not inherit the loader
// that runs the TypeScript sources, so it loads them through tsx's API itself.
import { tsImport } from 'tsx/esm/api'

await tsImport('./ingest.worker.ts', import.meta.url)
