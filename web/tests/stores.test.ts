import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { reloadToken } from '../src/api/session'
import { client } from '../src/api'
import { useAuth } from '../src/stores/auth'
import { memberState } from '../src/stores/wallet'
import zh from '../src/i18n/zh-CN'
import en from '../src/i18n/en'
import { humanError } from '../src/lib/errors'
import { ApiError } from '../src/api/client'
import { recallGeneration, rememberGeneration } from '../src/lib/resume'

const reply = { user: { id: 1, username: 'alice' }, access_token: 'tok-1', token_type: 'bearer', expires_in: 60 }

describe('auth store', () => {
  beforeEach(() => {
    sessionStorage.clear()
    localStorage.clear()
    reloadToken()
    setActivePinia(createPinia())
    vi.restoreAllMocks()
  })
  it('keeps the token in memory and sessionStorage, never localStorage', async () => {
    vi.spyOn(client, 'post').mockResolvedValue(reply)
    const auth = useAuth()
    await auth.login('alice', 'pw')
    expect(auth.token).toBe('tok-1')
    expect(auth.signedIn).toBe(true)
    expect(sessionStorage.getItem('inkstone.token')).toBe('tok-1')
    expect(Object.keys(localStorage)).not.toContain('inkstone.token')
  })
  it('forgets the token on logout even when the API call fails', async () => {
    vi.spyOn(client, 'post').mockResolvedValue(reply)
    vi.spyOn(client, 'request').mockRejectedValue(new ApiError(0, 'NETWORK', ''))
    const auth = useAuth()
    await auth.login('alice', 'pw')
    await expect(auth.logout()).rejects.toBeInstanceOf(ApiError)
    expect(auth.token).toBeNull()
    expect(sessionStorage.getItem('inkstone.token')).toBeNull()
  })
})

describe('auth store and the remembered generation', () => {
  beforeEach(() => {
    sessionStorage.clear()
    setActivePinia(createPinia())
  })
  it('forgets the running generation with the token, so the next account does not reattach to it', () => {
    rememberGeneration({ id: 5, key: '', body: null, at: 0 })
    useAuth().forget()
    expect(recallGeneration()).toBeNull()
  })
})

describe('membership state', () => {
  const now = new Date('2026-06-10T00:00:00Z')
  it('is none, active, expiring (7 days) or expired', () => {
    expect(memberState(null, now)).toBe('none')
    expect(memberState({ is_member: false, member_expired_at: null }, now)).toBe('none')
    expect(memberState({ is_member: true, member_expired_at: '2026-07-10T00:00:00Z' }, now)).toBe('active')
    expect(memberState({ is_member: true, member_expired_at: '2026-06-16T00:00:00Z' }, now)).toBe('expiring')
    expect(memberState({ is_member: false, member_expired_at: '2026-06-01T00:00:00Z' }, now)).toBe('expired')
  })
})

describe('messages', () => {
  function keys(o: object, prefix = ''): string[] {
    return Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]))
  }
  it('has every zh-CN message in English too, and no empty one', () => {
    expect(keys(en).sort()).toEqual(keys(zh).sort())
    for (const k of keys(en)) expect(k.split('.').reduce((o: any, p) => o[p], en)).not.toBe('')
  })
  it('shows the API detail in words, never JSON', () => {
    expect(humanError(new ApiError(404, 'NOT_FOUND', 'order not found'))).toBe('Order not found')
    expect(humanError(new ApiError(502, 'HTTP_502', ''))).toBe('出错了（HTTP_502）')
    expect(humanError(new ApiError(429, 'RATE_LIMITED', 'x', {}, 30))).toContain('30')
  })
})
