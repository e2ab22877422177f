import { describe, expect, it } from 'vitest'
import {
  addCalendarMonths, customCredits, formatDate, formatDateTime, formatFen, formatSigned, membershipAfter, perMonthFen, yuanToFen,
} from '../src/lib/format'

describe('money', () => {
  it('formats fen as yuan without floating point', () => {
    expect(formatFen(990)).toBe('¥9.90')
    expect(formatFen(1)).toBe('¥0.01')
    expect(formatFen(0)).toBe('¥0.00')
    expect(formatFen(5000000)).toBe('¥50,000.00')
    expect(formatFen(-1234)).toBe('-¥12.34')
    expect(formatFen(0.5)).toBe('—')
  })
  it('reads whole yuan only, and the custom recharge range', () => {
    expect(yuanToFen('12')).toBe(1200)
    expect(yuanToFen(' 7 ')).toBe(700)
    expect(yuanToFen('1.5')).toBeNull()
    expect(yuanToFen('-3')).toBeNull()
    expect(customCredits('1')).toBe(10)
    expect(customCredits('50000')).toBe(500000)
    expect(customCredits('50001')).toBeNull()
    expect(customCredits('0')).toBeNull()
    expect(customCredits('abc')).toBeNull()
  })
  it('works out the price per month and signs', () => {
    expect(perMonthFen(2500, 3)).toBe(833)
    expect(perMonthFen(8800, 12)).toBe(733)
    expect(perMonthFen(990, 1)).toBe(990)
    expect(formatSigned(100)).toBe('+100')
    expect(formatSigned(-10)).toBe('-10')
    expect(formatSigned(0)).toBe('0')
  })
})

describe('dates', () => {
  it('shows Asia/Shanghai by default and UTC on request', () => {
    expect(formatDateTime('2026-11-26T08:00:00Z')).toBe('2026-11-26 16:00')
    expect(formatDateTime('2026-11-26T08:00:00Z', 'UTC')).toBe('2026-11-26 08:00')
    // Past midnight in China is still the day before in UTC.
    expect(formatDate('2026-12-31T17:30:00Z')).toBe('2027-01-01')
    expect(formatDate('2026-12-31T17:30:00Z', 'UTC')).toBe('2026-12-31')
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a date')).toBe('—')
  })
  it('adds calendar months like the server, the day clamped to the month end', () => {
    expect(addCalendarMonths('2026-01-31T10:00:00Z', 1)).toBe('2026-02-28T10:00:00Z')
    expect(addCalendarMonths('2028-02-29T00:00:00Z', 12)).toBe('2029-02-28T00:00:00Z')
    expect(addCalendarMonths('2026-11-15T08:00:00Z', 3)).toBe('2027-02-15T08:00:00Z')
  })
  it('extends from the current expiry while it is in the future, else from now', () => {
    const now = new Date('2026-06-10T00:00:00Z')
    expect(membershipAfter('2026-07-01T00:00:00Z', 1, now)).toBe('2026-08-01T00:00:00Z')
    expect(membershipAfter('2026-05-01T00:00:00Z', 1, now)).toBe('2026-07-10T00:00:00Z')
    expect(membershipAfter(null, 12, now)).toBe('2027-06-10T00:00:00Z')
  })
})
