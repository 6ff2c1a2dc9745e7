// End to end in a real headless Chromium (Debian's package, driven by playwright-core): the demo
// site served by the collector on the embedded engine, with every touch point checked in
// ClickHouse — page views, single-page navigation, a goal click, an e-mail link that stitches
// the browser to the patient, events made offline delivered once after reconnecting, and the
// home-hero slot filled from POST /v1/decide.
import { serve, type ServerType } from '@hono/node-server'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inProgramHoldout } from '../analytics/index.ts'
import { browserId, signClickToken } from '../collector/index.ts'
import { basic, DEMO, identityToken, startService, waitFor } from './helpers.ts'

// Names of the page's globals, for the functions page.evaluate runs in the browser (this project
// type-checks against Node's library, not the DOM's).
declare const window: any, document: any, localStorage: any, sessionStorage: any

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

let svc: Awaited<ReturnType<typeof startService>>
let server: ServerType
let base: string
let browser: Browser
beforeAll(async () => {
  // Fails loudly rather than skipping: CI installs the package (.ci/run).
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`)
  svc = await startService()
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: svc.service.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await new Promise((r) => server?.close(r))
  await svc?.stop()
})

type Row = {
  type: string
  event: string
  page_path: string
  user_id: string
  anonymous_id: string
  channel: string
  properties: string
  message_id: string
  page_url: string
}

/** Attune's own events about a browser (decisions on the demo's home-hero slot, the dialogue-plan stage they start), apart from what the page sent. */
const ATTUNE_EVENTS = new Set(['decision', 'stage_changed'])
const sentByPage = (rows: Row[]) => rows.filter((r) => !ATTUNE_EVENTS.has(r.event))

/** Rows of one browser, once `done` says they are all there. */
async function rowsOf(anonymousId: string, done: (rows: Row[]) => boolean, what: string): Promise<Row[]> {
  let rows: Row[] = []
  await waitFor(
    async () => {
      rows = await svc.service.db.query<Row>(
        'SELECT type, event, page_path, user_id, anonymous_id, channel, properties, message_id, page_url FROM events WHERE anonymous_id = {a:String} ORDER BY ts, received_at',
        { a: browserId(anonymousId) },
      )
      return done(rows)
    },
    20_000,
    what,
  )
  return rows
}

async function open(context: BrowserContext, path: string): Promise<{ page: Page; anonymousId: string; hosts: Set<string> }> {
  const page = await context.newPage()
  const hosts = new Set<string>()
  page.on('request', (r) => void hosts.add(new URL(r.url()).host))
  await page.goto(`${base}${path}`)
  const anonymousId = await page.waitForFunction(() => localStorage.getItem('attune_aid')).then((h) => h.jsonValue() as Promise<string>)
  return { page, anonymousId, hosts }
}

describe('the demo site in Chromium', () => {
  it('records page views, SPA navigation and a goal click, first-party only', async () => {
    const context = await browser.newContext()
    const { page, anonymousId, hosts } = await open(context, '/demo/')
    await page.click('nav a[href="/demo/treatments"]')
    await page.click('nav a[href="/demo/diary"]')
    await page.click('#diary')
    const rows = await rowsOf(
      anonymousId,
      (r) => r.some((x) => x.event === 'goal_reached') && r.filter((x) => x.type === 'page').length >= 3,
      'page views and the goal',
    )
    expect(rows.filter((r) => r.type === 'page').map((r) => r.page_path)).toEqual(['/demo/', '/demo/treatments', '/demo/diary'])
    const goal = rows.find((r) => r.event === 'goal_reached')!
    expect(JSON.parse(goal.properties)).toMatchObject({ goal: 'diary_downloaded', value: 10 })
    // Each view's content ids, as shown after the app switched views.
    expect(rows.filter((r) => r.type === 'page').map((r) => JSON.parse(r.properties).content)).toEqual([
      ['itch-basics', 'flare-plan'],
      ['treatment-options'],
      ['diary-howto'],
    ])
    expect(sentByPage(rows).every((r) => r.channel === 'web')).toBe(true)
    // P10: the page talked to nobody but the collector that served it.
    expect([...hosts]).toEqual([new URL(base).host])
    await context.close()
  })

  it('replays calls made before the script loaded, in order', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    // Runs before the page's own scripts: calls queued on the stub while attune.js is not there yet.
    // The identity token the site's backend signed for the patient who logged in.
    await page.addInitScript((token: string) => {
      const w = window as unknown as { attune: ((...a: unknown[]) => void) & { q?: unknown[][] } }
      w.attune = Object.assign((...a: unknown[]) => void (w.attune.q = w.attune.q ?? []).push(a), { q: [] as unknown[][] })
      w.attune('identify', 'p-000042', { plan: 'standard', token })
      w.attune('track', 'early_call', { n: 1 })
      w.attune('goal', 'early_goal')
    }, identityToken('p-000042'))
    const batches: Array<{ batch: Array<{ type: string; event?: string }> }> = []
    page.on('request', (r) => void (r.url().endsWith('/v1/batch') && batches.push(JSON.parse(r.postData() ?? '{}'))))
    await page.goto(`${base}/demo/`)
    const anonymousId = await page.waitForFunction(() => localStorage.getItem('attune_aid')).then((h) => h.jsonValue() as Promise<string>)
    const rows = await rowsOf(anonymousId, (r) => r.some((x) => x.event === 'goal_reached'), 'the queued calls')
    // In the order they were made (the same millisecond, so the table's order cannot tell); the
    // slot's impression comes whenever the decision does.
    expect(
      batches
        .flatMap((b) => b.batch)
        .filter((m) => m.type !== 'page' && m.event !== 'slot_impression')
        .map((m) => `${m.type}:${m.event ?? ''}`),
    ).toEqual(['identify:', 'track:early_call', 'track:goal_reached'])
    const landed = sentByPage(rows)
      .filter((r) => r.type !== 'page' && r.event !== 'slot_impression')
      .map((r) => `${r.type}:${r.event}:${r.user_id}`)
      .sort()
    expect(landed).toEqual(['identify:identify:p-000042', 'track:early_call:p-000042', 'track:goal_reached:p-000042'])
    await context.close()
  })

  it('with data-require-consent leaves cookies and storage empty and sends nothing until consent (P9)', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const posts: string[] = []
    page.on('request', (r) => void (r.method() === 'POST' && posts.push(new URL(r.url()).pathname)))
    const html = (await (await fetch(`${base}/demo/`)).text()).replace('<script async src="/attune.js"', '<script async src="/attune.js" data-require-consent')
    await page.route(`${base}/demo/consent`, (route) => route.fulfill({ contentType: 'text/html', body: html }))
    await page.goto(`${base}/demo/consent`)
    await page.waitForFunction(
      () => typeof (window as unknown as { attune?: { q?: unknown } }).attune === 'function' && !(window as unknown as { attune: { q?: unknown } }).attune.q,
    )
    await page.click('nav a[href="/demo/diary"]')
    await page.click('#diary')
    await new Promise((r) => setTimeout(r, 2000))
    expect(await page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length }))).toEqual({
      cookie: '',
      local: 0,
      session: 0,
    })
    expect(posts).toEqual([])
    await page.evaluate(() => (window as unknown as { attune: (...a: unknown[]) => void }).attune('consent', { analytics: true }))
    const anonymousId = await page.waitForFunction(() => localStorage.getItem('attune_aid')).then((h) => h.jsonValue() as Promise<string>)
    const rows = await rowsOf(
      anonymousId,
      (r) => r.some((x) => x.event === 'goal_reached') && r.filter((x) => x.type === 'page').length >= 2,
      'events held until consent',
    )
    expect(rows.map((r) => r.event || r.type)).toEqual(['page', 'page', 'goal_reached'])
    await context.close()
  })

  it('stitches the browser to the patient from a signed e-mail link, and cleans the address bar', async () => {
    const demo = svc.service.programs.find((p) => p.program.id === 'psoriasis-demo')!
    const token = signClickToken(
      {
        program: 'psoriasis-demo',
        patient: 'p-004711',
        message: 'msg-itch-1',
        campaign: 'itch-tips',
        channel: 'email',
        expires: Math.floor(Date.now() / 1000) + 86_400,
      },
      demo.linkSecret!,
    )
    const context = await browser.newContext()
    const { page, anonymousId } = await open(context, `/demo/?utm_campaign=itch-tips&atn=${token}`)
    expect(page.url()).toBe(`${base}/demo/?utm_campaign=itch-tips`)
    const rows = await rowsOf(anonymousId, (r) => r.some((x) => x.event === 'email_click') && r.some((x) => x.type === 'page'), 'the e-mail click')
    const click = rows.find((r) => r.event === 'email_click')!
    expect(click).toMatchObject({ user_id: 'p-004711', channel: 'email', anonymous_id: browserId(anonymousId) })
    expect(JSON.parse(click.properties)).toMatchObject({ token_status: 'verified', attune_message: 'msg-itch-1', attune_campaign: 'itch-tips' })
    for (const r of rows) expect(JSON.stringify(r)).not.toContain(token.slice(0, 20))
    await context.close()
  })

  it('renders the program questionnaire from the lazily loaded chunk and lands the answers', async () => {
    const context = await browser.newContext()
    const { page, anonymousId } = await open(context, '/demo/support')
    await page.waitForSelector('form.attune-questionnaire fieldset')
    const questions = await page.$$eval('form.attune-questionnaire fieldset', (sets: any[]) => sets.map((f) => f.querySelector('input').name))
    for (const q of questions) await page.click(`form.attune-questionnaire input[name="${q}"] >> nth=0`)
    await page.click('form.attune-questionnaire button[type="submit"]')
    await page.waitForSelector('text=Thank you.')
    const rows = await rowsOf(anonymousId, (r) => r.some((x) => x.event === 'questionnaire_answered'), 'the answers')
    const answered = JSON.parse(rows.find((r) => r.event === 'questionnaire_answered')!.properties) as {
      questionnaire: string
      answers: Array<{ question: string; answer: string }>
    }
    expect(answered.questionnaire).toBe('first-needs')
    expect(answered.answers.map((a) => a.question)).toEqual(questions)
    await context.close()
  })

  it('fills the home-hero slot from /v1/decide, records the decision and sends the impression', async () => {
    const demo = svc.service.programs.find((p) => p.program.id === 'psoriasis-demo')!.program
    // The program holds a share of people (contactPolicy.programHoldout, 5%) back from everything
    // but the basic service, by a hash of their id: with the SDK's random anonymous id the slot
    // would keep its default content in about one run of twenty. So the browser gets an id outside
    // the holdout, written where the SDK keeps it before the page's scripts run.
    let anonymousId = ''
    for (let i = 0; !anonymousId; i++) if (!inProgramHoldout(browserId(`a-slot-${i}`), demo.id, demo.contactPolicy.programHoldout)) anonymousId = `a-slot-${i}`
    // A first visit: nothing is known of this browser, so the demo's rule for newcomers fills the slot.
    const rule = demo.rules.find((r) => r.id === 'newcomer-hero')!
    const contentId = rule.action.type === 'web' && typeof rule.action.content === 'string' ? rule.action.content : ''
    const text = demo.content.find((c) => c.id === contentId)?.channels.web?.text
    expect(text).toEqual(expect.any(String))
    // Decisions come from profiles in memory; before the store is ready they wait on ClickHouse.
    await waitFor(() => !!svc.service.profiles?.status().find((p) => p.program === demo.id)?.ready, 20_000, 'profiles in memory')
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.addInitScript((id: string) => localStorage.setItem('attune_aid', id), anonymousId)
    const decided = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/decide')
    // The page view can land before the decision is asked for (the SDK sends both at once), and
    // its content would then make the itch rule or the best-fit rule match instead: the browser's
    // events wait until the decision is answered, so the profile it is made on is a newcomer's.
    await page.route(`${base}/v1/batch`, async (route) => {
      await decided
      await route.continue()
    })
    await page.goto(`${base}/demo/`)
    const answer = (await (await decided).json()) as { requestId: string; decisions: Array<{ slot: string; outcome: string; content?: { id: string } }> }
    // A browser is answered the content only: nothing of whom it was decided for, nor why.
    expect(Object.keys(answer).sort()).toEqual(['channel', 'decidedAt', 'decisions', 'program', 'requestId'])
    expect(answer.decisions).toEqual([{ slot: 'home-hero', outcome: 'shown', content: expect.objectContaining({ id: contentId }) }])
    const slot = page.locator('[data-attune-slot="home-hero"]')
    await expect.poll(() => slot.getAttribute('data-attune-decided'), { timeout: 10_000 }).toBe(contentId)
    expect(await slot.evaluate((el: any) => el.textContent)).toBe(text)
    const rows = await rowsOf(
      anonymousId,
      (r) => r.some((x) => x.event === 'decision') && r.some((x) => x.event === 'slot_impression'),
      'the decision and the impression',
    )
    const shown = rows
      .filter((r) => r.event === 'decision')
      .map((r) => JSON.parse(r.properties) as Record<string, unknown>)
      .filter((p) => p.outcome === 'shown')
    expect(shown).toEqual([expect.objectContaining({ rule: rule.id, slot: 'home-hero', channel: 'web', contentId })])
    const impression = rows.find((r) => r.event === 'slot_impression')!
    // The impression names the request and slot, which the decision recorded with the rule carries.
    expect(JSON.parse(impression.properties)).toMatchObject({ slot: 'home-hero', requestId: (answer as { requestId?: string }).requestId, content: contentId })
    expect(JSON.parse(impression.properties)).not.toHaveProperty('rule')
    await context.close()
  })

  it('keeps a page that names a patient without an identity token anonymous: its answers and writes never reach the patient', async () => {
    const demo = svc.service.programs.find((p) => p.program.id === 'psoriasis-demo')!.program
    // A patient whose profile says something a stranger must never see.
    const victim = 'p-browser-victim'
    const res = await svc.service.app.request('/v1/batch', {
      method: 'POST',
      headers: { authorization: basic(DEMO.secretKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [
          {
            type: 'track',
            userId: victim,
            event: 'questionnaire_answered',
            properties: { questionnaire: 'first-needs', answers: [{ question: 'mood', answer: 'weighs-on-me' }] },
          },
        ],
      }),
    })
    expect(res.status).toBe(200)
    let anonymousId = ''
    for (let i = 0; !anonymousId; i++)
      if (!inProgramHoldout(browserId(`a-attacker-${i}`), demo.id, demo.contactPolicy.programHoldout)) anonymousId = `a-attacker-${i}`
    const context = await browser.newContext()
    const page = await context.newPage()
    // Anyone can put this on a page: the write key is public, the patient id guessed.
    await page.addInitScript(
      ([id, patient]: string[]) => {
        localStorage.setItem('attune_aid', id!)
        const w = window as unknown as { attune: ((...a: unknown[]) => void) & { q?: unknown[][] } }
        w.attune = Object.assign((...a: unknown[]) => void (w.attune.q = w.attune.q ?? []).push(a), { q: [] as unknown[][] })
        w.attune('identify', patient)
        w.attune('goal', 'diary_downloaded')
      },
      [anonymousId, victim],
    )
    const decided = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/decide')
    await page.goto(`${base}/demo/`)
    const answer = await (await decided).text()
    expect(Object.keys(JSON.parse(answer)).sort()).toEqual(['channel', 'decidedAt', 'decisions', 'program', 'requestId'])
    expect(answer).not.toContain(victim)
    expect(answer).not.toContain('weighs-on-me')
    const rows = await rowsOf(
      anonymousId,
      (r) => r.some((x) => x.type === 'identify') && r.some((x) => x.event === 'goal_reached') && r.some((x) => x.event === 'decision'),
      'the page’s events',
    )
    // Kept as the browser's own analytics: the claimed id apart, no link, no goal for the patient.
    expect(rows.filter((r) => r.event !== 'decision').every((r) => r.user_id === '')).toBe(true)
    const [identify] = await svc.service.db.query<{ claimed_user_id: string; identity_status: string }>(
      "SELECT claimed_user_id, identity_status FROM events WHERE anonymous_id = {a:String} AND type = 'identify'",
      { a: browserId(anonymousId) },
    )
    expect(identify).toEqual({ claimed_user_id: victim, identity_status: 'missing' })
    expect(rows.filter((r) => r.event === 'decision').every((r) => r.user_id === '')).toBe(true)
    const profile = (await (await svc.service.app.request(`/v1/profiles/${victim}`, { headers: { authorization: basic(DEMO.secretKey) } })).json()) as {
      ids: string[]
      goals: Array<{ goal: string }>
    }
    expect(profile.ids).toEqual([victim])
    expect(profile.goals.map((g) => g.goal)).toEqual(['first_needs_answered'])
    await context.close()
  })

  it('delivers events made offline exactly once after reconnecting and reloading', async () => {
    const context = await browser.newContext()
    const { page, anonymousId } = await open(context, '/demo/support')
    await rowsOf(anonymousId, (r) => r.some((x) => x.type === 'page'), 'the first page view')
    await context.setOffline(true)
    await page.click('#call-me')
    await page.evaluate(() => (window as unknown as { attune: (...a: unknown[]) => void }).attune('track', 'diary_entry_saved', { itch: 6 }))
    // The SDK tried, failed and kept both in its persisted queue.
    await page.waitForFunction(
      () =>
        (localStorage.getItem('attune_q') ?? '').includes('diary_entry_saved') && (localStorage.getItem('attune_q') ?? '').includes('nurse_callback_requested'),
      undefined,
      { timeout: 10_000 },
    )
    await new Promise((r) => setTimeout(r, 1500))
    await context.setOffline(false)
    await page.reload()
    const rows = await rowsOf(
      anonymousId,
      (r) => r.some((x) => x.event === 'diary_entry_saved') && r.some((x) => x.event === 'goal_reached'),
      'the offline events',
    )
    // Give a late duplicate (a retry racing the reload) time to land, then count.
    await new Promise((r) => setTimeout(r, 2500))
    const again = await svc.service.db.query<{ event: string; n: string }>(
      "SELECT event, count() n FROM events WHERE anonymous_id = {a:String} AND event IN ('diary_entry_saved', 'goal_reached') GROUP BY event ORDER BY event",
      { a: browserId(anonymousId) },
    )
    expect(again.map((r) => [r.event, Number(r.n)])).toEqual([
      ['diary_entry_saved', 1],
      ['goal_reached', 1],
    ])
    expect(JSON.parse(rows.find((r) => r.event === 'goal_reached')!.properties)).toMatchObject({ goal: 'nurse_callback_requested' })
    expect(await page.evaluate(() => localStorage.getItem('attune_q'))).toBeNull()
    await context.close()
  })
})
