// GET /v1/questionnaires/:id: what the SDK's questionnaire widget renders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { basic, DEMO, startService } from './helpers.ts'

let svc: Awaited<ReturnType<typeof startService>>
beforeAll(async () => {
  svc = await startService()
})
afterAll(() => svc?.stop())

describe('GET /v1/questionnaires/:id', () => {
  it('gives the program questionnaire’s questions and answers, not how answers map to needs', async () => {
    const res = await svc.service.app.request(`/v1/questionnaires/first-needs?writeKey=${DEMO.writeKey}`, { headers: { origin: 'http://localhost:5173' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    const q = (await res.json()) as { id: string; title: string; questions: Array<{ id: string; text: string; answers: Array<Record<string, unknown>> }> }
    const program = svc.service.programs.find((p) => p.program.id === DEMO.program)!.program
    const source = program.questionnaires!.find((x) => x.id === 'first-needs')!
    expect(q.id).toBe('first-needs')
    expect(q.title).toBe(source.title)
    expect(q.questions.map((x) => x.id)).toEqual(source.questions.map((x) => x.id))
    for (const question of q.questions) for (const a of question.answers) expect(Object.keys(a).sort()).toEqual(['id', 'text'])
    // The secret key (a backend) may read it too.
    expect((await svc.service.app.request('/v1/questionnaires/first-needs', { headers: { authorization: basic(DEMO.secretKey) } })).status).toBe(200)
  })

  it('answers 401 without a known key, 403 from a foreign origin, 404 for an unknown questionnaire', async () => {
    expect((await svc.service.app.request('/v1/questionnaires/first-needs')).status).toBe(401)
    expect((await svc.service.app.request('/v1/questionnaires/first-needs?writeKey=pk_nope')).status).toBe(401)
    const foreign = await svc.service.app.request(`/v1/questionnaires/first-needs?writeKey=${DEMO.writeKey}`, {
      headers: { origin: 'https://elsewhere.example' },
    })
    expect(foreign.status).toBe(403)
    const missing = await svc.service.app.request(`/v1/questionnaires/nope?writeKey=${DEMO.writeKey}`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found', field: 'id' } })
  })
})
