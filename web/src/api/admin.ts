// The admin API (docs/admin-api.md): every route under /api/v1/admin/, every write with a
// required `reason`. Only the admin pages import this module, so it rides in their chunk.
import { client } from './index'
import type { LedgerEntry, Page } from './types'

export interface Windowed {
  today: number
  d7: number
  d30: number
}
export interface SeriesDay {
  date: string
  revenue_fen: number
  paid_orders: number
  new_users: number
  generations: number
  credits_consumed: number
}
export interface Dashboard {
  generated_at: string
  revenue: {
    today_fen: number
    d7_fen: number
    d30_fen: number
    by_provider: { provider: string; today_fen: number; d7_fen: number; d30_fen: number }[]
  }
  paid_orders: Windowed
  new_users: Windowed
  active_users: Windowed
  generations: {
    by_status: { status: string; count: number }[]
    by_model: { model: string; count: number; credits: number }[]
  }
  refunds: { count: number; amount_fen: number; credits: number }
  credits: {
    issued: { recharge: number; bonus: number; admin: number; redeem: number; refund: number }
    consumed: number
  }
  membership_sales: { plan: string; count: number; amount_fen: number }[]
  notify_failures: { d1: number; d7: number }
  series: SeriesDay[]
}

export interface AdminUser {
  id: number
  username: string
  email: string | null
  role: string
  credits: number
  is_member: boolean
  member_expired_at: string | null
  disabled: boolean
  created_at: string
  disabled_at?: string | null
}
export interface AdminUserOrder {
  order_no: string
  kind: 'recharge' | 'membership'
  status: string
  amount_fen: number
  payment_method: string
  created_at: string
  paid_at: string | null
}
export interface AdminGeneration {
  id: number
  model: string
  status: string
  credits_charged: number
  created_at: string
}
export interface MembershipGrant {
  id: number
  source: string
  months: number
  days: number
  expired_before: string | null
  expired_after: string
  related_order_no: string | null
  created_at: string
}
export interface UserDetail {
  user: AdminUser
  ledger: LedgerEntry[]
  orders: AdminUserOrder[]
  generations: AdminGeneration[]
  membership_grants: MembershipGrant[]
}

export interface AdminOrder {
  order_no: string
  kind: 'recharge' | 'membership'
  user_id: number
  username: string
  status: string
  amount_fen: number
  credits: number | null
  bonus_credits: number | null
  plan: string | null
  months: number | null
  payment_method: string
  created_at: string
  paid_at: string | null
  provider_trade_no: string | null
  refund_status: string | null
  paid_provider?: string | null
  expires_at?: string
}
export interface Refund {
  refund_no: string
  amount_fen: number
  credits: number
  status: string
  provider_refund_id: string | null
  failure: string | null
  reason: string
  created_at: string
  succeeded_at: string | null
}
export interface NotifyRow {
  provider: string
  kind: string
  outcome: string
  http_status: number
  detail: string
  received_at: string
}
export interface OrderDetail {
  order: AdminOrder
  refund: Refund | null
  ledger: LedgerEntry[]
  notifies: NotifyRow[]
  membership_grants: MembershipGrant[]
}
export interface OrderFilters {
  order_no?: string
  user_id?: string
  kind?: string
  status?: string
  method?: string
  from?: string
  to?: string
}

export interface AdminPackage {
  id: number
  credits: number
  bonus_credits: number
  price_fen: number
  active: boolean
  sort_order: number
}
export interface AdminPlan {
  id: number
  plan: string
  name: string
  months: number
  price_fen: number
  active: boolean
  sort_order: number
}
export interface AdminModelPrice {
  model: string
  kind: 'text' | 'image'
  credits: number
  source: 'table' | 'config'
}
export interface AdminTool {
  id: number
  tool_type: string
  name: string
  description: string
  system_prompt: string
  user_template: string
  active: boolean
  sort_order: number
}
export interface PromptMessage {
  role: 'system' | 'user'
  content: string
}

export interface CodeBatch {
  id: number
  note: string
  credits: number | null
  days: number | null
  code_count: number
  used_count: number
  expires_at: string
  disabled: boolean
  created_by: string
  created_at: string
}
export interface CodeRow {
  code: string
  used_by: number | null
  used_at: string | null
}
export interface NewBatch {
  count: number
  credits?: number
  days?: number
  expires_at: string
  note: string
}

export interface AuditRow {
  id: number
  actor: string
  action: string
  target_type: string
  target_id: string
  before: unknown
  after: unknown
  reason: string
  request_id: string
  created_at: string
}
export interface AuditFilters {
  action?: string
  actor?: string
  target_type?: string
  target_id?: string
}

type Query = Record<string, string | number | undefined | null>
const put = <T>(path: string, body: unknown) => client.request<T>(path, { method: 'PUT', body })
const seg = encodeURIComponent

