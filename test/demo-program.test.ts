// The demo site (collector/demo) against the program it belongs to (programs/psoriasis-demo.json):
// every content id, goal and questionnaire the pages name exists, and content matches its page.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadPrograms, matchesUrlPattern } from '../analytics/index.ts'
import { DEMO, ROOT } from './helpers.ts'

const html = readFileSync(join(ROOT, 'collector/demo/index.html'), 'utf8')
const program = loadPrograms(join(ROOT, 'programs'), {}).find((p) => p.program.id === DEMO.program)!.program
const attribute = (name: string) => [...html.matchAll(new RegExp(`${name}="([^"]+)"`, 'g'))].map((m) => m[1]!)

describe('the demo site and the psoriasis program', () => {
  it('shows on each page only catalogue content whose URL patterns match that page', () => {
    const pages = [...html.matchAll(/<section data-page="([^"]+)"[^>]*data-attune-content="([^"]+)"/g)].map((m) => ({ path: m[1]!, ids: m[2]!.split(/\s+/) }))
    expect(pages.map((p) => p.path)).toEqual(['/demo/', '/demo/treatments', '/demo/diary', '/demo/support'])
    for (const page of pages) {
      for (const id of page.ids) {
        const item = program.content.find((c) => c.id === id)
        expect(item, `content ${id}`).toBeDefined()
        expect(
          item!.urlPatterns.some((pattern) => matchesUrlPattern(pattern, page.path)),
          `${id} on ${page.path}`,
        ).toBe(true)
        expect(item!.level, `${id} is shown to everyone`).toBe(0)
      }
    }
  })

  it('counts every goal the site sends, and offers its questionnaire from level 0', () => {
    for (const goal of attribute('data-attune-goal')) {
      const matching = program.goals.filter((g) => g.events.some((e) => e.event === 'goal_reached' && e.where?.goal === goal))
      expect(
        matching.map((g) => g.id),
        goal,
      ).toEqual([goal])
    }
    for (const id of attribute('data-attune-questionnaire')) expect(program.questionnaires.find((q) => q.id === id)?.availableAtLevel, id).toBe(0)
  })
})
