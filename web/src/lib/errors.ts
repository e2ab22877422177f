import { ElMessage } from 'element-plus'
import { ApiError } from '../api/client'
import { i18n } from '../i18n'

type T = (key: string, values?: Record<string, unknown>) => string

/**
 * Words for people from an API error: the codes that mean the same whatever the request
 * (network, overload, rate limits) in the page's language; otherwise the API's own `detail`.
 * Never the raw JSON.
 */
export function humanError(e: unknown, t: T = i18n.global.t as unknown as T): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'NETWORK':
      case 'UNAVAILABLE':
      case 'UPSTREAM_ERROR':
      case 'UPSTREAM_BUSY':
      case 'UPSTREAM_TIMEOUT':
      case 'CONTENT_REJECTED':
        return t(`errors.${e.code}`)
      case 'RATE_LIMITED':
        return t('errors.RATE_LIMITED', { s: e.retryAfterS ?? 60 })
      case 'UNAUTHORIZED':
        if (!e.detail) return t('errors.UNAUTHORIZED')
        break
      default:
        break
    }
    if (e.detail) return e.detail.charAt(0).toUpperCase() + e.detail.slice(1)
    return t('errors.unknown', { code: e.code })
  }
  if (e instanceof Error && e.message) return t('errors.generic', { detail: e.message })
  return t('errors.unknown', { code: '?' })
}

/** An error nobody on the page expected: a toast. (The e2e tests fail on any such toast.) */
export function toastError(e: unknown): void {
  ElMessage({ type: 'error', message: humanError(e), grouping: true, showClose: true })
}
