import { z } from 'zod'
import { programSchema } from './programs.ts'

/**
 * The program document as JSON Schema (2020-12), for editors of program files: what a file may
 * hold (the schema's input, so defaults are optional). Checks across sections (references
 * between needs, content and rules) are the loader's, not the schema's.
 */
export function programJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(programSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
  const props = (schema.properties ?? {}) as Record<string, unknown>
  return {
    ...schema,
    $id: 'https://attune.invalid/program.schema.json',
    title: 'Attune program document',
    // Editors follow the file's own $schema reference; the loader ignores it.
    properties: { $schema: { type: 'string' }, ...props },
  }
}
