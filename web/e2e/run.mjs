// The end-to-end journeys of issue 11, in headless Chromium against a running stack:
//   INKSTONE_BASE_URL=http://127.0.0.1:PORT node e2e/run.mjs 1,2,3,4,5,6   (mock payments)
//   INKSTONE_BASE_URL=...                    node e2e/run.mjs 7             (live, WeChat fake)
//   INKSTONE_ADMIN_USER=... INKSTONE_ADMIN_PASSWORD=... node e2e/run.mjs 8,9,10,11   (admin console, e2e/admin.mjs)
// tests/web/web_e2e_test.cpp starts the stacks and runs this. Exit 0 only when every journey
// asked for passed. Screenshots of every page visited, at 1280 and 375 px, go to
// INKSTONE_SCREENSHOTS (build/web-screenshots by default).
import fs from 'node:fs'
import QRCode from 'qrcode'
import {
  BASE, Failure, check, closePay, exportedText, generate, launch, mockPay, outputState, person, recharge, register, waitDeltas, waitDone,
} from './lib.mjs'
import { adminJourneys } from './admin.mjs'

const CJK = /[\u3400-\u9fff\uff00-\uffef]/

const journeys = {
  ...adminJourneys,
  // First purchase and first generation.
  async 1(p) {
    p.expectStatus(402)
    await register(p, 'j1')
    await p.waitText('[data-test=balance]', /^0 积分$/)
    await p.visit('writing-empty')
    await generate(p, '写一段关于墨的短文')
    await p.page.waitForSelector('[data-test=insufficient-dialog]')
    const body = await p.text('[data-test=insufficient-body]')
    check(/10 积分/.test(body) && /0 积分/.test(body), `402 dialog: ${body}`)
    await p.visit('insufficient-dialog')
    await p.page.click('[data-test=to-recharge]')
    await p.page.waitForURL(/\/recharge$/)
    await p.page.waitForSelector('[data-test=package-100]')
    await p.visit('recharge')
    await p.page.click('[data-test=package-100]')
    await p.page.click('[data-test=method-alipay]')
    await p.page.click('[data-test=pay]')
    await p.page.waitForSelector('[data-test=mock-step]')
    await p.visit('pay-mock-step')
    await mockPay(p)
    await p.waitText('[data-test=balance]', /^110 积分$/)
    await p.visit('pay-success')
    await closePay(p)

    // The output must grow while it streams: at least three different lengths before done.
    await generate(p, '写一段关于墨的短文 [[sim:tokens=40,delay_ms=60]]')
    const lengths = new Set()
    const deadline = Date.now() + 30000
    while (Date.now() < deadline) {
      const done = await p.page.locator('[data-test=summary]').count()
      if (done) break
      const n = await p.page.locator('[data-test=output]').evaluate((e) => e.textContent.length).catch(() => 0)
      if (n > 0) lengths.add(n)
      await p.page.waitForTimeout(25)
    }
    await waitDone(p)
    const finalLength = await p.page.locator('[data-test=output]').evaluate((e) => e.textContent.length)
    lengths.delete(finalLength)
    check(lengths.size >= 3, `the output did not grow while streaming: lengths seen ${[...lengths]}`)
    await p.waitText('[data-test=summary]', /扣除 10 积分，余额 100/)
    await p.waitText('[data-test=balance]', /^100 积分$/)
    await p.visit('writing-done')

    await p.page.click('[data-test=nav-transactions]')
    await p.page.waitForSelector('[data-test=entry-RECHARGE]')
    const rows = await p.page.locator('[data-test=ledger] .entry').evaluateAll((els) =>
      els.map((e) => [
        e.getAttribute('data-test'),
        e.querySelector('[data-test=amount]').textContent.trim(),
        e.querySelector('[data-test=balance-after]').textContent.replace(/\D/g, ''),
      ]),
    )
    const want = [['entry-CONSUME', '-10', '100'], ['entry-BONUS', '+10', '110'], ['entry-RECHARGE', '+100', '100']]
    check(JSON.stringify(rows) === JSON.stringify(want), `transactions: ${JSON.stringify(rows)}`)
    await p.visit('transactions')
  },

  // Membership: the badge shows the expiry, generating is free, History lists both runs.
  async 2(p) {
    await register(p, 'j2')
    await p.page.click('[data-test=nav-membership]')
    await p.page.waitForSelector('[data-test=plan-monthly]')
    await p.visit('membership')
    await p.page.click('[data-test=buy-monthly]')
    await mockPay(p)
    await p.visit('membership-paid')
    await closePay(p)
    const balance = (await p.api('/credit/balance')).body
    check(balance.is_member && balance.member_expired_at, `not a member: ${JSON.stringify(balance)}`)
    const expiry = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(balance.member_expired_at))
    await p.waitText('[data-test=member-badge]', new RegExp(`会员至 ${expiry}`))
    await p.waitText('[data-test=member-status]', new RegExp(expiry))
    await p.page.click('[data-test=nav-writing]')
    await p.waitText('[data-test=cost]', /会员免费/)
    await generate(p, '秋天的标题 [[sim:tokens=12]]', { tool: 'title' })
    await waitDone(p)
    await p.waitText('[data-test=summary]', /会员免费/)
    await generate(p, '一篇关于秋天的文章 [[sim:tokens=15]]', { tool: 'article' })
    await waitDone(p)
    await p.waitText('[data-test=balance]', /^0 积分$/)
    await p.visit('writing-member')
    await p.page.click('[data-test=nav-history]')
    await p.page.waitForSelector('[data-test=history-item]')
    const items = await p.page.locator('[data-test=history-item]').allInnerTexts()
    check(items.length === 2, `history shows ${items.length} items`)
    check(/文章写作/.test(items[0]) && /标题生成/.test(items[1]), `history order: ${items.map((s) => s.slice(0, 30))}`)
    await p.visit('history')
    await p.page.locator('[data-test=history-item] [data-test=open]').first().click()
    await p.page.waitForSelector('[data-test=reader-content]')
    check((await p.text('[data-test=reader-content]')).length > 5, 'the full text is empty')
    await p.visit('history-reader')
  },

  // How a generation ends: an upstream error shows the refund and leaves the balance; Stop
  // keeps the text so far (charged) or, before any, refunds; a reload reattaches.
  async 3(p) {
    p.expectStatus(502)
    await register(p, 'j3')
    await recharge(p, 10)
    await p.waitText('[data-test=balance]', /^10 积分$/)
    await closePay(p)
    await generate(p, '会失败的生成 [[sim:error=500]]')
    await p.page.waitForSelector('[data-test=gen-failure]')
    await p.waitText('[data-test=refunded]', /积分已退回，当前余额 10 积分/)
    await p.waitText('[data-test=balance]', /^10 积分$/)
    await p.visit('writing-failed-before-output')
    await generate(p, '中途失败 [[sim:fail_after=4,delay_ms=30]]')
    await p.page.waitForSelector('[data-test=gen-failure]', { timeout: 20000 })
    await p.waitText('[data-test=refunded]', /积分已退回，当前余额 10 积分/)
    check((await p.page.locator('[data-test=output]').count()) === 1, 'the text before the failure is gone')
    await p.waitText('[data-test=balance]', /^10 积分$/)
    await p.visit('writing-failed-mid-stream')
    const refunds = (await p.api('/credit/transactions?type=REFUND')).body
    check(refunds.total === 2, `refund rows: ${refunds.total}`)

    // Stop (issue 13) stops the generation on the server: after a few deltas the text so far
    // is kept and charged; before the first one it is refunded (the POST's 409).
    p.expectStatus(409)
    await recharge(p, 100)
    await p.waitText('[data-test=balance]', /^120 积分$/)
    await closePay(p)
    await generate(p, '一篇很长的文章 [[sim:tokens=60,delay_ms=150]]')
    await waitDeltas(p, 4)
    await p.page.click('[data-test=stop]')
    await p.waitText('[data-test=summary]', /已停止：已生成的内容已保留，扣除 10 积分，余额 110/)
    await p.waitText('[data-test=balance]', /^110 积分$/)
    const stopped = await outputState(p)
    check(stopped.id && stopped.deltas >= 4 && stopped.deltas < 60, `after Stop: ${JSON.stringify(stopped)}`)
    let g = (await p.api(`/writing/generations/${stopped.id}`)).body
    check(g.status === 'ABORTED' && g.end_reason === 'cancelled' && !g.refunded && g.credits_charged === 10,
      `the stopped generation: ${g.status} ${g.end_reason} refunded=${g.refunded}`)
    check(g.deltas === stopped.deltas, `the page shows ${stopped.deltas} deltas, the server kept ${g.deltas}`)
    check((await exportedText(p)) === g.content, 'the text on the page is not the text the server kept')
    await p.page.waitForTimeout(800)
    check((await outputState(p)).deltas === stopped.deltas, 'the text still grew after Stop')
    await p.visit('writing-stopped')

    await generate(p, '还没写就停止 [[sim:first_delay_ms=6000,tokens=5]]')
    await p.page.waitForTimeout(400)
    await p.page.click('[data-test=stop]')
    await p.waitText('[data-test=summary]', /已在写出内容前停止，积分已退回，当前余额 110 积分/)
    check((await p.page.locator('[data-test=output]').count()) === 0, 'text shown for a generation stopped before any')
    await p.waitText('[data-test=balance]', /^110 积分$/)
    await p.visit('writing-stopped-before-output')

    // A reload mid-stream reattaches: the text goes on to the end, without a gap or a
    // duplicate; History offers "continue reading" while it runs.
    await generate(p, '刷新也不会丢 [[sim:tokens=100,delay_ms=150]]')
    await waitDeltas(p, 5)
    const before = await outputState(p)
    await p.page.reload({ waitUntil: 'domcontentloaded' })
    await p.waitText('[data-test=streaming]', /已重新连接到进行中的生成/)
    await waitDeltas(p, before.deltas + 3)
    check((await outputState(p)).id === before.id, 'after the reload the page shows another generation')
    await p.snap('writing-reattached')
    await p.page.click('[data-test=nav-history]')
    await p.page.waitForSelector('[data-test=history-item] [data-test=continue]')
    await p.page.locator('[data-test=history-item] [data-test=open]').first().click()
    await p.waitText('[data-test=reader-end-reason]', /仍在生成/)
    await p.visit('history-running-detail')
    await p.page.click('[data-test=reader-continue]')
    await p.page.waitForURL(/\/writing$/)
    await p.waitText('[data-test=streaming]', /已重新连接到进行中的生成/)
    await waitDone(p)
    await p.waitText('[data-test=summary]', /完成：.*扣除 10 积分，余额 100/)
    const after = await outputState(p)
    g = (await p.api(`/writing/generations/${before.id}`)).body
    check(g.status === 'SUCCEEDED' && g.end_reason === 'completed' && g.deltas === 100, `after the reload: ${g.status} ${g.end_reason} ${g.deltas}`)
    check(after.id === before.id && after.deltas === g.deltas, `the page: ${JSON.stringify(after)}, the server: ${g.deltas} deltas`)
    check((await exportedText(p)) === g.content, 'the text after the reload is not the generation\'s text (a gap or a duplicate)')
    await p.waitText('[data-test=balance]', /^100 积分$/)
    await p.visit('writing-reattached-done')
    await p.page.click('[data-test=nav-history]')
    await p.page.locator('[data-test=history-item] [data-test=open]').first().click()
    await p.waitText('[data-test=reader-end-reason]', /正常完成/)
    await p.visit('history-done-detail')
    await p.page.keyboard.press('Escape')
    await p.page.waitForSelector('[data-test=reader]', { state: 'hidden' })

    // A reload before the first delta (no id yet): the page sends the same request with the
    // same Idempotency-Key, a replay of the one generation: one generation, one charge.
    await generate(p, '第一个字之前刷新 [[sim:first_delay_ms=2500,tokens=12,delay_ms=50]]')
    await p.page.waitForTimeout(500)
    await p.page.reload({ waitUntil: 'domcontentloaded' })
    await p.waitText('[data-test=streaming]', /已重新连接到进行中的生成/)
    await waitDone(p)
    await p.waitText('[data-test=summary]', /完成：.*扣除 10 积分，余额 90/)
    const replayed = await outputState(p)
    g = (await p.api(`/writing/generations/${replayed.id}`)).body
    check(g.status === 'SUCCEEDED' && g.deltas === 12 && replayed.deltas === 12, `the replayed generation: ${g.status} ${g.deltas}`)
    check((await exportedText(p)) === g.content, 'the replayed text is not the generation\'s text')
    const history = (await p.api('/writing/history')).body
    check(history.total === 6, `journey 3 made ${history.total} generations, expected 6`)
    await p.waitText('[data-test=balance]', /^90 积分$/)
  },

  // Double click on pay makes exactly one order.
  async 4(p) {
    await register(p, 'j4')
    await p.page.click('[data-test=nav-recharge]')
    await p.page.click('[data-test=package-500]')
    let posts = 0
    p.page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/api/v1/credit/recharge')) posts++
    })
    await p.page.dblclick('[data-test=pay]')
    await p.page.waitForSelector('[data-test=mock-step]')
    await p.page.waitForTimeout(800)
    const orders = (await p.api('/credit/recharge/orders')).body
    check(orders.total === 1, `a double click made ${orders.total} orders (${posts} POSTs)`)
    await p.visit('pay-after-double-click')
    await closePay(p)
    await p.page.click('[data-test=nav-orders]')
    await p.page.waitForSelector('[data-test=order-PENDING]')
    check((await p.page.locator('[data-test^=order-]').count()) === 1, 'orders page shows more than one order')
    await p.visit('orders-pending')
    // A PENDING order can be paid from the orders page.
    await p.page.click('[data-test=pay-now]')
    await mockPay(p)
    await p.waitText('[data-test=balance]', /^600 积分$/)
    await closePay(p)
    await p.page.waitForSelector('[data-test=order-PAID]')
    await p.visit('orders-paid')
  },

  // Logout: protected URLs lead to login (and back after it), the old token is dead.
  async 5(p) {
    p.expectStatus(401, 429)
    const username = await register(p, 'j5')
    const token = await p.token()
    check((await p.api('/users/me', token)).status === 200, 'token does not work before logout')
    await p.page.click('[data-test=logout]')
    await p.page.waitForURL(/\/login$/)
    check((await p.token()) === null, 'the token is still in sessionStorage after logout')
    check((await p.api('/users/me', token)).status === 401, 'the old token still works after logout')
    await p.goto('/orders')
    await p.page.waitForURL(/\/login\?redirect=(%2F|\/)orders$/)
    await p.visit('login-redirect')
    await p.page.fill('input[data-test=username]', username)
    await p.page.fill('input[data-test=password]', 'correct horse 1')
    await p.page.click('[data-test=submit]')
    await p.page.waitForURL(/\/orders$/)
    await p.page.waitForSelector('[data-test=orders]')
    await p.page.click('[data-test=logout]')
    await p.page.waitForURL(/\/login$/)
    // Ten wrong passwords, then the page shows how long to wait (the API's Retry-After).
    await p.page.fill('input[data-test=username]', username)
    for (let i = 0; i < 11; i++) {
      await p.page.fill('input[data-test=password]', `wrong password ${i}`)
      await p.page.click('[data-test=submit]')
      await p.page.waitForSelector('[data-test=login-error], [data-test=login-wait]')
      if (await p.page.locator('[data-test=login-wait]').count()) break
    }
    await p.waitText('[data-test=login-wait]', /登录失败次数过多，请在 \d+ 分 \d+ 秒 后再试|登录失败次数过多，请在 .+后再试/)
    await p.visit('login-rate-limited')
  },

  // Languages and widths: everything visible changes; nothing overflows at 375 px.
  async 6(p) {
    await register(p, 'j6')
    const pages = ['writing', 'image', 'history', 'recharge', 'membership', 'orders', 'transactions']
    const zhText = {}
    for (const name of pages) {
      await p.page.click(`[data-test=nav-${name}]`)
      await p.page.waitForURL(new RegExp(`/${name}$`))
      await p.visit(`${name}-zh`)
      zhText[name] = await p.page.evaluate(() => document.body.innerText)
      check(CJK.test(zhText[name]), `${name}: no Chinese text in zh-CN`)
    }
    await p.page.click('[data-test=lang]')
    for (const name of pages) {
      await p.page.click(`[data-test=nav-${name}]`)
      await p.page.waitForURL(new RegExp(`/${name}$`))
      await p.page.waitForLoadState('networkidle')
      const text = await p.page.evaluate(() => document.body.innerText)
      const left = text.split('\n').filter((line) => CJK.test(line) && line.trim() !== '中文')
      check(left.length === 0, `${name}: still Chinese after switching to English: ${left.join(' | ')}`)
      check(text !== zhText[name], `${name}: nothing changed`)
      await p.visit(`${name}-en`)
    }
    // Login and sign-up pages too, in English, then back to Chinese.
    await p.page.click('[data-test=logout]')
    await p.page.waitForURL(/\/login$/)
    const loginText = await p.page.evaluate(() => document.body.innerText)
    check(!CJK.test(loginText.replace('中文', '')), `login page still Chinese: ${loginText}`)
    await p.visit('login-en')
    await p.page.click('[data-test=lang]')
    await p.waitText('[data-test=submit]', /登录/)
    await p.visit('login-zh')
    await p.page.click('[data-test=to-register]')
    await p.page.waitForURL(/\/register/)
    await p.visit('register-zh')
  },

  // Live mode, WeChat Pay: the QR code is drawn from the order's code_url.
  async 7(p) {
    await register(p, 'j7')
    await p.page.click('[data-test=nav-recharge]')
    await p.page.click('[data-test=package-100]')
    await p.page.click('[data-test=method-wechat]')
    await p.page.click('[data-test=pay]')
    await p.page.waitForSelector('[data-test=wechat-qr]')
    check((await p.page.locator('[data-test=mock-step]').count()) === 0, 'live mode shows the mock step')
    const orders = (await p.api('/credit/recharge/orders')).body
    check(orders.total === 1, `orders: ${orders.total}`)
    const codeUrl = orders.items[0].payment?.code_url
    check(typeof codeUrl === 'string' && codeUrl.startsWith('weixin://'), `code_url: ${codeUrl}`)
    const svg = await QRCode.toString(codeUrl, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' })
    const want = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg)
    const src = await p.page.getAttribute('[data-test=wechat-qr]', 'src')
    check(src === want, 'the QR code is not the one for the order\'s code_url')
    const natural = await p.page.locator('[data-test=wechat-qr]').evaluate((img) => img.naturalWidth)
    check(natural > 0, 'the QR image did not render')
    await p.visit('pay-wechat-qr')
  },
}

