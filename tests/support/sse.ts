// A Server-Sent Events client for tests: opens the stream with fetch, parses frames (comments skipped, JSON data),
// and hands them out one at a time.
export interface SseEvent {
  id?: string
  event: string
  data: Record<string, unknown>
}

export interface SseStream {
  res: Response
  /** The next event; rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<SseEvent>
  /** The next event matching `match`, skipping others. */
  until(match: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>
  /** Comment lines seen so far (heartbeats). */
  readonly comments: number
  close(): Promise<void>
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const events: SseEvent[] = []
  let comments = 0
  let wake: (() => void) | undefined
  const pump = (async () => {
    if (!res.ok || !res.body) return
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++
            else if (line.includes(':')) fields[line.slice(0, line.indexOf(':'))] = line.slice(line.indexOf(':') + 1).trim()
          }
          if (fields.data === undefined) continue
          events.push({ ...(fields.id ? { id: fields.id } : {}), event: fields.event ?? 'message', data: JSON.parse(fields.data) as Record<string, unknown> })
          wake?.()
        }
      }
    } catch {
      // aborted by close()
    }
  })()
  let read = 0
  const next = async (timeoutMs = 15_000): Promise<SseEvent> => {
    const deadline = Date.now() + timeoutMs
    while (read >= events.length) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no event on ${url} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, Math.min(left, 100))
      })
    }
    return events[read++]!
  }
  return {
    res,
    next,
    async until(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const e = await next(Math.max(1, deadline - Date.now()))
        if (match(e)) return e
      }
    },
    get comments() {
      return comments
    },
    async close() {
      controller.abort()
      await pump
    },
  }
}
