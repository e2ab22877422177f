import { describe, expect, it } from 'vitest'
import { SseParser, StreamInterrupted, readEventStream, streamWithReconnect, type SseEvent } from '../src/api/sse'

const STREAM =
  'event: meta\ndata: {"generation_id":7}\n\n: ping\n\nevent: delta\ndata: {"content":"墨"}\n\n' +
  'event: delta\r\ndata: line1\r\ndata: line2\r\n\r\nevent: done\ndata: {}\n\n'

function parseAll(chunks: string[]): SseEvent[] {
  const p = new SseParser()
  return chunks.flatMap((c) => p.feed(c))
}

function body(chunks: (string | Uint8Array)[], error?: Error): ReadableStream<Uint8Array> {
  const enc = new TextEncoder()
  let i = 0
  return new ReadableStream({
    pull(c) {
      if (i < chunks.length) {
        const x = chunks[i++]
        c.enqueue(typeof x === 'string' ? enc.encode(x) : x)
      } else if (error) c.error(error)
      else c.close()
    },
  })
}

describe('SseParser', () => {
  const whole = parseAll([STREAM])
  it('parses events, comments and multi-line data', () => {
    expect(whole.map((e) => e.event)).toEqual(['meta', 'delta', 'delta', 'done'])
    expect(whole[1].data).toBe('{"content":"墨"}')
    expect(whole[2].data).toBe('line1\nline2')
  })
  it('gives the same events however the stream is split', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(parseAll([STREAM.slice(0, cut), STREAM.slice(cut)])).toEqual(whole)
    }
    expect(parseAll(STREAM.split(''))).toEqual(whole)
  })
  it('drops an event without its blank line at the end, and tracks ids and retry', () => {
    const p = new SseParser()
    expect(p.feed('id: 1\nretry: 2500\ndata: a\n\ndata: half')).toHaveLength(1)
    expect(p.lastEventId).toBe('1')
    expect(p.retryMs).toBe(2500)
    expect(p.end()).toEqual([])
  })
})

describe('readEventStream', () => {
  it('decodes UTF-8 characters split across byte chunks', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: 墨砚\n\n')
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]))
    const seen: SseEvent[] = []
    await readEventStream(body(chunks), new SseParser(), (e) => seen.push(e))
    expect(seen).toEqual([{ event: 'delta', data: '墨砚', lastEventId: '' }])
  })
})

describe('streamWithReconnect', () => {
  const isFinal = (e: SseEvent) => e.event === 'done' || e.event === 'error'
  const noSleep = async () => {}

  it('reconnects with Last-Event-ID when the stream has ids, and reads on to the end', async () => {
    const asked: string[] = []
    const replies = [
      body(['id: 1\nevent: delta\ndata: a\n\n', 'id: 2\nevent: delta\ndata: b\n\n'], new TypeError('network error')),
      body(['id: 3\nevent: delta\ndata: c\n\nid: 4\nevent: done\ndata: {}\n\n']),
    ]
    const seen: string[] = []
    await streamWithReconnect({
      open: async (last) => {
        asked.push(last)
        return new Response(replies.shift())
      },
      onEvent: (e) => seen.push(e.data),
      isFinal,
      sleep: noSleep,
    })
    expect(asked).toEqual(['', '2'])
    expect(seen).toEqual(['a', 'b', 'c', '{}'])
  })

  it('never reopens a stream without ids (that would start and pay for a new generation)', async () => {
    let opens = 0
    const run = streamWithReconnect({
      open: async () => {
        opens++
        return new Response(body(['event: delta\ndata: a\n\n']))
      },
      onEvent: () => {},
      isFinal,
      sleep: noSleep,
    })
    await expect(run).rejects.toEqual(new StreamInterrupted(false))
    expect(opens).toBe(1)
  })

  it('gives up after maxReconnects', async () => {
    let opens = 0
    const run = streamWithReconnect({
      open: async () => {
        opens++
        return new Response(body([`id: ${opens}\nevent: delta\ndata: x\n\n`]))
      },
      onEvent: () => {},
      isFinal,
      maxReconnects: 2,
      sleep: noSleep,
    })
    await expect(run).rejects.toBeInstanceOf(StreamInterrupted)
    expect(opens).toBe(3)
  })

  it('passes an HTTP error of the first request through', async () => {
    const boom = new Error('402')
    await expect(
      streamWithReconnect({ open: async () => Promise.reject(boom), onEvent: () => {}, isFinal, sleep: noSleep }),
    ).rejects.toBe(boom)
  })

  it('drops the half event of a connection that broke off, so the next one starts clean', async () => {
    const replies = [
      body(['id: 1\nevent: delta\ndata: a\n\nid: 2\nevent: del'], new TypeError('network error')),
      body(['event: delta\nid: 2\ndata: b\n\nevent: done\ndata: {}\n\n']),
    ]
    const seen: string[] = []
    await streamWithReconnect({
      open: async () => new Response(replies.shift()),
      onEvent: (e) => seen.push(`${e.event}:${e.data}`),
      isFinal,
      sleep: noSleep,
    })
    expect(seen).toEqual(['delta:a', 'delta:b', 'done:{}'])
  })

  it('reopens a stream without ids when the caller says that is harmless, but not after a fatal error', async () => {
    let opens = 0
    const run = streamWithReconnect({
      open: async () => {
        opens++
        if (opens === 2) throw new Error('402')
        return new Response(body([': ping\n\n']))
      },
      onEvent: () => {},
      isFinal,
      reopenWithoutId: true,
      fatal: (e) => e instanceof Error && e.message === '402',
      sleep: noSleep,
    })
    await expect(run).rejects.toThrow('402')
    expect(opens).toBe(2)
  })
})
