// An ingestion worker: runs ingestBody for the requests the pool sends it (see ingest-pool.ts).
import { parentPort, workerData } from 'node:worker_threads'
import type { ProgramKey } from '../../../analytics/index.ts'
import { KeyIndex } from '../keys.ts'
import { ingestBody, type RawIngestRequest } from './ingest-body.ts'

const keys = new KeyIndex((workerData as { keys: ProgramKey[] }).keys)

parentPort!.on('message', ({ id, req }: { id: number; req: RawIngestRequest }) => {
  try {
    const outcome = ingestBody(req, keys)
    parentPort!.postMessage({ id, outcome }, outcome.frames ? [outcome.frames.buffer as ArrayBuffer] : [])
  } catch (e) {
    parentPort!.postMessage({ id, failure: (e as Error).name })
  }
})
parentPort!.postMessage({ ready: true })
