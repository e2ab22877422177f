export interface User {
  id: number
  username: string
  email: string | null
  role: string
  credits: number
  is_member: boolean
  member_expired_at: string | null
  created_at: string
}
export interface AuthReply {
  user: User
  access_token: string
  token_type: string
  expires_in: number
}
export interface Balance {
  credits: number
  is_member: boolean
  member_expired_at: string | null
  cost_per_generation: number
}
export interface Page<T> {
  items: T[]
  total: number
  page: number
  page_size: number
}
export interface CreditPackage {
  id: number
  credits: number
  bonus_credits: number
  price_fen: number
}
export interface MembershipPlan {
  id: number
  plan: string
  name: string
  months: number
  price_fen: number
}
export interface PaymentInfo {
  provider: string
  mode: 'mock' | 'live'
  method?: string
  pay_url?: string
  code_url?: string | null
  order_no: string
  amount_fen: number
  amount: string
}
export type OrderStatus = 'PENDING' | 'PAID' | 'EXPIRED'
export interface Order {
  order_no: string
  price_id: number | null
  credits?: number
  bonus_credits?: number
  plan?: string
  months?: number
  member_until?: string | null
  amount_fen: number
  payment_method: 'alipay' | 'wechat'
  status: OrderStatus
  created_at: string
  expires_at: string
  paid_at: string | null
  payment: PaymentInfo | null
}
export type LedgerType = 'RECHARGE' | 'BONUS' | 'CONSUME' | 'REFUND' | 'ADMIN_ADJUST' | 'REDEEM' | 'ORDER_REFUND'
export interface LedgerEntry {
  id: number
  type: LedgerType
  amount: number
  balance_after: number
  description: string
  related_order_id: string | null
  related_generation_id: number | null
  created_at: string
}
export interface ModelInfo {
  provider: string
  model: string
  kind: 'text' | 'vision' | 'image'
  credits: number
}
export interface WritingTool {
  tool_type: string
  name: string
  description: string
}
export type GenerationStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED'
export type EndReason = 'completed' | 'upstream_error' | 'task_failed' | 'cancelled' | 'worker_lost'
export interface Generation {
  id: number
  kind: 'text' | 'vision' | 'image'
  tool_type: string | null
  model: string
  stream: boolean
  status: GenerationStatus | string
  end_reason: EndReason | null
  task_id: string | null
  prompt: string
  content: string
  images: string[]
  credits_charged: number
  refunded: boolean
  finish_reason: string | null
  usage: { input_tokens: number; output_tokens: number }
  created_at: string
  finished_at: string | null
}
/** GET /writing/generations/{id}: a history item plus how far it got. */
export interface GenerationDetail extends Generation {
  /** Deltas stored so far: `content` is exactly these, the resume point of a reattach. */
  deltas: number
  cancel_requested: boolean
  balance: number
}
/** What POST /writing/generate streams with: remembered, so a retry is the same request. */
export interface GenerateBody {
  tool_type: string
  prompt: string
  model: string
  stream: true
}
export interface ImageTask {
  task_id: string
  status: string
  images: { url: string }[]
  credits_charged: number
  refunded: boolean
  balance?: number
}
/** POST /credit/redeem: what the code gave (credits or membership days) and the new state. */
export interface RedeemReply {
  credits_added: number
  days_added: number
  balance: number
  member_expired_at: string | null
}
