// Before any test file: the SDK is built (the collector serves sdk/dist; the browser tests load it).
// @ts-expect-error build.mjs is plain JavaScript
import { build, stale } from '../sdk/build.mjs'

export default async function setup(): Promise<void> {
  if (stale()) await build()
}
