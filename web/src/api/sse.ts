// A reader for text/event-stream over fetch() (EventSource cannot POST or send a bearer
// token). Follows the WHATWG event-stream rules: lines end in \n, \r\n or \r; `:` starts a
// comment (the server's `: ping`); `data` lines of one event are joined with \n; a blank line
// dispatches. Chunks may split an event, a line, a \r\n pair or a UTF-8 character anywhere.

export interface SseEvent {
  event: string
  data: string
  /** The last `id:` seen so far (the stream's resume point), '' when none. */
  lastEventId: string
}

export class SseParser {
  private buffer = ''
  private pendingCr = false
  private data: string[] = []
  private eventType = ''
  private lastId = ''
  private sawData = false
  private bomChecked = false
  /** `retry:` from the server, in ms, or null. */
  retryMs: number | null = null

  get lastEventId(): string {
    return this.lastId
  }

  /** Feeds decoded text; returns the events completed by it. */
  feed(text: string): SseEvent[] {
    if (!this.bomChecked && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
      this.bomChecked = true
    }
    const out: SseEvent[] = []
    let i = 0
    if (this.pendingCr && text.startsWith('\n')) i = 1  // the \n of a \r\n split across chunks
    this.pendingCr = false
    let start = i
    for (; i < text.length; i++) {
      const c = text[i]
      if (c !== '\n' && c !== '\r') continue
      this.line(this.buffer + text.slice(start, i), out)
      this.buffer = ''
      if (c === '\r') {
        if (i + 1 < text.length) {
          if (text[i + 1] === '\n') i++
        } else {
          this.pendingCr = true
        }
      }
      start = i + 1
    }
    this.buffer += text.slice(start)
    return out
  }

  /**
   * End of stream (or of a connection that broke off): an event without its closing blank
   * line is dropped, as the spec says, so the next connection starts on a clean line.
   */
  end(): SseEvent[] {
    this.buffer = ''
    this.pendingCr = false
    this.data = []
    this.sawData = false
    this.eventType = ''
    return []
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.sawData) {
        out.push({ event: this.eventType || 'message', data: this.data.join('\n'), lastEventId: this.lastId })
      }
      this.data = []
      this.sawData = false
      this.eventType = ''
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.eventType = value
        break
      case 'data':
        this.data.push(value)
        this.sawData = true
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value)
        break
      default:
        break
    }
  }
}

/**
 * Reads `body` to its end, calling `onEvent` for each event; an `onEvent` that returns true
 * has read enough: the rest of the stream is cancelled. Honors `signal` (abort).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (e: SseEvent) => unknown,
): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder('utf-8')
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      for (const e of parser.feed(decoder.decode(value, { stream: true }))) {
        if (onEvent(e) === true) {
          await reader.cancel().catch(() => {})
          return
        }
      }
    }
    for (const e of parser.feed(decoder.decode())) onEvent(e)
    parser.end()
  } finally {
    reader.releaseLock()
  }
}

export class StreamInterrupted extends Error {
  constructor(readonly resumable: boolean) {
    super(resumable ? 'the stream was interrupted too many times' : 'the stream was interrupted')
  }
}

export interface ReconnectOptions {
  /** Opens (or reopens, with the resume point) the stream; must return an OK response. */
  open: (lastEventId: string) => Promise<Response>
  onEvent: (e: SseEvent) => void
  /** An event after which the stream is complete (`done`, `error`). */
  isFinal: (e: SseEvent) => boolean
  maxReconnects?: number
  /**
   * `open` is safe to repeat before any id arrived (an Idempotency-Key retry, or a reattach
   * URL), so a stream that broke off before its first id may be reopened too.
   */
  reopenWithoutId?: boolean
  /** An error of `open` that no retry can mend (an HTTP error): thrown at once. */
  fatal?: (err: unknown) => boolean
  /** Delay before reconnecting when the server sent no `retry:`. */
  defaultRetryMs?: number
  sleep?: (ms: number) => Promise<void>
  signal?: AbortSignal
}

/**
 * Reads a stream to its final event, reconnecting with `Last-Event-ID` when it breaks off
 * early, but only when the server has given the stream ids (or `reopenWithoutId` says that
 * reopening is harmless): a stream without ids cannot be resumed, and reopening a plain POST
 * would start (and pay for) a new generation, so that is an error for the caller instead.
 */
export async function streamWithReconnect(o: ReconnectOptions): Promise<void> {
  const parser = new SseParser()
  const max = o.maxReconnects ?? 3
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  let reconnects = 0
  let finished = false
  const resumable = () => parser.lastEventId !== '' || o.reopenWithoutId === true
  for (;;) {
    let response: Response
    try {
      response = await o.open(parser.lastEventId)
    } catch (err) {
      // Refused outright (an HTTP error, or no connection at all): nothing to resume from.
      if (o.signal?.aborted || !resumable() || reconnects >= max || o.fatal?.(err)) throw err
      reconnects++
      await sleep(parser.retryMs ?? o.defaultRetryMs ?? 1000)
      continue
    }
    try {
      if (!response.body) throw new Error('no response body')
      await readEventStream(response.body, parser, (e) => {
        if (finished) return
        o.onEvent(e)
        if (o.isFinal(e)) finished = true
      })
    } catch (err) {
      if (o.signal?.aborted) throw err
      // A read that broke off: treated like an early end below.
      parser.end()
    }
    if (finished) return
    if (o.signal?.aborted) throw new DOMException('aborted', 'AbortError')
    if (!resumable()) throw new StreamInterrupted(false)
    if (reconnects >= max) throw new StreamInterrupted(true)
    reconnects++
    await sleep(parser.retryMs ?? o.defaultRetryMs ?? 1000)
  }
}
