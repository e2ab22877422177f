// The admin console's journeys (issue 12), run by run.mjs like the others. The admin account
// is made by tests/web/web_e2e_test.cpp with `inkstone-admin grant-admin` and handed over in
// INKSTONE_ADMIN_USER / INKSTONE_ADMIN_PASSWORD. Every admin page is visited (screenshots at
// 1280 and 375 px) on the way.
import fs from 'node:fs'
import { BASE, Failure, check, mockPay, closePay, person, register } from './lib.mjs'

const ADMIN_USER = process.env.INKSTONE_ADMIN_USER
const ADMIN_PASSWORD = process.env.INKSTONE_ADMIN_PASSWORD

/** The input (or textarea) of an Element Plus field, wherever its data-test landed. */
function field(p, name) {
  return p.page
    .locator(`[data-test=${name}]`)
    .locator('xpath=descendant-or-self::input[not(@type="hidden")] | descendant-or-self::textarea')
    .first()
}

async function loginAdmin(p) {
  if (!ADMIN_USER || !ADMIN_PASSWORD) throw new Failure('INKSTONE_ADMIN_USER / INKSTONE_ADMIN_PASSWORD are not set')
  await p.goto('/login')
  await p.page.fill('input[data-test=username]', ADMIN_USER)
  await p.page.fill('input[data-test=password]', ADMIN_PASSWORD)
  await p.page.click('[data-test=submit]')
  await p.page.waitForURL(/\/writing$/)
  await p.waitText('[data-test=balance]', /\d/)
}

/** Fills the open reason dialog and confirms; waits until it has closed (the write went through). */
async function confirmReason(p, reason) {
  const dialog = p.page.locator('[data-test=reason-dialog]').last()
  await dialog.waitFor({ state: 'visible' })
  await field(p, 'reason').fill(reason)
  await p.page.locator('[data-test=dialog-confirm]').last().click()
  await dialog.waitFor({ state: 'hidden', timeout: 15000 }).catch(async () => {
    const err = await p.page.locator('[data-test=dialog-error]').allInnerTexts()
    throw new Failure(`the reason dialog stayed open: ${err.join(' | ')}`)
  })
}

async function userId(p) {
  const me = await p.api('/users/me')
  check(me.status === 200, `GET /users/me: ${me.status}`)
  return me.body.id
}

