// Server-Sent Events over fetch: EventSource cannot send the Authorization header. The parser follows the
// WHATWG rules (data lines joined by \n, id, event, retry; comments ignored); the stream reconnects with
// Last-Event-ID after a drop, and gives up only on answers that retrying cannot change (400, 401, 403, 404, 405).
import { ApiError, authHeaders, problemOf } from './api.ts'

export interface SseMessage {
  id: string | null
  event: string
  data: string
}

export function createSseParser(onMessage: (m: SseMessage) => void, onRetry: (ms: number) => void = () => undefined) {
  let buffer = ''
  let data: string[] = []
  let event = ''
  let id: string | null = null
  let lastId: string | null = null
  const dispatch = () => {
    if (id !== null) lastId = id
    if (data.length) onMessage({ id: lastId, event: event || 'message', data: data.join('\n') })
    data = []
    event = ''
    id = null
  }
  return {
    feed(chunk: string) {
      buffer += chunk
      const lines = buffer.split(/\r\n|\r|\n/)
      buffer = lines.pop() ?? ''
      for (const line of lines) {
        if (line === '') {
          dispatch()
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        let value = colon === -1 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'data') data.push(value)
        else if (field === 'event') event = value
        else if (field === 'id' && !value.includes('\0')) id = value
        else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value))
      }
    },
    get lastEventId() {
      return lastId
    },
  }
}

export type StreamState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  | { kind: 'reconnecting'; inMs: number; reason: string }
  | { kind: 'failed'; error: ApiError }

export interface StreamOptions {
  onMessage: (m: SseMessage) => void
  onState?: (s: StreamState) => void
  /** Called after a reconnect, so the caller can reload what it may have missed if the server cannot replay. */
  onReconnected?: () => void
}

// Answers that retrying cannot change; the caller falls back to polling.
const FATAL = new Set([400, 401, 403, 404, 405])

export function openEventStream(path: string, opts: StreamOptions): () => void {
  const controller = new AbortController()
  let lastEventId: string | null = null
  let retryMs = 1_000
  let attempt = 0
  let stopped = false

  const wait = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms)
    controller.signal.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    }, { once: true })
  })

  async function connectOnce(): Promise<'ended' | 'fatal'> {
    opts.onState?.({ kind: 'connecting', attempt })
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...authHeaders() }
    if (lastEventId) headers['last-event-id'] = lastEventId
    const res = await fetch(path, { headers, signal: controller.signal, cache: 'no-store' })
    if (!res.ok) {
      const error = await problemOf(path, res)
      if (FATAL.has(res.status)) {
        opts.onState?.({ kind: 'failed', error })
        return 'fatal'
      }
      throw error
    }
    if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
      throw new ApiError(path, res.status, { detail: `Expected an event stream, got ${res.headers.get('content-type') ?? 'nothing'}.` })
    }
    if (attempt > 0) opts.onReconnected?.()
    attempt = 0
    retryMs = Math.max(retryMs, 1_000)
    opts.onState?.({ kind: 'open' })
    const parser = createSseParser((m) => {
      if (m.id !== null) lastEventId = m.id
      opts.onMessage(m)
    }, (ms) => { retryMs = ms })
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return 'ended'
      parser.feed(value)
    }
  }

  void (async () => {
    while (!stopped) {
      let reason = 'the stream ended'
      try {
        if ((await connectOnce()) === 'fatal') return
      } catch (error) {
        if (stopped) return
        reason = error instanceof ApiError ? error.detail : (error as Error).message || 'network error'
      }
      if (stopped) return
      attempt++
      const delay = Math.min(15_000, retryMs * 2 ** Math.min(attempt - 1, 4))
      opts.onState?.({ kind: 'reconnecting', inMs: delay, reason })
      await wait(delay)
    }
  })()

  return () => {
    stopped = true
    controller.abort()
  }
}
