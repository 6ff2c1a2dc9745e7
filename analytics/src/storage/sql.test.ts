import { readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { sql } from './sql.ts'

const models = readdirSync(new URL('./sql/', import.meta.url)).flatMap((f) => (f.endsWith('.sql') ? [f.slice(0, -4)] : []))

describe('SQL model files', () => {
  it('fill in every shared part they name, leaving no placeholder', () => {
    for (const name of models) expect(sql(name), name).not.toMatch(/\{\{|\}\}/)
  })

  it('resolve an anonymous id to a patient by one rule wherever people are counted', () => {
    const rule = sql('need-vectors').match(/SELECT anonymous_id, argMin\(user_id[^\n]+/)![0]
    for (const name of ['goal-attribution', 'uplift-program', 'uplift-rules']) expect(sql(name), name).toContain(rule)
    expect(sql('uplift-rules')).not.toMatch(/min\(user_id\) AS linked_user/)
  })
})
