import { afterEach, describe, expect, it, vi } from 'vitest'
import { admin } from '../src/api/admin'
import { api } from '../src/api'
import { ApiError } from '../src/api/client'
import {
  auditJson, batchFileName, csvRows, isoDay, membershipLength, parseSignedCredits, parseYuan, reasonError,
  refundAmountValid, refundCredits,
} from '../src/lib/admin'
import { chartOption, seriesSpec } from '../src/lib/dashboard'

type Call = { url: string; method: string; body: unknown; headers: Record<string, string> }

/** Replaces fetch: records every request and answers with `reply` (status 200 unless told). */
function recordFetch(reply: unknown = {}, status = 200, contentType = 'application/json') {
  const calls: Call[] = []
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({
      url,
      method: init.method ?? 'GET',
      body: init.body ? JSON.parse(init.body as string) : undefined,
      headers: init.headers as Record<string, string>,
    })
    const text = typeof reply === 'string' ? reply : JSON.stringify(reply)
    return new Response(text, { status, headers: { 'Content-Type': contentType } })
  })
  return calls
}
afterEach(() => vi.unstubAllGlobals())

describe('admin API client', () => {
  it('searches users with a trimmed query and paging', async () => {
    const calls = recordFetch({ items: [], total: 0, page: 2, page_size: 20 })
    await admin.users('  alice ', 2, 20)
    expect(calls[0].url).toBe('/api/v1/admin/users?q=alice&page=2&page_size=20')
    await admin.users('', 1, 20)
    expect(calls[1].url).toBe('/api/v1/admin/users?page=1&page_size=20')
  })
  it('sends every write with its reason to the contract route', async () => {
    const calls = recordFetch({})
    await admin.adjustCredits(7, -20, 'complaint #4')
    await admin.grantMembership(7, { months: 3 }, 'gift')
    await admin.setDisabled(7, true, 'abuse')
    await admin.setDisabled(7, false, 'appeal')
    await admin.reconcile('R2026', 'check')
    await admin.refund('R2026', 'full')
    await admin.refund('R 1/2', 'part', 500)
    await admin.saveModel('qwen-plus', 12, 'cost')
    await admin.disableBatch(3, 'leaked')
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ['POST', '/api/v1/admin/users/7/credits', { amount: -20, reason: 'complaint #4' }],
      ['POST', '/api/v1/admin/users/7/membership', { months: 3, reason: 'gift' }],
      ['POST', '/api/v1/admin/users/7/disable', { reason: 'abuse' }],
      ['POST', '/api/v1/admin/users/7/enable', { reason: 'appeal' }],
      ['POST', '/api/v1/admin/orders/R2026/reconcile', { reason: 'check' }],
      ['POST', '/api/v1/admin/orders/R2026/refund', { reason: 'full' }],
      ['POST', '/api/v1/admin/orders/R%201%2F2/refund', { reason: 'part', amount_fen: 500 }],
      ['PUT', '/api/v1/admin/catalog/models/qwen-plus', { credits: 12, reason: 'cost' }],
      ['POST', '/api/v1/admin/codes/batches/3/disable', { reason: 'leaked' }],
    ])
  })
  it('creates a catalog row with POST and updates one with PUT, never sending the id in the body', async () => {
    const calls = recordFetch({ id: 9 })
    const row = { credits: 100, bonus_credits: 10, price_fen: 990, active: true, sort_order: 1 }
    await admin.savePackage(row, 'new')
    await admin.savePackage({ ...row, id: 9 }, 'edit')
    await admin.saveTool({ tool_type: 'poem', name: 'Poem', description: '', system_prompt: 's', user_template: '{prompt}', active: true, sort_order: 2, id: 4 }, 'r')
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/admin/catalog/packages', body: { ...row, reason: 'new' } })
    expect(calls[1]).toMatchObject({ method: 'PUT', url: '/api/v1/admin/catalog/packages/9', body: { ...row, reason: 'edit' } })
    expect(calls[2].url).toBe('/api/v1/admin/catalog/tools/4')
    expect(calls[2].body).not.toHaveProperty('id')
  })
  it('filters orders and the audit log without empty fields', async () => {
    const calls = recordFetch({ items: [], total: 0, page: 1, page_size: 20 })
    await admin.orders({ status: 'PAID', method: undefined, from: '2026-12-01', to: '2026-12-02' }, 1, 20)
    expect(calls[0].url).toBe('/api/v1/admin/orders?status=PAID&from=2026-12-01&to=2026-12-02&page=1&page_size=20')
    await admin.audit({ action: 'user.adjust_credits', target_id: '7' }, 3, 20)
    expect(calls[1].url).toBe('/api/v1/admin/audit?action=user.adjust_credits&target_id=7&page=3&page_size=20')
  })
  it('previews a tool without a reason (it writes nothing)', async () => {
    const calls = recordFetch({ messages: [] })
    await admin.previewTool('sys', 'Write: {prompt}', 'autumn')
    expect(calls[0].body).toEqual({ system_prompt: 'sys', user_template: 'Write: {prompt}', prompt: 'autumn' })
  })
  it('exports a batch as the CSV text, with the token', async () => {
    const csv = 'code,credits,days,expires_at,used_by,used_at\nABCD-EFGH,100,,2026-12-31,,\n'
    const calls = recordFetch(csv, 200, 'text/csv')
    expect(await admin.exportBatch(5)).toBe(csv)
    expect(calls[0].url).toBe('/api/v1/admin/codes/batches/5/export')
    expect(csvRows(csv)).toEqual([['ABCD-EFGH', '100', '', '2026-12-31', '', '']])
  })
  it('redeems a trimmed code and turns refusals into ApiError codes', async () => {
    const calls = recordFetch({ credits_added: 100, days_added: 0, balance: 150, member_expired_at: null })
    expect((await api.redeem('  abcd-efgh ')).balance).toBe(150)
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/credit/redeem', body: { code: 'abcd-efgh' } })
    recordFetch({ detail: 'code used', code: 'CODE_USED' }, 409)
    const e = (await api.redeem('X').catch((x) => x)) as ApiError
    expect([e.status, e.code]).toEqual([409, 'CODE_USED'])
  })
})

