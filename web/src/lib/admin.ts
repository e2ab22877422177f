// The admin pages' rules that are worth testing on their own: what a reason, an amount or a
// membership length must be before a request is sent (the server checks the same and has the
// last word), the refund's credits preview, and file names of exports.
import type { AdminOrder } from '../api/admin'

export const REASON_MAX = 500

/** The server's rule for every admin write: 1..500 characters after trimming. */
export function reasonError(reason: string): 'required' | 'tooLong' | null {
  const n = [...reason.trim()].length
  if (n === 0) return 'required'
  if (n > REASON_MAX) return 'tooLong'
  return null
}

/** "+100", "-20", "35" → a signed non-zero whole number of credits; null otherwise. */
export function parseSignedCredits(text: string): number | null {
  const t = text.trim().replace(/^\+/, '')
  if (!/^-?\d{1,9}$/.test(t)) return null
  const n = Number(t)
  return n === 0 ? null : n
}

/** Yuan typed by a person, up to two decimals ("12", "12.5", "0.01") → fen; null otherwise. */
export function parseYuan(text: string): number | null {
  const m = /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(text.trim())
  if (!m) return null
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
}

export type LengthUnit = 'days' | 'months'
export const LENGTH_MAX: Record<LengthUnit, number> = { days: 3650, months: 120 }

/** A membership grant's length: {days: N} or {months: N} within the server's bounds. */
export function membershipLength(text: string, unit: LengthUnit): { days: number } | { months: number } | null {
  const t = text.trim()
  if (!/^\d{1,5}$/.test(t)) return null
  const n = Number(t)
  if (n < 1 || n > LENGTH_MAX[unit]) return null
  return unit === 'days' ? { days: n } : { months: n }
}

/**
 * The credits a refund of `amountFen` takes back from a recharge order, as the server computes
 * them: all of credits + bonus for the whole amount, else the same rate rounded down.
 */
export function refundCredits(order: Pick<AdminOrder, 'amount_fen' | 'credits' | 'bonus_credits'>, amountFen: number): number {
  const total = (order.credits ?? 0) + (order.bonus_credits ?? 0)
  if (order.amount_fen <= 0 || amountFen >= order.amount_fen) return total
  return Math.floor((amountFen * total) / order.amount_fen)
}

/** A partial refund's amount must be more than 0 and at most the order's amount. */
export function refundAmountValid(order: Pick<AdminOrder, 'amount_fen'>, amountFen: number | null): boolean {
  return amountFen !== null && amountFen > 0 && amountFen <= order.amount_fen
}

/** The file name of a batch's CSV export: "inkstone-codes-12-2026-12-02.csv". */
export function batchFileName(batchId: number, now: Date = new Date()): string {
  return `inkstone-codes-${batchId}-${now.toISOString().slice(0, 10)}.csv`
}

/** Rows of a CSV export, header excluded (the export ends every row with a line break). */
export function csvRows(csv: string): string[][] {
  const lines = csv.split(/\r?\n/).filter((l) => l.length > 0)
  return lines.slice(1).map((l) => l.split(','))
}

/** Before/after of an audit row as text for people: compact JSON, "—" for nothing. */
export function auditJson(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value === 'string') return value
  return JSON.stringify(value, null, 1).replace(/\n\s*/g, ' ')
}

/** A YYYY-MM-DD date for the API from a date picker's value. */
export function isoDay(d: Date | string | null | undefined): string | undefined {
  if (!d) return undefined
  if (typeof d === 'string') return /^\d{4}-\d{2}-\d{2}$/.test(d) ? d : undefined
  const y = d.getFullYear()
  const m = String(d.getMonth() + 1).padStart(2, '0')
  const day = String(d.getDate()).padStart(2, '0')
  return `${y}-${m}-${day}`
}
