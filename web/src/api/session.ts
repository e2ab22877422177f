// Where the access token lives: in memory, mirrored to sessionStorage so a reload of the tab
// keeps the person signed in. Not localStorage: a token there outlives the browser session
// and is shared with every tab and every later visitor of the machine. Any script running in
// the page could read either, which is what the strict Content-Security-Policy (no inline or
// third-party script) is there to prevent.

const KEY = 'inkstone.token'

function storage(): Storage | null {
  try {
    return typeof sessionStorage !== 'undefined' ? sessionStorage : null
  } catch {
    return null  // storage disabled: memory only
  }
}

let token: string | null = storage()?.getItem(KEY) ?? null

export function getToken(): string | null {
  return token
}

export function setToken(value: string | null): void {
  token = value
  const s = storage()
  if (!s) return
  if (value) s.setItem(KEY, value)
  else s.removeItem(KEY)
}

/** Re-reads storage (tests). */
export function reloadToken(): void {
  token = storage()?.getItem(KEY) ?? null
}
