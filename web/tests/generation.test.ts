import { beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiClient, ApiError } from '../src/api/client'
import { cancelGeneration, findGenerationId, followGeneration } from '../src/api/generation'
import { StreamInterrupted } from '../src/api/sse'
import type { GenerateBody, GenerationDetail } from '../src/api/types'
import { PENDING_REPLAY_MS, forgetGeneration, planResume, recallGeneration, rememberGeneration } from '../src/lib/resume'

type Reply = Response | Error
interface Call {
  url: string
  method: string
  headers: Record<string, string>
  body?: string
}

/** A client whose fetch answers `replies` in order and records each request. */
function fakeClient(replies: Reply[]) {
  const calls: Call[] = []
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? 'GET', headers: init.headers as Record<string, string>, body: init.body as string | undefined })
    const r = replies.shift()
    if (!r) throw new Error('no more replies')
    if (r instanceof Error) throw r
    return r
  })
  return { client: new ApiClient({ getToken: () => 'tok', fetch: fetch as unknown as typeof globalThis.fetch }), calls }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

/** An SSE reply of `chunks`; `broken` makes the read fail after them (a dropped connection). */
function sse(chunks: string[], broken = false): Response {
  const enc = new TextEncoder()
  let i = 0
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(enc.encode(chunks[i++]))
      else if (broken) c.error(new TypeError('network error'))
      else c.close()
    },
  })
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } })
}
const delta = (n: number, text: string) => `id: ${n}\nevent: delta\ndata: ${JSON.stringify({ content: text })}\n\n`
const meta = (id: number) => `event: meta\ndata: {"generation_id":${id},"model":"qwen-plus","credits_charged":10,"balance":90}\n\n`
const done = (extra = '') => `event: done\ndata: {"finish_reason":"stop","credits_charged":10,"balance":90${extra}}\n\n`

const body: GenerateBody = { tool_type: 'article', prompt: '墨', model: 'qwen-plus', stream: true }
const noSleep = async () => {}

function collect() {
  const text: string[] = []
  const seqs: number[] = []
  const ends: [string, Record<string, unknown>][] = []
  return {
    text,
    seqs,
    ends,
    onDelta: (t: string, seq: number) => {
      text.push(t)
      seqs.push(seq)
    },
    onEnd: (e: 'done' | 'error', d: Record<string, unknown>) => ends.push([e, d]),
  }
}

describe('cancelGeneration', () => {
  it('POSTs the cancel route with the token: 202 is requested, 409 already ended', async () => {
    const { client, calls } = fakeClient([json(202, { generation_id: 7, cancel_requested: true }), json(409, { code: 'CONFLICT', detail: 'ended' })])
    expect(await cancelGeneration(client, 7)).toBe('requested')
    expect(calls[0].url).toBe('/api/v1/writing/generations/7/cancel')
    expect(calls[0].method).toBe('POST')
    expect(calls[0].headers.Authorization).toBe('Bearer tok')
    expect(await cancelGeneration(client, 7)).toBe('ended')
  })
  it('throws anything else (another user\'s generation is a 404)', async () => {
    const { client } = fakeClient([json(404, { code: 'NOT_FOUND', detail: 'generation not found' })])
    const e = await cancelGeneration(client, 8).catch((x) => x)
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).status).toBe(404)
  })
})