export const admin = {
  dashboard: () => client.get<Dashboard>('/admin/dashboard'),

  users: (q: string, page: number, pageSize: number) =>
    client.get<Page<AdminUser>>('/admin/users', { q: q.trim(), page, page_size: pageSize }),
  user: (id: number) => client.get<UserDetail>(`/admin/users/${id}`),
  adjustCredits: (id: number, amount: number, reason: string) =>
    client.post<{ balance: number; transaction: LedgerEntry }>(`/admin/users/${id}/credits`, { amount, reason }),
  grantMembership: (id: number, length: { days: number } | { months: number }, reason: string) =>
    client.post<{ member_expired_at: string; grant: MembershipGrant }>(`/admin/users/${id}/membership`, { ...length, reason }),
  setDisabled: (id: number, disabled: boolean, reason: string) =>
    client.post<{ user: AdminUser }>(`/admin/users/${id}/${disabled ? 'disable' : 'enable'}`, { reason }),

  orders: (f: OrderFilters, page: number, pageSize: number) =>
    client.get<Page<AdminOrder>>('/admin/orders', { ...(f as Query), page, page_size: pageSize }),
  order: (orderNo: string) => client.get<OrderDetail>(`/admin/orders/${seg(orderNo)}`),
  reconcile: (orderNo: string, reason: string) =>
    client.post<{ order: AdminOrder; outcome: string }>(`/admin/orders/${seg(orderNo)}/reconcile`, { reason }),
  refund: (orderNo: string, reason: string, amountFen?: number) =>
    client.post<{ refund: Refund; balance: number }>(
      `/admin/orders/${seg(orderNo)}/refund`,
      amountFen === undefined ? { reason } : { reason, amount_fen: amountFen },
    ),

  packages: () => client.get<{ items: AdminPackage[] }>('/admin/catalog/packages'),
  savePackage: (row: Omit<AdminPackage, 'id'> & { id?: number }, reason: string) => {
    const { id, ...fields } = row
    return id === undefined
      ? client.post<AdminPackage>('/admin/catalog/packages', { ...fields, reason })
      : put<AdminPackage>(`/admin/catalog/packages/${id}`, { ...fields, reason })
  },
  plans: () => client.get<{ items: AdminPlan[] }>('/admin/catalog/plans'),
  savePlan: (row: Omit<AdminPlan, 'id'> & { id?: number }, reason: string) => {
    const { id, ...fields } = row
    return id === undefined
      ? client.post<AdminPlan>('/admin/catalog/plans', { ...fields, reason })
      : put<AdminPlan>(`/admin/catalog/plans/${id}`, { ...fields, reason })
  },
  models: () => client.get<{ items: AdminModelPrice[] }>('/admin/catalog/models'),
  saveModel: (model: string, credits: number, reason: string) =>
    put<AdminModelPrice>(`/admin/catalog/models/${seg(model)}`, { credits, reason }),
  tools: () => client.get<{ items: AdminTool[] }>('/admin/catalog/tools'),
  saveTool: (row: Omit<AdminTool, 'id'> & { id?: number }, reason: string) => {
    const { id, ...fields } = row
    return id === undefined
      ? client.post<AdminTool>('/admin/catalog/tools', { ...fields, reason })
      : put<AdminTool>(`/admin/catalog/tools/${id}`, { ...fields, reason })
  },
  previewTool: (systemPrompt: string, userTemplate: string, prompt: string) =>
    client.post<{ messages: PromptMessage[] }>('/admin/catalog/tools/preview', {
      system_prompt: systemPrompt,
      user_template: userTemplate,
      prompt,
    }),

  createBatch: (b: NewBatch, reason: string) =>
    client.post<{ batch: CodeBatch; codes: string[] }>('/admin/codes/batches', { ...b, reason }),
  batches: (page: number, pageSize: number) =>
    client.get<Page<CodeBatch>>('/admin/codes/batches', { page, page_size: pageSize }),
  batch: (id: number, page: number, pageSize: number) =>
    client.get<{ batch: CodeBatch; codes: CodeRow[] } & Partial<Page<CodeRow>>>(`/admin/codes/batches/${id}`, {
      page,
      page_size: pageSize,
    }),
  disableBatch: (id: number, reason: string) =>
    client.post<CodeBatch | { batch: CodeBatch }>(`/admin/codes/batches/${id}/disable`, { reason }),
  /** The CSV as the server wrote it (the request needs the bearer token, so no plain link). */
  exportBatch: async (id: number): Promise<string> => {
    const r = await client.raw(`/admin/codes/batches/${id}/export`, { headers: { Accept: 'text/csv' } })
    return r.text()
  },

  audit: (f: AuditFilters, page: number, pageSize: number) =>
    client.get<Page<AuditRow>>('/admin/audit', { ...(f as Query), page, page_size: pageSize }),
}
