import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { ApiError } from '../errors.ts'
import { mayHoldContactText } from './personal-data.ts'

/** Largest request body, measured after decompression (Segment's limit, L1). */
export const MAX_BODY_BYTES = 500 * 1024

const decoders: Record<string, (buf: Uint8Array, opts: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
}

/**
 * Whether a text may hold an e-mail address or a phone number: an `@`, a `+`, a \\u escape
 * (memchr-fast scans), or the start of a national number, a non-ASCII or percent-encoded form (CONTACT_HINT).
 */
function mayHoldContact(text: string): boolean {
  // Any \\u escape may spell a digit, `@` or `+`: such a body is scanned string by string after parsing.
  return text.includes('\\u') || mayHoldContactText(text)
}

/** A parsed body, with what later steps can skip work on. */
export interface JsonBody {
  json: unknown
  /** Bytes after decompression: no event in a body this small can be over the event limit. */
  bytes: number
  /** False when no e-mail address or phone number can be in the text (see mayHoldContact). */
  mayContainContact: boolean
}

/** Whether a body needs decompressing (and so had better be handled off the event loop). */
export function isEncoded(contentEncoding: string): boolean {
  const e = contentEncoding.trim().toLowerCase()
  return e !== '' && e !== 'identity'
}

/**
 * A body decompressed by its `Content-Encoding` within `max` bytes (a gzip bomb stops at the
 * limit, never inflating further): 413 over the limit, 415 for an encoding other than gzip,
 * deflate and br, 400 for bytes that are not what the encoding says.
 */
export function decodeBytes(raw: Uint8Array, encodingHeader: string, max: number): Buffer {
  const over = () => new ApiError(413, 'body_too_large', `request body is larger than ${max} bytes after decompression`)
  if (raw.length > max) throw over()
  let buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
  const encoding = encodingHeader.trim().toLowerCase()
  if (!isEncoded(encoding)) return buf
  const decode = decoders[encoding]
  if (!decode) throw new ApiError(415, 'unsupported_encoding', `content-encoding ${encoding.slice(0, 50)} is not supported; use gzip, deflate or br`)
  try {
    buf = decode(buf, { maxOutputLength: max + 1 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw over()
    throw new ApiError(400, 'invalid_body', `body is not valid ${encoding} data`, { field: '(body)' })
  }
  if (buf.length > max) throw over()
  return buf
}

/**
 * Decompresses a request body within the size limit and parses it as JSON. Synchronous: large
 * or compressed bodies are handled in an ingestion worker, small ones inline.
 */
export function decodeJsonBody(raw: Uint8Array, encodingHeader: string): JsonBody {
  const buf = decodeBytes(raw, encodingHeader, MAX_BODY_BYTES)
  if (buf.length === 0) throw new ApiError(400, 'invalid_json', 'body is empty; expected a JSON object', { field: '(body)' })
  const text = buf.toString('utf8')
  try {
    return { json: JSON.parse(text) as unknown, bytes: buf.length, mayContainContact: mayHoldContact(text) }
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `body is not valid JSON: ${(e as Error).message}`, { field: '(body)' })
  }
}
