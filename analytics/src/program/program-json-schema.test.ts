import { Ajv2020 } from 'ajv/dist/2020.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { programJsonSchema } from './program-json-schema.ts'

const programs = join(import.meta.dirname, '../../../programs')

describe('program.schema.json', () => {
  it('is the current schema (npm run program-schema writes it)', () => {
    expect(JSON.parse(readFileSync(join(programs, 'program.schema.json'), 'utf8'))).toEqual(programJsonSchema())
  })

  it('accepts the shipped programs and refuses a broken one, naming the place', () => {
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(programJsonSchema())
    for (const file of ['psoriasis-demo.json', 'smoking-cessation-demo.json']) {
      const doc = JSON.parse(readFileSync(join(programs, file), 'utf8')) as Record<string, unknown>
      expect(validate(doc), `${file}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true)
      expect(validate({ ...doc, timeZone: 42, keys: { write: [] } })).toBe(false)
      expect(validate.errors!.map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/timeZone', '/keys/write']))
    }
  })
})
