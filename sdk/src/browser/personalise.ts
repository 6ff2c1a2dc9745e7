import type { PersonalisationApi } from './start.ts'
import { doc, win } from './globals.ts'

/** The decide endpoint's answer to a browser, as far as slots need it (see the collector's README). */
interface Decision {
  slot: string
  content?: { id?: string; text?: string; html?: string }
}

/** Questionnaire definition served by the collector (a ticket for this browser when the questionnaire is above level 0). */
interface Questionnaire {
  id: string
  title?: string
  questions: Array<{ id: string; text: string; answers: Array<{ id: string; text: string }> }>
  ticket?: string
}

/** A slot keeps its default content when no decision arrives within this time. */
export const DECIDE_TIMEOUT_MS = 400

async function postJson<T>(url: string, body: unknown, timeoutMs: number): Promise<T | null> {
  const ctrl = new AbortController()
  const t = setTimeout(() => ctrl.abort(), timeoutMs)
  try {
    const r = await win!.fetch(url, { method: 'POST', body: JSON.stringify(body), signal: ctrl.signal, credentials: 'omit' })
    return r.ok ? ((await r.json()) as T) : null
  } catch {
    return null
  } finally {
    clearTimeout(t)
  }
}

/** Sends `slot_impression` once, when at least half of the slot has been on screen. */
function onceVisible(el: Element, seen: () => void): void {
  if (!win?.IntersectionObserver) return seen()
  let done = false
  const io = new win.IntersectionObserver(
    (entries) => {
      if (!done && entries.some((e) => e.isIntersecting)) {
        done = true
        io.disconnect()
        seen()
      }
    },
    { threshold: 0.5 },
  )
  io.observe(el)
}

/**
 * Fills `data-attune-slot` elements from `POST /v1/decide`. Content is the program catalogue's,
 * as the collector sends it: text as text, HTML only from the answer's `html` (vetted in the
 * catalogue), never from the page's address.
 */
export async function fillSlots(api: PersonalisationApi, timeoutMs = DECIDE_TIMEOUT_MS): Promise<void> {
  const els = Array.from(doc?.querySelectorAll('[data-attune-slot]') ?? [])
  if (!els.length) return
  const answer = await postJson<{ requestId?: string; decisions?: Decision[] }>(
    `${api.host}/v1/decide`,
    { writeKey: api.writeKey, ...api.ids(), channel: 'web', slots: els.map((e) => e.getAttribute('data-attune-slot')), context: api.page() },
    timeoutMs,
  )
  for (const d of answer?.decisions ?? []) {
    const el = els.find((e) => e.getAttribute('data-attune-slot') === d.slot)
    const c = d.content
    if (!el || !c || (c.html == null && c.text == null)) continue
    if (c.html != null) el.innerHTML = c.html
    else el.textContent = c.text!
    el.setAttribute('data-attune-decided', c.id ?? '')
    // The request and slot name the decision recorded for it (the browser is never told the rule).
    onceVisible(el, () =>
      api.track('slot_impression', { slot: d.slot, ...(answer!.requestId ? { requestId: answer!.requestId } : {}), ...(c.id ? { content: c.id } : {}) }),
    )
  }
}

/** Renders `data-attune-questionnaire="ID"` from the program and sends the answers as `questionnaire_answered`. */
export async function renderQuestionnaires(api: PersonalisationApi): Promise<void> {
  for (const host of Array.from(doc?.querySelectorAll('[data-attune-questionnaire]') ?? [])) {
    const id = host.getAttribute('data-attune-questionnaire')!
    let q: Questionnaire | null = null
    try {
      const r = await win!.fetch(
        `${api.host}/v1/questionnaires/${encodeURIComponent(id)}?writeKey=${encodeURIComponent(api.writeKey)}&anonymousId=${encodeURIComponent(api.ids().anonymousId)}`,
        { credentials: 'omit' },
      )
      q = r.ok ? ((await r.json()) as Questionnaire) : null
    } catch {
      q = null
    }
    if (!q?.questions?.length) continue
    const el = (tag: string, text?: string) => {
      const e = doc!.createElement(tag)
      if (text != null) e.textContent = text
      return e
    }
    const form = el('form') as HTMLFormElement
    form.className = 'attune-questionnaire'
    if (q.title) form.appendChild(el('h3', q.title))
    for (const question of q.questions) {
      const set = el('fieldset')
      set.appendChild(el('legend', question.text))
      for (const a of question.answers) {
        const label = el('label')
        const input = el('input') as HTMLInputElement
        input.type = 'radio'
        input.name = question.id
        input.value = a.id
        label.append(input, ` ${a.text}`)
        set.appendChild(label)
      }
      form.appendChild(set)
    }
    const submit = el('button', 'Send') as HTMLButtonElement
    submit.type = 'submit'
    form.appendChild(submit)
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const answers = q!.questions
        .map((qq) => ({ question: qq.id, answer: (form.querySelector(`input[name="${CSS.escape(qq.id)}"]:checked`) as HTMLInputElement | null)?.value }))
        .filter((a) => a.answer)
      if (!answers.length) return
      api.track('questionnaire_answered', { questionnaire: q!.id, answers, ...(q!.ticket ? { ticket: q!.ticket } : {}) })
      form.replaceChildren(el('p', 'Thank you.'))
    })
    host.replaceChildren(form)
  }
}

/** Everything the lazily loaded chunk does on a page. */
export function personalise(api: PersonalisationApi): void {
  void fillSlots(api).catch(() => {})
  void renderQuestionnaires(api).catch(() => {})
}
