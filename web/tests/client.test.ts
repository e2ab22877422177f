import { describe, expect, it, vi } from 'vitest'
import { ApiClient, ApiError, newIdempotencyKey } from '../src/api/client'

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

describe('ApiClient', () => {
  it('sends JSON with the bearer token and returns the body', async () => {
    const fetch = vi.fn(async () => json(200, { credits: 5 }))
    const c = new ApiClient({ getToken: () => 'tok', fetch })
    expect(await c.post('/x', { a: 1 }, { 'Idempotency-Key': 'k1' })).toEqual({ credits: 5 })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/v1/x')
    const h = init.headers as Record<string, string>
    expect(h.Authorization).toBe('Bearer tok')
    expect(h['Idempotency-Key']).toBe('k1')
    expect(init.body).toBe('{"a":1}')
  })
  it('builds queries without empty values', () => {
    const c = new ApiClient({ getToken: () => null })
    expect(c.url('/t', { page: 2, type: '', x: undefined })).toBe('/api/v1/t?page=2')
  })
  it('turns error bodies into ApiError with detail, field, extras and Retry-After', async () => {
    const c = new ApiClient({
      getToken: () => null,
      fetch: async () => json(422, { detail: 'username is taken', code: 'VALIDATION_ERROR', field: 'username' }),
    })
    const e = (await c.get('/x').catch((x) => x)) as ApiError
    expect(e).toBeInstanceOf(ApiError)
    expect([e.status, e.code, e.detail, e.field]).toEqual([422, 'VALIDATION_ERROR', 'username is taken', 'username'])

    const limited = new ApiClient({
      getToken: () => null,
      fetch: async () => json(429, { detail: 'too many', code: 'RATE_LIMITED' }, { 'Retry-After': '42' }),
    })
    expect(((await limited.get('/x').catch((x) => x)) as ApiError).retryAfterS).toBe(42)

    const poor = new ApiClient({
      getToken: () => null,
      fetch: async () => json(402, { detail: 'x', code: 'INSUFFICIENT_CREDITS', required: 10, balance: 3 }),
    })
    const p = (await poor.get('/x').catch((x) => x)) as ApiError
    expect([p.num('required'), p.num('balance')]).toEqual([10, 3])
  })
  it('survives a body that is not JSON (an HTML error page) without showing it', async () => {
    const c = new ApiClient({ getToken: () => null, fetch: async () => new Response('<html>bad</html>', { status: 502 }) })
    const e = (await c.get('/x').catch((x) => x)) as ApiError
    expect([e.code, e.detail]).toEqual(['HTTP_502', ''])
  })
  it('reports a network failure as NETWORK', async () => {
    const c = new ApiClient({ getToken: () => null, fetch: async () => Promise.reject(new TypeError('Failed to fetch')) })
    expect(((await c.get('/x').catch((x) => x)) as ApiError).code).toBe('NETWORK')
  })
  it('calls onUnauthorized on a 401 only when a token was sent', async () => {
    const onUnauthorized = vi.fn()
    const fetch = async () => json(401, { detail: 'authentication required', code: 'UNAUTHORIZED' })
    let token: string | null = null
    const c = new ApiClient({ getToken: () => token, onUnauthorized, fetch })
    await c.get('/x').catch(() => {})
    expect(onUnauthorized).not.toHaveBeenCalled()
    token = 'dead'
    await c.get('/x').catch(() => {})
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
  })
  it('makes fresh idempotency keys the API accepts', () => {
    const a = newIdempotencyKey()
    expect(a).toMatch(/^web-[0-9a-f]{32}$/)
    expect(newIdempotencyKey()).not.toBe(a)
  })
})