export const adminJourneys = {
  // An admin adjusts a user's credits; the user's header shows it after a reload. On the way,
  // every admin page.
  async 8(p, browser) {
    const u = await person(browser, 'j8-user')
    try {
      const name = await register(u, 'j8')
      await u.waitText('[data-test=balance]', /^0 积分$/)
      const id = await userId(u)

      await loginAdmin(p)
      await p.page.click('[data-test=nav-admin]')
      await p.page.waitForURL(/\/admin\/dashboard$/)
      await p.page.waitForSelector('[data-test=card-revenue]')
      await p.page.waitForSelector('.series-chart canvas')
      await p.visit('admin-dashboard')

      await p.page.click('[data-test=nav-admin-users]')
      await field(p, 'user-search').fill(name)
      await p.page.click('[data-test=user-search-go]')
      await p.page.waitForSelector(`[data-test=user-${name}]`)
      await p.visit('admin-users')
      await p.page.click(`[data-test=user-${name}]`)
      await p.page.waitForURL(new RegExp(`/admin/users/${id}$`))
      await p.waitText('[data-test=user-credits]', /^0$/)
      await p.visit('admin-user')

      await p.page.click('[data-test=adjust-credits]')
      await field(p, 'adjust-amount').fill('250')
      await p.page.waitForSelector('[data-test=reason-dialog]')
      await p.visit('admin-adjust-dialog')
      // A debit beyond the balance is refused and changes nothing.
      p.expectStatus(409)
      await field(p, 'adjust-amount').fill('-5')
      await field(p, 'reason').fill('e2e: overdraw must fail')
      await p.page.locator('[data-test=dialog-confirm]').last().click()
      await p.waitText('[data-test=dialog-error]', /0|余额/)
      await field(p, 'adjust-amount').fill('250')
      await confirmReason(p, 'e2e: goodwill after a complaint')
      await p.waitText('[data-test=user-credits]', /^250$/)
      await p.page.waitForSelector('[data-test=ledger-ADMIN_ADJUST]')

      await u.page.reload({ waitUntil: 'networkidle' })
      await u.waitText('[data-test=balance]', /^250 积分$/)
      await u.visit('header-after-adjust')

      await p.page.click('[data-test=nav-admin-orders]')
      await p.page.waitForSelector('[data-test=admin-orders]')
      await p.visit('admin-orders')
      await p.page.click('[data-test=nav-admin-prices]')
      await p.page.waitForSelector('[data-test=packages] .el-table__row')
      await p.visit('admin-prices')
      await p.page.click('[data-test=nav-admin-tools]')
      await p.page.waitForSelector('[data-test^=tool-]')
      await p.page.locator('button[data-test^=tool-]').first().click()
      await field(p, 'tool-sample').fill('秋天的散文')
      await p.page.click('[data-test=tool-preview]')
      await p.waitText('[data-test=preview-user]', /秋天的散文/)
      await p.visit('admin-tools')
      await p.page.click('[data-test=nav-admin-audit]')
      await p.page.waitForSelector('[data-test=audit-user\\.adjust_credits]')
      await p.visit('admin-audit')
      await u.finish()
    } catch (e) {
      await u.context.close().catch(() => {})
      throw e
    }
  },

  // An admin refunds a paid order in mock mode; the order's ledger shows the ORDER_REFUND row.
  async 9(p, browser) {
    const u = await person(browser, 'j9-user')
    try {
      await register(u, 'j9')
      await u.page.click('[data-test=nav-recharge]')
      await u.page.click('[data-test=package-100]')
      await u.page.click('[data-test=method-alipay]')
      await u.page.click('[data-test=pay]')
      await mockPay(u)
      await closePay(u)
      await u.waitText('[data-test=balance]', /^110 积分$/)
      const orders = await u.api('/credit/recharge/orders?page=1&page_size=5')
      check(orders.status === 200 && orders.body.items.length === 1, `orders: ${JSON.stringify(orders.body)}`)
      const orderNo = orders.body.items[0].order_no

      await loginAdmin(p)
      await p.goto(`/admin/orders/${orderNo}`)
      await p.waitText('[data-test=order-no]', new RegExp(orderNo))
      await p.page.waitForSelector('[data-test=ledger-RECHARGE]')
      await p.visit('admin-order')
      await p.page.click('[data-test=refund]')
      await p.waitText('[data-test=refund-preview]', /110/)
      await p.visit('admin-refund-dialog')
      await confirmReason(p, 'e2e: customer asked for the money back')
      await p.page.waitForSelector('[data-test=refund-panel]')
      await p.waitText('[data-test=refund-status]', /SUCCESS/)
      await p.page.waitForSelector('[data-test=ledger-ORDER_REFUND]')
      await p.visit('admin-order-refunded')

      await u.page.reload({ waitUntil: 'networkidle' })
      await u.waitText('[data-test=balance]', /^0 积分$/)
      await u.finish()
    } catch (e) {
      await u.context.close().catch(() => {})
      throw e
    }
  },

  // An admin creates a batch of codes, exports it; a user redeems one, then cannot again.
  async 10(p, browser) {
    await loginAdmin(p)
    await p.goto('/admin/codes')
    await field(p, 'codes-count').fill('3')
    await field(p, 'codes-value').fill('120')
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10)
    await field(p, 'codes-expires').fill(expires)
    await field(p, 'codes-expires').press('Enter')
    await field(p, 'codes-note').fill('e2e batch')
    await p.page.click('[data-test=codes-create]')
    await confirmReason(p, 'e2e: codes for a campaign')
    await p.page.waitForSelector('[data-test=codes-created]')
    const codes = await p.page.locator('[data-test=new-code]').allInnerTexts()
    check(codes.length === 3, `created codes: ${codes}`)
    await p.page.waitForSelector('[data-test=batches] .el-table__row')
    await p.visit('admin-codes')
    const exportButton = p.page.locator('[data-test^=export-]').first()
    const [download] = await Promise.all([p.page.waitForEvent('download'), exportButton.click()])
    const csv = fs.readFileSync(await download.path(), 'utf8')
    check(/^code,/.test(csv) && codes.every((c) => csv.includes(c)), `the CSV export: ${csv.slice(0, 200)}`)

    const u = await person(browser, 'j10-user')
    try {
      u.expectStatus(409, 404)
      await register(u, 'j10')
      await u.page.click('[data-test=nav-recharge]')
      await u.page.waitForSelector('[data-test=redeem]')
      // Lower case and without dashes: the server takes it.
      await field(u, 'redeem-code').fill(codes[0].toLowerCase().replace(/-/g, ''))
      await u.page.click('[data-test=redeem-submit]')
      await u.waitText('[data-test=redeem-done]', /120/)
      await u.waitText('[data-test=balance]', /^120 积分$/)
      await u.page.waitForTimeout(3500)  // the success toast fades before the screenshot
      await u.visit('redeemed')
      await field(u, 'redeem-code').fill(codes[0])
      await u.page.click('[data-test=redeem-submit]')
      await u.waitText('[data-test=redeem-error]', /已经被使用/)
      await field(u, 'redeem-code').fill('AAAA-BBBB-CCCC-DDDD-EEEE')
      await u.page.click('[data-test=redeem-submit]')
      await u.waitText('[data-test=redeem-error]', /不存在/)
      await u.visit('redeem-error')
      await u.finish()
    } catch (e) {
      await u.context.close().catch(() => {})
      throw e
    }
  },

  // A non-admin who opens /admin sees the 403 page (not the login page); a signed-out visitor
  // goes to login.
  async 11(p, browser) {
    const anon = await person(browser, 'j11-anon')
    try {
      await anon.goto('/admin/users')
      await anon.page.waitForURL(/\/login\?redirect=/)
      await anon.finish()
    } catch (e) {
      await anon.context.close().catch(() => {})
      throw e
    }
    await register(p, 'j11')
    const nav = await p.page.locator('[data-test=nav-admin]').count()
    check(nav === 0, 'a plain user sees the admin link')
    await p.goto('/admin')
    await p.page.waitForSelector('[data-test=forbidden]')
    check(new URL(p.page.url()).pathname.startsWith('/admin'), `the 403 page moved to ${p.page.url()}`)
    await p.visit('admin-forbidden')
    await p.goto('/admin/orders')
    await p.page.waitForSelector('[data-test=forbidden]')
  },
}

export { BASE }
