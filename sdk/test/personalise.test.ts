// @vitest-environment happy-dom
// The lazily loaded chunk: slots filled from /v1/decide (a test double of the endpoint, which a
// later issue builds) within 400 ms or left as they were, impressions once visible, and the
// needs questionnaire rendered and answered.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fillSlots, renderQuestionnaires } from '../src/browser/personalise.ts'
import type { PersonalisationApi } from '../src/browser/start.ts'

const tracked: Array<[string, Record<string, unknown>]> = []
const api: PersonalisationApi = {
  host: 'http://127.0.0.1:8080',
  writeKey: 'pk_demo_psoriasis_7c2a9e41',
  ids: () => ({ anonymousId: 'a-1', userId: 'p-000123' }),
  track: (e, p) => void tracked.push([e, p]),
  page: () => ({ page: { path: '/itch' } }),
}

/** A fetch double answering JSON after `delayMs`, recording the requests. */
function fetchDouble(answer: unknown, delayMs = 5) {
  const calls: Array<{ url: string; body: any }> = []
  const f = vi.fn((url: string, init: RequestInit = {}) => {
    calls.push({ url, body: init.body ? JSON.parse(String(init.body)) : null })
    return new Promise<Response>((resolve, reject) => {
      const t = setTimeout(() => resolve(new Response(JSON.stringify(answer), { status: 200 })), delayMs)
      init.signal?.addEventListener('abort', () => {
        clearTimeout(t)
        reject(new DOMException('aborted', 'AbortError'))
      })
    })
  })
  window.fetch = f as unknown as typeof fetch
  return calls
}

let visible: Array<() => void> = []
beforeEach(() => {
  tracked.length = 0
  visible = []
  // Intersections are the browser's to compute; here a test says when a slot is seen.
  window.IntersectionObserver = class {
    constructor(private cb: IntersectionObserverCallback) {}
    observe() {
      visible.push(() => this.cb([{ isIntersecting: true } as IntersectionObserverEntry], this as never))
    }
    disconnect() {}
  } as unknown as typeof IntersectionObserver
})
afterEach(() => vi.restoreAllMocks())

describe('slots', () => {
  it('are filled from the decision (text as text, catalogue HTML as HTML), with an impression once seen', async () => {
    document.body.innerHTML =
      '<div data-attune-slot="hero">Default hero</div><div data-attune-slot="tip">Default tip</div><div data-attune-slot="none">Stays</div>'
    const calls = fetchDouble({
      requestId: 'req-1',
      decisions: [
        { slot: 'hero', content: { id: 'itch-basics', html: '<h2>Calm the itch</h2><p>Five steps.</p>' } },
        { slot: 'tip', content: { id: 'tip-1', text: '<b>not markup</b>' } },
      ],
    })
    await fillSlots(api)
    expect(calls[0]).toEqual({
      url: 'http://127.0.0.1:8080/v1/decide',
      body: {
        writeKey: api.writeKey,
        anonymousId: 'a-1',
        userId: 'p-000123',
        channel: 'web',
        slots: ['hero', 'tip', 'none'],
        context: { page: { path: '/itch' } },
      },
    })
    const [hero, tip, none] = Array.from(document.querySelectorAll('[data-attune-slot]'))
    expect(hero!.innerHTML).toBe('<h2>Calm the itch</h2><p>Five steps.</p>')
    expect(tip!.textContent).toBe('<b>not markup</b>')
    expect(tip!.children).toHaveLength(0)
    expect(none!.textContent).toBe('Stays')
    expect(tracked).toEqual([])
    visible[0]!()
    visible[0]!()
    expect(tracked).toEqual([['slot_impression', { slot: 'hero', requestId: 'req-1', content: 'itch-basics' }]])
  })

  it('keep their default content when no decision comes within 400 ms', async () => {
    document.body.innerHTML = '<div data-attune-slot="hero">Default hero</div>'
    fetchDouble({ decisions: [{ slot: 'hero', content: { text: 'late' } }] }, 450)
    const started = Date.now()
    await fillSlots(api)
    expect(Date.now() - started).toBeLessThan(440)
    expect(document.querySelector('[data-attune-slot]')!.textContent).toBe('Default hero')
  })
})

describe('questionnaire', () => {
  it('sends the ticket a questionnaire above level 0 came with, with the answers', async () => {
    document.body.innerHTML = '<section data-attune-questionnaire="deeper"></section>'
    fetchDouble({ id: 'deeper', questions: [{ id: 'q', text: 'Q?', answers: [{ id: 'a', text: 'A' }] }], ticket: 'TICKET.SIGNED' })
    await renderQuestionnaires(api)
    ;(document.querySelector('input[name="q"][value="a"]') as HTMLInputElement).click()
    document.querySelector('form')!.dispatchEvent(new Event('submit', { cancelable: true }))
    expect(tracked).toEqual([['questionnaire_answered', { questionnaire: 'deeper', answers: [{ question: 'q', answer: 'a' }], ticket: 'TICKET.SIGNED' }]])
  })

  it('renders the program questionnaire and sends the answers', async () => {
    document.body.innerHTML = '<section data-attune-questionnaire="first-needs"></section>'
    const calls = fetchDouble({
      id: 'first-needs',
      title: 'What matters to you now?',
      questions: [
        {
          id: 'q-itch',
          text: 'How much does itching bother you?',
          answers: [
            { id: 'a-lot', text: 'A lot' },
            { id: 'little', text: 'A little' },
          ],
        },
        {
          id: 'q-mood',
          text: 'Does psoriasis affect your mood?',
          answers: [
            { id: 'yes', text: 'Yes' },
            { id: 'no', text: 'No' },
          ],
        },
      ],
    })
    await renderQuestionnaires(api)
    expect(calls[0]!.url).toBe('http://127.0.0.1:8080/v1/questionnaires/first-needs?writeKey=pk_demo_psoriasis_7c2a9e41&anonymousId=a-1')
    expect(document.querySelector('legend')!.textContent).toBe('How much does itching bother you?')
    ;(document.querySelector('input[name="q-itch"][value="a-lot"]') as HTMLInputElement).click()
    ;(document.querySelector('input[name="q-mood"][value="no"]') as HTMLInputElement).click()
    document.querySelector('form')!.dispatchEvent(new Event('submit', { cancelable: true }))
    expect(tracked).toEqual([
      [
        'questionnaire_answered',
        {
          questionnaire: 'first-needs',
          answers: [
            { question: 'q-itch', answer: 'a-lot' },
            { question: 'q-mood', answer: 'no' },
          ],
        },
      ],
    ])
    expect(document.querySelector('section')!.textContent).toBe('Thank you.')
  })
})