async function main() {
  const wanted = (process.argv[2] ?? '1,2,3,4,5,6').split(',').map((s) => s.trim()).filter(Boolean)
  console.log(`e2e against ${BASE}: journeys ${wanted.join(', ')}`)
  // This run's screenshots replace the last run's of the same journeys.
  const dir = process.env.INKSTONE_SCREENSHOTS ?? 'build/web-screenshots'
  fs.mkdirSync(dir, { recursive: true })
  for (const f of fs.readdirSync(dir)) if (wanted.some((j) => f.startsWith(`j${j}-`))) fs.rmSync(`${dir}/${f}`)
  const browser = await launch()
  let failed = 0
  try {
    for (const j of wanted) {
      const run = journeys[j]
      if (!run) throw new Error(`no journey ${j}`)
      const started = Date.now()
      const p = await person(browser, `j${j}`)
      try {
        await run(p, browser)
        await p.finish()
        console.log(`ok   journey ${j} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      } catch (e) {
        failed++
        const shot = `${process.env.INKSTONE_SCREENSHOTS ?? 'build/web-screenshots'}/j${j}-FAILED.png`
        await p.page.screenshot({ path: shot, fullPage: true }).catch(() => {})
        console.log(`FAIL journey ${j}: ${e instanceof Failure ? e.message : e.stack}`)
        if (p.problems.length) console.log('  also: ' + p.problems.join('\n  also: '))
        console.log(`  screenshot: ${shot}`)
        await p.context.close().catch(() => {})
      }
    }
  } finally {
    await browser.close()
  }
  console.log(`${wanted.length - failed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