describe('followGeneration', () => {
  it('reattaches with Last-Event-ID and, after a break, resumes from the last delta it showed', async () => {
    const { client, calls } = fakeClient([
      sse(['event: meta\ndata: {"generation_id":7,"status":"RUNNING","deltas":12}\n\n', delta(13, 'c'), delta(14, 'd')], true),
      sse(['event: meta\ndata: {"generation_id":7}\n\n', delta(15, 'e'), done()]),
    ])
    const c = collect()
    const r = await followGeneration({ client, id: 7, after: 12, ...c, sleep: noSleep })
    expect(calls.map((x) => [x.method, x.url, x.headers['Last-Event-ID']])).toEqual([
      ['GET', '/api/v1/writing/generations/7/stream', '12'],
      ['GET', '/api/v1/writing/generations/7/stream', '14'],
    ])
    expect(c.text.join('')).toBe('cde')
    expect(c.seqs).toEqual([13, 14, 15])
    expect(c.ends.map((e) => e[0])).toEqual(['done'])
    expect(r).toEqual({ id: 7, last: 15 })
  })

  it('starts with an Idempotency-Key POST and never re-POSTs once the id is known', async () => {
    const { client, calls } = fakeClient([
      sse([meta(42), delta(1, 'a'), delta(2, 'b')], true),
      new TypeError('Failed to fetch'), // the network is gone for a moment
      sse([delta(3, 'c'), done()]),
    ])
    const c = collect()
    const metas: unknown[] = []
    await followGeneration({ client, id: null, body, key: 'web-k1', ...c, onMeta: (m) => metas.push(m.generation_id), sleep: noSleep })
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/writing/generate', body: JSON.stringify(body) })
    expect(calls[0].headers['Idempotency-Key']).toBe('web-k1')
    expect(calls[0].headers.Accept).toBe('text/event-stream')
    expect(calls.slice(1).map((x) => [x.method, x.url, x.headers['Last-Event-ID']])).toEqual([
      ['GET', '/api/v1/writing/generations/42/stream', '2'],
      ['GET', '/api/v1/writing/generations/42/stream', '2'],
    ])
    expect(metas).toEqual([42])
    expect(c.text.join('')).toBe('abc')
  })

  it('a break before the first delta sends the same request again (a replay) and skips what it showed', async () => {
    const { client, calls } = fakeClient([
      sse([': ping\n\n'], true),
      // The replay of a generation reads it from its first delta.
      sse([meta(42), delta(1, 'a'), delta(2, 'b'), done()]),
    ])
    const c = collect()
    await followGeneration({ client, id: null, body, key: 'web-k2', ...c, sleep: noSleep })
    expect(calls.map((x) => [x.method, x.headers['Idempotency-Key'], x.body])).toEqual([
      ['POST', 'web-k2', JSON.stringify(body)],
      ['POST', 'web-k2', JSON.stringify(body)],
    ])
    expect(c.text.join('')).toBe('ab')
  })

  it('drops a delta it already has (no duplicate, whatever the server resends)', async () => {
    const { client } = fakeClient([sse([delta(4, 'x'), delta(5, 'y'), delta(6, 'z'), done()])])
    const c = collect()
    await followGeneration({ client, id: 9, after: 5, ...c, sleep: noSleep })
    expect(c.text).toEqual(['z'])
  })

  it('throws the first POST\'s HTTP error at once (402, or a refunded 409 after an early Stop)', async () => {
    const { client, calls } = fakeClient([json(409, { code: 'CONFLICT', detail: 'stopped', refunded: true, balance: 100 })])
    const c = collect()
    const e = (await followGeneration({ client, id: null, body, key: 'k', ...c, sleep: noSleep }).catch((x) => x)) as ApiError
    expect([e.status, e.code, e.body.refunded, e.num('balance')]).toEqual([409, 'CONFLICT', true, 100])
    expect(calls).toHaveLength(1)
  })

  it('gives up after maxReconnects with StreamInterrupted (the generation runs on)', async () => {
    const { client } = fakeClient([sse([delta(1, 'a')], true), sse([], true), sse([], true)])
    const c = collect()
    const e = await followGeneration({ client, id: 3, ...c, maxReconnects: 2, sleep: noSleep }).catch((x) => x)
    expect(e).toBeInstanceOf(StreamInterrupted)
    expect(c.text).toEqual(['a'])
  })

  it('hands the final error event on (an upstream failure after output, refunded)', async () => {
    const { client } = fakeClient([
      sse([delta(1, 'a'), 'event: error\ndata: {"code":"UPSTREAM_ERROR","detail":"x","refunded":true,"balance":100}\n\n']),
    ])
    const c = collect()
    await followGeneration({ client, id: 3, ...c, sleep: noSleep })
    expect(c.ends).toEqual([['error', { code: 'UPSTREAM_ERROR', detail: 'x', refunded: true, balance: 100 }]])
  })
})

