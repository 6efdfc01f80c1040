// One bounded buffer per live-update client, so a slow client never slows the listener that feeds every client.
// push never waits; streamToClient drains the buffer at the client's own pace:
//
//   const queue = createClientQueue<FanoutMessage<E>>({ maxBuffered: 100 })
//   const unsubscribe = fanout.subscribe((message) => { if (message.key === orderId) queue.push(message) })
//   await streamToClient(queue, reply.raw, (item) =>
//     item.type === 'gap' ? formatSse({ event: 'resync', data: {} }) : formatSse({ id: item.message.id, data: item.message.event }))
//   unsubscribe()
//
// Under 'disconnect' an overflowing client is cut off and reconnects with Last-Event-ID (see recentEvents);
// under 'drop-oldest' it stays and gets a gap item where events were discarded.
import type { Writable } from 'node:stream'
import { liveMetrics as m } from './metrics.ts'

export type OverflowPolicy = 'disconnect' | 'drop-oldest'
export type ClientItem<M> = { type: 'message'; message: M } | { type: 'gap'; dropped: number }

export function createClientQueue<M>(opts: { maxBuffered: number; overflow?: OverflowPolicy }) {
  const policy = opts.overflow ?? 'disconnect'
  const buffer: M[] = []
  let dropped = 0
  let closed = false
  let overflowed = false
  let wake: (() => void) | undefined
  let markDone: () => void = () => undefined
  const done = new Promise<void>((resolve) => {
    markDone = resolve
  })

  function close() {
    closed = true
    buffer.length = 0
    wake?.()
    markDone()
  }

  return {
    /** Never waits. false: the client is gone (closed, or dropped for overflowing under 'disconnect'). */
    push(message: M): boolean {
      if (closed) return false
      if (buffer.length >= opts.maxBuffered) {
        if (policy === 'disconnect') {
          m.clientOverflows.inc({ policy })
          overflowed = true
          close()
          return false
        }
        if (dropped === 0) m.clientOverflows.inc({ policy })
        buffer.shift()
        dropped++
      }
      buffer.push(message)
      wake?.()
      return true
    },
    close,
    /** Resolves when the queue is closed, by its owner or by overflow. */
    done,
    get overflowed() {
      return overflowed
    },
    get size() {
      return buffer.length
    },
    /** Buffered messages in order; a gap item stands where 'drop-oldest' discarded some. Ends when closed. */
    async *[Symbol.asyncIterator](): AsyncGenerator<ClientItem<M>> {
      for (;;) {
        if (closed) return
        if (dropped > 0) {
          const count = dropped
          dropped = 0
          yield { type: 'gap', dropped: count }
        } else if (buffer.length > 0) {
          yield { type: 'message', message: buffer.shift() as M }
        } else {
          await new Promise<void>((resolve) => {
            wake = resolve
          })
          wake = undefined
        }
      }
    },
  }
}
export type ClientQueue<M> = ReturnType<typeof createClientQueue<M>>

/**
 * Writes the queue to a response (an SSE stream) until either side closes, waiting for 'drain' when the socket
 * is full. An overflowing client is destroyed rather than ended, so its unsent backlog is not kept.
 */
export async function streamToClient<M>(queue: ClientQueue<M>, res: Writable, frame: (item: ClientItem<M>) => string): Promise<void> {
  const gone = new Promise<void>((resolve) => res.once('close', resolve))
  void gone.then(() => queue.close())
  res.on('error', () => queue.close()) // the socket is gone; 'close' follows
  if (res.destroyed) queue.close()
  for await (const item of queue) {
    if (!res.write(frame(item))) {
      await Promise.race([new Promise((resolve) => res.once('drain', resolve)), gone, queue.done])
    }
  }
  if (queue.overflowed) res.destroy()
  else if (!res.writableEnded) res.end()
}

/** One Server-Sent Events frame; data is JSON-encoded. */
export function formatSse(frame: { id?: string; event?: string; data: unknown }): string {
  return `${frame.id ? `id: ${frame.id}\n` : ''}${frame.event ? `event: ${frame.event}\n` : ''}data: ${JSON.stringify(frame.data)}\n\n`
}
