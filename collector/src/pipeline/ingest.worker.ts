// An ingestion worker: runs ingestBody for each batch of requests the pool sends it and answers
// them in one message (see ingest-pool.ts).
import { parentPort, workerData } from 'node:worker_threads'
import type { ProgramKey } from '../../../analytics/index.ts'
import { KeyIndex } from '../keys.ts'
import { ingestBody } from './ingest-body.ts'
import type { PoolAnswer, PoolRequest } from './ingest-pool.ts'

const keys = new KeyIndex((workerData as { keys: ProgramKey[] }).keys)

// A message carries either new keys (a program document changed; see IngestPool.setKeys) or requests.
parentPort!.on('message', (m: { keys: ProgramKey[] } | { requests: PoolRequest[] }) => {
  if ('keys' in m) {
    keys.replace(m.keys)
    return
  }
  const { requests } = m
  const answers: PoolAnswer[] = []
  const transfer: ArrayBuffer[] = []
  for (const { id, req } of requests) {
    try {
      const outcome = ingestBody(req, keys)
      answers.push({ id, outcome })
      if (outcome.frames) transfer.push(outcome.frames.buffer as ArrayBuffer)
    } catch (e) {
      answers.push({ id, failure: (e as Error).name })
    }
  }
  parentPort!.postMessage({ answers }, transfer)
})
parentPort!.postMessage({ ready: true })