describe('findGenerationId', () => {
  it('sends the same request with the same key and reads the replay\'s meta only', async () => {
    let cancelled = false
    const enc = new TextEncoder()
    const replay = new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(enc.encode(meta(77)))
        },
        cancel() {
          cancelled = true
        },
      }),
      { status: 200 },
    )
    const { client, calls } = fakeClient([replay])
    expect(await findGenerationId(client, body, 'web-k3')).toBe(77)
    expect(calls[0]).toMatchObject({ method: 'POST', url: '/api/v1/writing/generate', body: JSON.stringify(body) })
    expect(calls[0].headers['Idempotency-Key']).toBe('web-k3')
    // The replay stream is left at once (it would otherwise follow the whole generation).
    expect(cancelled).toBe(true)
  })
  it('fails when the replay ends without meta', async () => {
    const { client } = fakeClient([sse([])])
    await expect(findGenerationId(client, body, 'k')).rejects.toThrow(/no generation id/)
  })
})

describe('reload resume', () => {
  const detail = (over: Partial<GenerationDetail>): GenerationDetail => ({
    id: 5, kind: 'text', tool_type: 'article', model: 'qwen-plus', stream: true, status: 'RUNNING', end_reason: null,
    task_id: null, prompt: '墨', content: 'ab', images: [], credits_charged: 10, refunded: false, finish_reason: null,
    usage: { input_tokens: 1, output_tokens: 2 }, created_at: '', finished_at: null, deltas: 2, cancel_requested: false,
    balance: 90, ...over,
  })
  beforeEach(() => sessionStorage.clear())

  it('keeps the running generation in sessionStorage only', () => {
    rememberGeneration({ id: null, key: 'k', body, at: 1000 })
    expect(recallGeneration()).toEqual({ id: null, key: 'k', body, at: 1000 })
    expect(Object.keys(localStorage)).not.toContain('inkstone.generation')
    rememberGeneration({ id: 5, key: 'k', body, at: 1000 })
    expect(recallGeneration()?.id).toBe(5)
    forgetGeneration()
    expect(recallGeneration()).toBeNull()
    sessionStorage.setItem('inkstone.generation', '{not json')
    expect(recallGeneration()).toBeNull()
  })

  it('nothing remembered: nothing to do, and no request', async () => {
    const get = vi.fn()
    expect(await planResume(null, get)).toEqual({ kind: 'none' })
    expect(get).not.toHaveBeenCalled()
  })

  it('a RUNNING generation is followed after its stored deltas; an ended one is shown', async () => {
    const running = detail({})
    const r = { id: 5, key: 'k', body, at: 0 }
    expect(await planResume(r, async () => running)).toEqual({ kind: 'follow', detail: running })
    const ended = detail({ status: 'ABORTED', end_reason: 'cancelled' })
    expect(await planResume(r, async () => ended)).toEqual({ kind: 'ended', detail: ended })
  })

  it('a request whose id never came is replayed with its key, but only while it is fresh', async () => {
    const get = vi.fn()
    const r = { id: null, key: 'k', body, at: 1_000_000 }
    expect(await planResume(r, get, 1_000_000 + 5000)).toEqual({ kind: 'replay', body, key: 'k' })
    rememberGeneration(r)
    expect(await planResume(r, get, 1_000_000 + PENDING_REPLAY_MS + 1)).toEqual({ kind: 'none' })
    expect(recallGeneration()).toBeNull()
    expect(get).not.toHaveBeenCalled()
  })

  it('another user\'s (404) is forgotten; a network failure keeps it for the next load', async () => {
    const r = { id: 5, key: '', body: null, at: 0 }
    rememberGeneration(r)
    const offline = await planResume(r, async () => Promise.reject(new ApiError(0, 'NETWORK', ''))).catch((x) => x)
    expect(offline).toBeInstanceOf(ApiError)
    expect(recallGeneration()?.id).toBe(5)
    expect(await planResume(r, async () => Promise.reject(new ApiError(404, 'NOT_FOUND', 'generation not found')))).toEqual({ kind: 'none' })
    expect(recallGeneration()).toBeNull()
  })
})
