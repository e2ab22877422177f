// The one way the app talks to /api/v1: JSON in and out, the bearer token, and every error
// turned into an ApiError carrying the API's `detail` (words for people), `code`, `field`
// and the extras (`required`, `balance`, `refunded`), plus Retry-After.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly body: Record<string, unknown> = {},
    readonly retryAfterS: number | null = null,
  ) {
    super(detail)
  }
  get field(): string | null {
    return typeof this.body.field === 'string' ? this.body.field : null
  }
  num(key: string): number | null {
    const v = this.body[key]
    return typeof v === 'number' ? v : null
  }
}

export interface ClientOptions {
  base?: string
  getToken: () => string | null
  /** Called on a 401 for a request that carried a token (expired or revoked). */
  onUnauthorized?: () => void
  fetch?: typeof fetch
}

export interface RequestOptions {
  method?: string
  body?: unknown
  query?: Record<string, string | number | undefined | null>
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** A response that is not JSON (nginx outside the app, a proxy page) still becomes words. */
async function toApiError(r: Response): Promise<ApiError> {
  const retry = r.headers.get('Retry-After')
  const retryAfterS = retry !== null && /^\d+$/.test(retry) ? Number(retry) : null
  let body: Record<string, unknown> = {}
  try {
    const text = await r.text()
    const parsed: unknown = text ? JSON.parse(text) : {}
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
  } catch {
    body = {}
  }
  const detail = typeof body.detail === 'string' && body.detail ? body.detail : ''
  const code = typeof body.code === 'string' && body.code ? body.code : `HTTP_${r.status}`
  return new ApiError(r.status, code, detail, body, retryAfterS)
}

export class ApiClient {
  private readonly base: string
  private readonly fetchImpl: typeof fetch
  constructor(private readonly o: ClientOptions) {
    this.base = o.base ?? '/api/v1'
    this.fetchImpl = o.fetch ?? ((...a) => fetch(...a))
  }

  url(path: string, query?: RequestOptions['query']): string {
    let u = this.base + path
    if (query) {
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
      const s = q.toString()
      if (s) u += '?' + s
    }
    return u
  }

  /** The raw response of a successful request (streams); errors are thrown as ApiError. */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers }
    const token = this.o.getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    let body: string | undefined
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    let r: Response
    try {
      r = await this.fetchImpl(this.url(path, opts.query), {
        method: opts.method ?? (body !== undefined ? 'POST' : 'GET'),
        headers,
        body,
        signal: opts.signal,
        credentials: 'omit',
        cache: 'no-store',
      })
    } catch (err) {
      if (opts.signal?.aborted) throw err
      throw new ApiError(0, 'NETWORK', '')
    }
    if (!r.ok) {
      const e = await toApiError(r)
      if (r.status === 401 && token && this.o.onUnauthorized) this.o.onUnauthorized()
      throw e
    }
    return r
  }

  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const r = await this.raw(path, opts)
    if (r.status === 204) return undefined as T
    const text = await r.text()
    return (text ? JSON.parse(text) : undefined) as T
  }

  get<T>(path: string, query?: RequestOptions['query'], signal?: AbortSignal): Promise<T> {
    return this.request<T>(path, { query, signal })
  }
  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>(path, { method: 'POST', body, headers })
  }
}

/** A fresh Idempotency-Key (1–128 printable ASCII): one per order the person means to make. */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  return 'web-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
