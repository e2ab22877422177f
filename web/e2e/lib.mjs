// Helpers for the end-to-end journeys: a headless Chromium (Debian's /usr/bin/chromium through
// playwright-core, no browser download), pages checked the way a person would see them.
import { chromium } from 'playwright-core'
import fs from 'node:fs'
import path from 'node:path'

export const BASE = process.env.INKSTONE_BASE_URL ?? 'http://127.0.0.1:8080'
export const SHOTS = process.env.INKSTONE_SCREENSHOTS ?? path.resolve('build/web-screenshots')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

export class Failure extends Error {}
export function check(cond, message) {
  if (!cond) throw new Failure(message)
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--lang=zh-CN'],
  })
}

let counter = 0
export function uniqueName(prefix) {
  counter++
  return `${prefix}_${Date.now().toString(36)}${counter}`.slice(0, 32)
}

/**
 * One person's browser: a context whose requests may only go to 127.0.0.1, and which records
 * every uncaught page error, console error (CSP violations included) and error toast.
 */
export async function person(browser, journey) {
  const problems = []
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url())
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') return route.continue()
    problems.push(`request to a host other than 127.0.0.1: ${u.href}`)
    return route.abort()
  })
  const page = await context.newPage()
  const expectedConsole = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() !== 'error') return
    const text = m.text()
    // The browser logs every non-2xx fetch; the journeys that provoke one say so.
    if (/Failed to load resource: the server responded with a status of (\d+)/.test(text)) {
      const status = Number(RegExp.$1)
      if (expectedConsole.some((s) => s === status)) return
    }
    problems.push(`console error: ${text}`)
  })
  let shot = 0
  const p = {
    page,
    context,
    problems,
    /** HTTP statuses the journey provokes on purpose (402, 401, 502 ...): not problems. */
    expectStatus(...statuses) {
      expectedConsole.push(...statuses)
    },
    async goto(route) {
      await page.goto(BASE + route, { waitUntil: 'networkidle' })
    },
    /** Fails when an error toast is showing: a journey expects none. */
    async noErrorToast(where) {
      const toasts = await page.locator('.el-message--error').allInnerTexts()
      check(toasts.length === 0, `${where}: unexpected error toast: ${toasts.join(' | ')}`)
    },
    /** Screenshots at 1280 px and 375 px, and the 375 px layout must not overflow. */
    async visit(name) {
      await page.waitForLoadState('networkidle')
      await page.waitForTimeout(250)
      await p.snap(name)
    },
    /** The same without waiting for the network to be idle (while a stream is open). */
    async snap(name) {
      await p.noErrorToast(name)
      shot++
      const base = `${journey}-${String(shot).padStart(2, '0')}-${name}`
      fs.mkdirSync(SHOTS, { recursive: true })
      await page.screenshot({ path: path.join(SHOTS, `${base}-1280.png`), fullPage: true })
      await page.setViewportSize({ width: 375, height: 740 })
      await page.waitForTimeout(250)
      const width = await page.evaluate(() => document.documentElement.scrollWidth)
      await page.screenshot({ path: path.join(SHOTS, `${base}-375.png`), fullPage: true })
      await page.setViewportSize({ width: 1280, height: 860 })
      await page.waitForTimeout(150)
      check(width <= 375, `${name}: at 375 px the page is ${width} px wide (horizontal overflow)`)
    },
    async text(selector) {
      return (await page.locator(selector).first().innerText()).trim()
    },
    async waitText(selector, re, timeout = 15000) {
      const loc = page.locator(selector).first()
      const deadline = Date.now() + timeout
      let last = ''
      while (Date.now() < deadline) {
        last = (await loc.innerText().catch(() => '')) ?? ''
        if (re.test(last)) return last
        await page.waitForTimeout(100)
      }
      throw new Failure(`${selector}: expected ${re}, saw "${last}"`)
    },
    async token() {
      return page.evaluate(() => sessionStorage.getItem('inkstone.token'))
    },
    /** The API as this person (for checks the page cannot show). */
    async api(route, token) {
      const t = token ?? (await p.token())
      const r = await fetch(BASE + '/api/v1' + route, { headers: t ? { Authorization: `Bearer ${t}` } : {} })
      const body = r.status === 204 ? null : await r.json()
      return { status: r.status, body }
    },
    async finish() {
      await p.noErrorToast('end of journey')
      check(problems.length === 0, problems.join('\n'))
      await context.close()
    },
  }
  return p
}

export async function register(p, prefix) {
  const username = uniqueName(prefix)
  await p.goto('/register')
  await p.page.fill('input[data-test=username]', username)
  await p.page.fill('input[data-test=password]', 'correct horse 1')
  await p.page.click('[data-test=submit]')
  await p.page.waitForURL(/\/writing$/)
  await p.waitText('[data-test=balance]', /\d/)
  return username
}

/** Pays the order in the open pay dialog with the mock step, and waits for success. */
export async function mockPay(p) {
  await p.page.waitForSelector('[data-test=mock-step]')
  await p.page.click('[data-test=mock-pay]')
  await p.page.waitForSelector('[data-test=pay-success]')
}

export async function closePay(p) {
  await p.page.click('[data-test=pay-close]')
  await p.page.waitForSelector('[data-test=pay-dialog]', { state: 'hidden' })
}

export async function recharge(p, credits) {
  await p.page.click('[data-test=nav-recharge]')
  await p.page.waitForSelector(`[data-test=package-${credits}]`)
  await p.page.click(`[data-test=package-${credits}]`)
  await p.page.click('[data-test=method-alipay]')
  await p.page.click('[data-test=pay]')
  await mockPay(p)
}

/** Writes `prompt` on the writing page and waits for the stream's end (done or error). */
export async function generate(p, prompt, { tool } = {}) {
  if (!p.page.url().endsWith('/writing')) await p.page.click('[data-test=nav-writing]')
  await p.page.waitForSelector('[data-test=tool-article]')
  if (tool) await p.page.click(`[data-test=tool-${tool}]`)
  await p.page.fill('textarea[data-test=prompt]', prompt)
  await p.page.click('[data-test=generate]')
}

export async function waitDone(p, timeout = 30000) {
  await p.page.waitForSelector('[data-test=summary], [data-test=gen-failure]', { timeout })
}

/** What the writing page shows of its generation: its id and the number of the last delta. */
export async function outputState(p) {
  const loc = p.page.locator('[data-test=output]')
  if ((await loc.count()) === 0) return { id: null, deltas: 0 }
  const [id, deltas] = await loc.evaluate((e) => [e.getAttribute('data-generation'), e.getAttribute('data-deltas')])
  return { id: id ? Number(id) : null, deltas: Number(deltas) }
}

/** Waits until the page has shown at least `n` deltas of its stream. */
export async function waitDeltas(p, n, timeout = 20000) {
  const deadline = Date.now() + timeout
  let last = 0
  while (Date.now() < deadline) {
    last = (await outputState(p)).deltas
    if (last >= n) return last
    await p.page.waitForTimeout(50)
  }
  throw new Failure(`the page showed ${last} deltas, expected ${n}`)
}

/** The text exactly as the page holds it: the .txt export, read back from the download. */
export async function exportedText(p) {
  const [download] = await Promise.all([p.page.waitForEvent('download'), p.page.click('[data-test=export-txt]')])
  return fs.readFileSync(await download.path(), 'utf8')
}
