// A fast-load worker: generates its part of a synthetic population, runs every request through
// the collector's ingestion (ingestMessages) and hands the rows to the loading thread in chunks
// grouped by program and partition, waiting for a credit before each chunk beyond its allowance
// (see fast-load.ts).
import { parentPort, workerData } from 'node:worker_threads'
import type { Program, ProgramKey } from '../../analytics/index.ts'
import { KeyIndex, type Rejection } from '../../collector/index.ts'
import { ingestMessages } from './ingest-messages.ts'
import { generatePopulation } from './population.ts'

/** What a worker is started with. */
export interface FastLoadWorkerData {
  program: Program
  programKeys: ProgramKey[]
  allKeys: ProgramKey[]
  patients: number
  days: number
  seed: number
  now: number
  origin?: string
  batchSize?: number
  part: { index: number; of: number }
  chunkRows: number
  credits: number
}

/** Rows of one program and partition: JSONCompactEachRow lines, each ending with a newline, and their message ids in the same order. */
export interface ChunkPart {
  program: string
  partition: string
  ids: string[]
  lines: Uint8Array
}

/** A message from a worker: rows and what happened since the last message, or the end. */
export type WorkerReport = {
  type: 'chunk' | 'done'
  parts: ChunkPart[]
  requests: number
  events: number
  accepted: number
  rejected: Array<Rejection & { keyId: string; messageId?: string }>
  refused: Array<{ keyId: string; code: string; message: string }>
  /** Patients of this worker's part whose events have all been ingested. */
  patientsDone: number
}

const data = workerData as FastLoadWorkerData
const keys = new KeyIndex(data.allKeys)
let credits = data.credits
let wake: (() => void) | null = null
parentPort!.on('message', (m: { credit: number }) => {
  credits += m.credit
  wake?.()
  wake = null
})

const population = generatePopulation({
  program: data.program,
  keys: data.programKeys,
  patients: data.patients,
  days: data.days,
  seed: data.seed,
  now: data.now,
  ...(data.origin ? { origin: data.origin } : {}),
  ...(data.batchSize ? { batchSize: data.batchSize } : {}),
})

const fresh = (): WorkerReport => ({ type: 'chunk', parts: [], requests: 0, events: 0, accepted: 0, rejected: [], refused: [], patientsDone: 0 })
let report = fresh()
let groups = new Map<string, { program: string; partition: string; ids: string[]; lines: string[] }>()
let rows = 0

async function send(type: 'chunk' | 'done'): Promise<void> {
  if (type === 'chunk') {
    while (credits <= 0) await new Promise<void>((r) => (wake = r))
    credits--
  }
  const parts: ChunkPart[] = []
  for (const g of groups.values()) {
    const text = `${g.lines.join('\n')}\n`
    // A buffer of its own (never a slice of Node's shared pool), so its memory can be transferred.
    const lines = Buffer.allocUnsafeSlow(Buffer.byteLength(text))
    lines.write(text)
    parts.push({ program: g.program, partition: g.partition, ids: g.ids, lines })
  }
  const out = { ...report, type, parts }
  parentPort!.postMessage(
    out,
    parts.map((p) => p.lines.buffer as ArrayBuffer),
  )
  const patientsDone = report.patientsDone
  report = fresh()
  report.patientsDone = patientsDone
  groups = new Map()
  rows = 0
}

for await (const req of population.requests(data.part)) {
  const out = ingestMessages(req, keys)
  report.requests++
  report.events += req.body.batch.length
  report.accepted += out.rows.length
  for (const r of out.rejected) report.rejected.push({ ...r, keyId: req.keyId, messageId: req.body.batch[r.index]?.messageId })
  if (out.refused) report.refused.push({ keyId: req.keyId, ...out.refused })
  for (const row of out.rows) {
    const at = `${row.program}\u0000${row.partition}`
    let g = groups.get(at)
    if (!g) groups.set(at, (g = { program: row.program, partition: row.partition, ids: [], lines: [] }))
    g.ids.push(row.messageId)
    g.lines.push(row.json)
  }
  rows += out.rows.length
  report.patientsDone = req.patientsDone
  if (rows >= data.chunkRows) await send('chunk')
}
await send('done')