describe('admin form rules', () => {
  it('wants a reason of 1..500 characters after trimming', () => {
    expect(reasonError('   ')).toBe('required')
    expect(reasonError(' ok ')).toBeNull()
    expect(reasonError('字'.repeat(500))).toBeNull()
    expect(reasonError('字'.repeat(501))).toBe('tooLong')
  })
  it('parses a signed non-zero credit amount', () => {
    expect(parseSignedCredits('+100')).toBe(100)
    expect(parseSignedCredits(' -20 ')).toBe(-20)
    expect(parseSignedCredits('0')).toBeNull()
    expect(parseSignedCredits('1.5')).toBeNull()
    expect(parseSignedCredits('abc')).toBeNull()
    expect(parseSignedCredits('')).toBeNull()
  })
  it('parses yuan with up to two decimals into fen, without floats', () => {
    expect(parseYuan('12')).toBe(1200)
    expect(parseYuan('12.5')).toBe(1250)
    expect(parseYuan('0.07')).toBe(7)
    expect(parseYuan('19.99')).toBe(1999)
    expect(parseYuan('1.234')).toBeNull()
    expect(parseYuan('-1')).toBeNull()
  })
  it('bounds a membership grant as the server does', () => {
    expect(membershipLength('30', 'days')).toEqual({ days: 30 })
    expect(membershipLength('3650', 'days')).toEqual({ days: 3650 })
    expect(membershipLength('3651', 'days')).toBeNull()
    expect(membershipLength('120', 'months')).toEqual({ months: 120 })
    expect(membershipLength('121', 'months')).toBeNull()
    expect(membershipLength('0', 'months')).toBeNull()
  })
  it('previews the credits a refund takes back at the order rate, rounded down', () => {
    const order = { amount_fen: 990, credits: 100, bonus_credits: 10 }
    expect(refundCredits(order, 990)).toBe(110)
    expect(refundCredits(order, 500)).toBe(55)
    expect(refundCredits(order, 1)).toBe(0)
    expect(refundAmountValid(order, 990)).toBe(true)
    expect(refundAmountValid(order, 991)).toBe(false)
    expect(refundAmountValid(order, 0)).toBe(false)
    expect(refundAmountValid(order, null)).toBe(false)
  })
  it('names exports and days and prints audit JSON', () => {
    expect(batchFileName(12, new Date('2026-12-02T20:00:00Z'))).toBe('inkstone-codes-12-2026-12-02.csv')
    expect(isoDay(new Date(2026, 0, 5))).toBe('2026-01-05')
    expect(isoDay('2026-01-05')).toBe('2026-01-05')
    expect(isoDay(null)).toBeUndefined()
    expect(auditJson({ credits: 5 })).toBe('{ "credits": 5 }')
    expect(auditJson(null)).toBe('—')
  })
})

describe('dashboard charts', () => {
  const series = [
    { date: '2026-11-03', revenue_fen: 990, paid_orders: 1, new_users: 2, generations: 5, credits_consumed: 50 },
    { date: '2026-11-04', revenue_fen: 0, paid_orders: 0, new_users: 1, generations: 0, credits_consumed: 0 },
  ]
  it('draws one value per day, oldest first, fen as yuan', () => {
    const spec = seriesSpec(series, 'Revenue', 'bar', [{ name: 'Revenue', metric: 'revenue_fen' }])
    expect(spec.days).toEqual(['11-03', '11-04'])
    const option = chartOption(spec) as { series: { data: number[]; type: string }[]; legend?: unknown }
    expect(option.series[0]).toMatchObject({ type: 'bar', data: [9.9, 0] })
    expect(option.legend).toBeUndefined()
  })
  it('keeps counts as counts and shows a legend for two lines', () => {
    const spec = seriesSpec(series, 'x', 'line', [
      { name: 'Orders', metric: 'paid_orders' },
      { name: 'Users', metric: 'new_users' },
    ])
    const option = chartOption(spec) as { series: { data: number[] }[]; legend?: { data: string[] } }
    expect(option.series.map((s) => s.data)).toEqual([[1, 0], [2, 1]])
    expect(option.legend?.data).toEqual(['Orders', 'Users'])
  })
})
