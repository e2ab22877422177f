import { ApiClient, newIdempotencyKey } from './client'
import { getToken } from './session'
import type {
  AuthReply, Balance, CreditPackage, Generation, ImageTask, LedgerEntry, LedgerType,
  MembershipPlan, ModelInfo, Order, Page, RedeemReply, User, WritingTool,
} from './types'

let unauthorized: () => void = () => {}
/** Set by the auth store: what a 401 on a signed-in request does (sign out, go to login). */
export function onUnauthorized(f: () => void): void {
  unauthorized = f
}

export const client = new ApiClient({ getToken, onUnauthorized: () => unauthorized() })

export type OrderKind = 'recharge' | 'membership'
export type PayMethod = 'alipay' | 'wechat'

export const api = {
  register: (username: string, password: string, email?: string) =>
    client.post<AuthReply>('/auth/register', email ? { username, password, email } : { username, password }),
  login: (username: string, password: string) => client.post<AuthReply>('/auth/login', { username, password }),
  logout: () => client.request<void>('/auth/logout', { method: 'POST' }),
  me: () => client.get<User>('/users/me'),
  balance: () => client.get<Balance>('/credit/balance'),
  prices: () => client.get<{ items: CreditPackage[] }>('/credit/prices'),
  plans: () => client.get<{ items: MembershipPlan[] }>('/credit/membership/prices'),
  transactions: (page: number, pageSize: number, type?: LedgerType | '') =>
    client.get<Page<LedgerEntry>>('/credit/transactions', { page, page_size: pageSize, type }),
  recharge: (body: { price_id: number } | { amount_fen: number }, method: PayMethod, key: string) =>
    client.post<Order>('/credit/recharge', { ...body, payment_method: method }, { 'Idempotency-Key': key }),
  buyMembership: (plan: string, method: PayMethod, key: string) =>
    client.post<Order>('/credit/membership', { plan, payment_method: method }, { 'Idempotency-Key': key }),
  orders: (kind: OrderKind, page: number, pageSize: number) =>
    client.get<Page<Order>>(`/credit/${kind}/orders`, { page, page_size: pageSize }),
  order: (kind: OrderKind, orderNo: string) =>
    client.get<Order>(`/credit/${kind}/orders/${encodeURIComponent(orderNo)}`),
  redeem: (code: string) => client.post<RedeemReply>('/credit/redeem', { code: code.trim() }),
  mockPay: (orderNo: string) =>
    client.post<{ status: string; settled_now: boolean }>('/payment/mock/pay', { order_no: orderNo }),
  models: () => client.get<{ items: ModelInfo[] }>('/ai/models'),
  tools: () => client.get<{ items: WritingTool[] }>('/writing/tools'),
  history: (page: number, pageSize: number) =>
    client.get<Page<Generation>>('/writing/history', { page, page_size: pageSize }),
  generateImage: (prompt: string, size: string, n: number) =>
    client.post<ImageTask>('/image/generate', { prompt, size, n }),
  imageTask: (taskId: string) => client.get<ImageTask>(`/image/tasks/${encodeURIComponent(taskId)}`),
}

export function orderKindOf(orderNo: string): OrderKind {
  return orderNo.startsWith('M') ? 'membership' : 'recharge'
}

export { newIdempotencyKey }
