// A streamed text generation as the writing page sees it (README, "Generation (Qwen)"): a
// generation outlives its reader, so reading it and stopping it are separate things. The
// stream is POST /writing/generate with an Idempotency-Key (a retry with the same key and body
// is the same generation, never a second charge), and once its id is known (`meta`, sent with
// the first delta) GET /writing/generations/{id}/stream with Last-Event-ID; Stop is
// POST /writing/generations/{id}/cancel.
import { ApiClient, ApiError } from './client'
import { SseParser, readEventStream, streamWithReconnect, type SseEvent } from './sse'
import type { GenerateBody, GenerationDetail } from './types'

export type EventData = Record<string, unknown>

/** The stream of a new generation; a second call with the same key and body is a replay of it. */
export function openGenerate(c: ApiClient, body: GenerateBody, key: string, signal?: AbortSignal): Promise<Response> {
  return c.raw('/writing/generate', {
    method: 'POST',
    body,
    headers: { Accept: 'text/event-stream', 'Idempotency-Key': key },
    signal,
  })
}

/** The stream of generation `id` from the delta after `after` (0: from the first). */
export function openReattach(c: ApiClient, id: number, after: number, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' }
  if (after > 0) headers['Last-Event-ID'] = String(after)
  return c.raw(`/writing/generations/${id}/stream`, { headers, signal })
}

export function getGeneration(c: ApiClient, id: number): Promise<GenerationDetail> {
  return c.get<GenerationDetail>(`/writing/generations/${id}`)
}

/**
 * Asks the server to stop generation `id`: 'requested' (the stream then ends by itself, with
 * `done` `finish_reason: "cancelled"`, or before any delta with a refunded 409), or 'ended'
 * when it had already ended (409). Anything else is thrown.
 */
export async function cancelGeneration(c: ApiClient, id: number): Promise<'requested' | 'ended'> {
  try {
    await c.request(`/writing/generations/${id}/cancel`, { method: 'POST' })
    return 'requested'
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) return 'ended'
    throw e
  }
}

/**
 * The id of the generation started with `key` and `body`, before its own stream has said it
 * (meta comes with the first delta): the same request again is a replay, whose meta comes at
 * once. Only meta is read; leaving the replay changes nothing (a reader that goes away does not
 * cancel). When the first request had not reached the server yet, this one starts the
 * generation and the first becomes the replay: still one generation, one charge.
 */
export async function findGenerationId(c: ApiClient, body: GenerateBody, key: string): Promise<number> {
  const r = await openGenerate(c, body, key)
  if (!r.body) throw new Error('no response body')
  let id: number | null = null
  await readEventStream(r.body, new SseParser(), (e) => {
    if (e.event !== 'meta') return false
    const data = parse(e)
    if (typeof data.generation_id === 'number') id = data.generation_id
    return true
  })
  if (id === null) throw new Error('the replay carried no generation id')
  return id
}

export interface FollowOptions {
  client: ApiClient
  /** The generation, when known (a reattach); null for a new one, which `body` and `key` start. */
  id: number | null
  /** The last delta already shown (0: none): the reattach starts after it. */
  after?: number
  body?: GenerateBody
  key?: string
  onMeta?: (data: EventData) => void
  /** Each delta once, in order, with its number. */
  onDelta: (text: string, seq: number) => void
  /** The final event: `done` or `error`. */
  onEnd: (event: 'done' | 'error', data: EventData) => void
  signal?: AbortSignal
  maxReconnects?: number
  sleep?: (ms: number) => Promise<void>
}

function parse(e: SseEvent): EventData {
  try {
    const v: unknown = JSON.parse(e.data)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as EventData) : {}
  } catch {
    return {}
  }
}

/**
 * Reads a generation to its end. A connection that breaks off is reopened, never re-POSTed as
 * a new request: the reattach URL with Last-Event-ID once the id is known, else the same
 * POST with the same Idempotency-Key (a replay). A delta already shown (a replay starts from
 * the first) is skipped, so the text never has a gap or a duplicate. Throws the first POST's
 * HTTP error (402, 429, a refunded 409 after an early Stop ...) as ApiError, StreamInterrupted
 * when reconnecting gave up, and the abort of `signal` (which leaves the generation running).
 */
export async function followGeneration(o: FollowOptions): Promise<{ id: number | null; last: number }> {
  let id = o.id
  let last = o.after ?? 0
  if (id === null && (!o.body || !o.key)) throw new Error('followGeneration: a new generation needs body and key')
  await streamWithReconnect({
    open: () => (id !== null ? openReattach(o.client, id, last, o.signal) : openGenerate(o.client, o.body!, o.key!, o.signal)),
    onEvent: (e) => {
      const data = parse(e)
      if (e.event === 'meta') {
        if (typeof data.generation_id === 'number') id = data.generation_id
        o.onMeta?.(data)
      } else if (e.event === 'delta') {
        const seq = /^\d+$/.test(e.lastEventId) ? Number(e.lastEventId) : last + 1
        if (seq <= last) return
        last = seq
        o.onDelta(typeof data.content === 'string' ? data.content : '', seq)
      } else if (e.event === 'done' || e.event === 'error') {
        o.onEnd(e.event, data)
      }
    },
    isFinal: (e) => e.event === 'done' || e.event === 'error',
    reopenWithoutId: true,
    // Worth another try: no connection at all, or the server's "busy, retry" (503).
    fatal: (e) => !(e instanceof ApiError) || (e.status !== 0 && e.status !== 503),
    maxReconnects: o.maxReconnects ?? 5,
    sleep: o.sleep,
    signal: o.signal,
  })
  return { id, last }
}
