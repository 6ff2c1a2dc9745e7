// Writes programs/program.schema.json, the JSON Schema of a program document for editors
// (`"$schema": "./program.schema.json"` in a program file), generated from the zod schema the
// collector validates documents with: `npm run program-schema`. A test keeps the file current.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { programJsonSchema } from '../program/program-json-schema.ts'

const file = join(import.meta.dirname, '../../../programs/program.schema.json')
writeFileSync(file, `${JSON.stringify(programJsonSchema(), null, 2)}\n`)
console.log(`wrote ${file}`)
