// Money is integer fen end to end (the API's rule): formatting never goes through a float
// multiplication, so ¥0.10 + ¥0.20 style errors cannot appear.

/** 990 → "¥9.90", -1234 → "-¥12.34". */
export function formatFen(fen: number): string {
  if (!Number.isSafeInteger(fen)) return '—'
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(fen)
  const yuan = Math.floor(abs / 100)
  const cents = abs % 100
  return `${sign}¥${yuan.toLocaleString('en-US')}.${String(cents).padStart(2, '0')}`
}

/** Whole yuan typed by a person → fen, or null when it is not a whole number of yuan. */
export function yuanToFen(text: string): number | null {
  const t = text.trim()
  if (!/^\d{1,7}$/.test(t)) return null
  return Number(t) * 100
}

/** Custom recharge: whole yuan, ¥1–¥50,000, 10 credits per yuan, no bonus (README). */
export const CUSTOM_MIN_YUAN = 1
export const CUSTOM_MAX_YUAN = 50000
export const CREDITS_PER_YUAN = 10

export function customCredits(yuanText: string): number | null {
  const fen = yuanToFen(yuanText)
  if (fen === null) return null
  const yuan = fen / 100
  if (yuan < CUSTOM_MIN_YUAN || yuan > CUSTOM_MAX_YUAN) return null
  return yuan * CREDITS_PER_YUAN
}

/** Signed credits for the ledger: +100, -10, 0. */
export function formatSigned(n: number): string {
  return n > 0 ? `+${n}` : String(n)
}

/** Price per month in fen, rounded to the nearest fen (25.00 / 3 → 833 → ¥8.33). */
export function perMonthFen(priceFen: number, months: number): number {
  if (months <= 0) return priceFen
  return Math.round(priceFen / months)
}

/** The platform's clock: orders and receipts from Alipay / WeChat Pay are in China time. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'

function parts(iso: string, timeZone: string): Record<string, string> | null {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return null
  const out: Record<string, string> = {}
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  })
  for (const p of fmt.formatToParts(d)) out[p.type] = p.value
  return out
}

/** "2026-11-26T08:00:00Z" → "2026-11-26 16:00" in Asia/Shanghai ("08:00" in UTC). */
export function formatDateTime(iso: string | null | undefined, timeZone = DEFAULT_TIME_ZONE): string {
  if (!iso) return '—'
  const p = parts(iso, timeZone)
  if (!p) return '—'
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`
}

/** The date only: "2026-12-26". */
export function formatDate(iso: string | null | undefined, timeZone = DEFAULT_TIME_ZONE): string {
  if (!iso) return '—'
  const p = parts(iso, timeZone)
  if (!p) return '—'
  return `${p.year}-${p.month}-${p.day}`
}

/** Whole days from `now` until `iso` (negative when past), for "expires in 3 days". */
export function daysUntil(iso: string, now: Date = new Date()): number {
  const ms = new Date(iso).getTime() - now.getTime()
  return Math.ceil(ms / 86_400_000)
}

/**
 * Membership after buying `months` more: max(now, current) + months, the day clamped to the
 * month's end (Jan 31 + 1 month = Feb 28), exactly the server's rule, computed on the UTC
 * calendar as the server does. Shown before paying; the server's answer is what counts.
 */
export function addCalendarMonths(iso: string, months: number): string {
  const d = new Date(iso)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth() + months
  const targetY = y + Math.floor(m / 12)
  const targetM = ((m % 12) + 12) % 12
  const lastDay = new Date(Date.UTC(targetY, targetM + 1, 0)).getUTCDate()
  const day = Math.min(d.getUTCDate(), lastDay)
  const out = new Date(
    Date.UTC(targetY, targetM, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()),
  )
  return out.toISOString().replace('.000Z', 'Z')
}

export function membershipAfter(current: string | null, months: number, now: Date = new Date()): string {
  const base = current && new Date(current).getTime() > now.getTime() ? current : now.toISOString()
  return addCalendarMonths(base, months)
}
