// The writing page's running generation, remembered in sessionStorage so that a reload of the
// tab (or coming back to the page) reattaches to it instead of losing it: the generation runs
// on without a reader (README, "Who pays"). sessionStorage, like the token: this tab only.
import { ApiError } from '../api/client'
import type { GenerateBody, GenerationDetail } from '../api/types'

const KEY = 'inkstone.generation'

/**
 * Before `meta` arrived only the request is known (its Idempotency-Key and body: sending them
 * again is the same generation); after it, the generation id. The last delta id is not kept:
 * after a reload the page shows the stored text of GET /writing/generations/{id}, and the
 * resume point that matches that text is its `deltas`, not whatever the old page had shown.
 */
export interface Remembered {
  id: number | null
  key: string
  body: GenerateBody | null
  /** Date.now() when the request was sent. */
  at: number
}

/** A request whose id never arrived is replayed only this soon after it was sent: later the
 * replay could outlive the server's memory of the key (24 h) and start a new generation. */
export const PENDING_REPLAY_MS = 10 * 60 * 1000

function storage(): Storage | null {
  try {
    return typeof sessionStorage !== 'undefined' ? sessionStorage : null
  } catch {
    return null
  }
}

export function rememberGeneration(r: Remembered): void {
  try {
    storage()?.setItem(KEY, JSON.stringify(r))
  } catch {
    // Storage full or refused: a reload then just does not reattach.
  }
}

export function forgetGeneration(): void {
  storage()?.removeItem(KEY)
}

function isBody(v: unknown): v is GenerateBody {
  if (!v || typeof v !== 'object') return false
  const b = v as Record<string, unknown>
  return typeof b.tool_type === 'string' && typeof b.prompt === 'string' && typeof b.model === 'string' && b.stream === true
}

export function recallGeneration(): Remembered | null {
  const text = storage()?.getItem(KEY)
  if (!text) return null
  try {
    const v = JSON.parse(text) as Record<string, unknown>
    const id = typeof v.id === 'number' && Number.isInteger(v.id) && v.id > 0 ? v.id : null
    const body = isBody(v.body) ? v.body : null
    const key = typeof v.key === 'string' ? v.key : ''
    const at = typeof v.at === 'number' ? v.at : 0
    if (id === null && (body === null || key === '')) return null
    return { id, key, body, at }
  } catch {
    return null
  }
}

export type ResumePlan =
  | { kind: 'none' }
  /** Still running: show `detail.content`, then follow the stream after `detail.deltas`. */
  | { kind: 'follow'; detail: GenerationDetail }
  /** Ended while nobody read it: show its final text and state. */
  | { kind: 'ended'; detail: GenerationDetail }
  /** Sent, but its id never came: the same request again (a replay) reads it from the start. */
  | { kind: 'replay'; body: GenerateBody; key: string }

/**
 * What the writing page does on load with what was remembered. A generation that is not this
 * user's (404: another account signed in in this tab) or a request too old to replay is
 * forgotten; a network failure is thrown and the memory kept, for the next load.
 */
export async function planResume(
  r: Remembered | null,
  get: (id: number) => Promise<GenerationDetail>,
  now = Date.now(),
): Promise<ResumePlan> {
  if (!r) return { kind: 'none' }
  if (r.id === null) {
    if (!r.body || !r.key || now - r.at > PENDING_REPLAY_MS || now < r.at) {
      forgetGeneration()
      return { kind: 'none' }
    }
    return { kind: 'replay', body: r.body, key: r.key }
  }
  let detail: GenerationDetail
  try {
    detail = await get(r.id)
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      forgetGeneration()
      return { kind: 'none' }
    }
    throw e
  }
  return detail.status === 'RUNNING' ? { kind: 'follow', detail } : { kind: 'ended', detail }
}
