// Live updates across the copies of a service. An event is appended to its key's Redis Stream (the last ~N per
// order, for Last-Event-ID resume) and published on one pub/sub channel by a single Lua script, so every copy
// sees events in stream-id order and an SSE client can resume from the id it saw last. Each copy holds one
// SUBSCRIBE connection per channel and hands events to in-process listeners, which must not block: give each
// client a createClientQueue. Redis failing never fails the caller: publish returns null (logged, counted),
// ioredis reconnects and resubscribes by itself, and listeners are told about the gap so they can resume from
// the stream.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { createRedis, defineScript } from '@trackops/runtime'
import { liveMetrics as m } from './metrics.ts'

export interface FanoutMessage<E> {
  /** Redis Stream id: use it as the SSE `id:` and pass it back as `sinceId` on resume. */
  id: string
  key: string
  event: E
}

export interface FanoutOptions {
  /** A URL (two connections are created and owned) or both connections: a subscribing connection can do nothing else. */
  redis: string | { publisher: Redis; subscriber: Redis }
  channel: string
  logger: Logger
  /** Events kept per key for resume (approximate: MAXLEN ~). Default 100. */
  historySize?: number
  /** A key's history expires this long after its last event. Default one day. */
  historyTtlSeconds?: number
}

export type Listener<E> = (message: FanoutMessage<E>) => void

const publishScript = defineScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], '{"id":"' .. id .. '","key":' .. ARGV[4] .. ',"event":' .. ARGV[5] .. '}')
return id
`)

const STREAM_ID = /^\d+-\d+$/

export function createFanout<E>(opts: FanoutOptions) {
  const { channel, logger } = opts
  const owned = typeof opts.redis === 'string'
  const publisher = typeof opts.redis === 'string' ? createRedis(opts.redis, `${channel}-pub`) : opts.redis.publisher
  const subscriber = typeof opts.redis === 'string' ? createRedis(opts.redis, `${channel}-sub`, { autoPipelining: false }) : opts.redis.subscriber
  const historySize = opts.historySize ?? 100
  const historyTtl = opts.historyTtlSeconds ?? 86_400
  const labels = { channel }
  const streamKey = (key: string) => `${channel}:history:${key}`
  const listeners = new Map<Listener<E>, { onGap?: () => void }>()
  const counts = { published: 0, publishFailures: 0, received: 0 }
  let failing = false
  let subscribed = false
  let missedWhileDown = false
  let closed = false
  let markSubscribed: () => void = () => undefined
  const firstSubscription = new Promise<void>((resolve) => {
    markSubscribed = resolve
  })

  if (owned) {
    // Owned connections report through the logger; ioredis would otherwise print every reconnect attempt.
    for (const client of [publisher, subscriber]) client.on('error', (error: Error) => logger.debug({ err: error, channel }, 'fanout connection error'))
  }

  function onMessage(from: string, raw: string) {
    if (from !== channel) return
    let message: FanoutMessage<E>
    try {
      message = JSON.parse(raw) as FanoutMessage<E>
    } catch (error) {
      logger.warn({ err: error, channel }, 'undecodable fanout message ignored')
      return
    }
    counts.received++
    m.received.inc(labels)
    for (const listener of listeners.keys()) {
      try {
        listener(message)
      } catch (error) {
        logger.error({ err: error, channel }, 'fanout listener failed')
      }
    }
  }

  function subscribeChannel() {
    if (closed || subscriber.status !== 'ready') return
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true
        markSubscribed()
        if (!missedWhileDown) return
        missedWhileDown = false
        logger.info({ channel }, 'fanout subscription restored')
        for (const { onGap } of listeners.values()) onGap?.()
      },
      (error: unknown) => logger.warn({ err: error, channel }, 'fanout subscribe failed; retrying on reconnect'),
    )
  }

  function onClose() {
    if (subscribed && !closed) {
      subscribed = false
      missedWhileDown = true
      logger.warn({ channel }, 'fanout subscription lost; reconnecting')
    }
  }

  subscriber.on('message', onMessage)
  subscriber.on('ready', subscribeChannel)
  subscriber.on('close', onClose)
  subscribeChannel()

  return {
    channel,
    /** Resolves once this process receives the channel (the first time). */
    ready: () => firstSubscription,

    /** The stored event's id, or null when Redis failed (the event is lost for live listeners; state is in the database). */
    async publish(key: string, event: E): Promise<string | null> {
      try {
        if (publisher.status !== 'ready') throw new Error(`redis connection is ${publisher.status}`)
        const id = (await publishScript(publisher, [streamKey(key)], [historySize, historyTtl, channel, JSON.stringify(key), JSON.stringify(event)])) as string
        counts.published++
        m.published.inc(labels)
        if (failing) {
          failing = false
          logger.info({ channel }, 'fanout publishing again')
        }
        return id
      } catch (error) {
        counts.publishFailures++
        m.publishFailures.inc(labels)
        if (!failing) {
          failing = true
          logger.warn({ err: error, channel }, 'fanout publish failed; live updates paused')
        }
        return null
      }
    },

    /** onGap: the subscription was lost and restored, so events may have been missed: resume from recentEvents. */
    subscribe(listener: Listener<E>, options: { onGap?: () => void } = {}): () => void {
      listeners.set(listener, options)
      return () => {
        listeners.delete(listener)
      }
    },

    /**
     * Events of `key` after `sinceId` (oldest first), for Last-Event-ID. gap: events after sinceId may be missing
     * (trimmed, expired, unknown id or Redis failing), so the client should reload the current state. `since` is
     * the entry at sinceId itself: what the client already has.
     */
    async recentEvents(key: string, sinceId?: string | null, limit = historySize): Promise<{ events: FanoutMessage<E>[]; gap: boolean; since?: FanoutMessage<E> }> {
      const valid = sinceId != null && STREAM_ID.test(sinceId)
      let entries: [id: string, fields: string[]][]
      try {
        if (publisher.status !== 'ready') throw new Error(`redis connection is ${publisher.status}`)
        // Inclusive start: finding sinceId itself proves nothing after it was trimmed away.
        entries = await publisher.xrange(streamKey(key), valid ? sinceId : '-', '+', 'COUNT', limit + 1)
      } catch (error) {
        logger.warn({ err: error, channel }, 'fanout history unavailable')
        return { events: [], gap: true }
      }
      const toMessage = ([id, fields]: [string, string[]]) => ({ id, key, event: JSON.parse(fields[1] ?? 'null') as E })
      const first = entries[0]
      const continuous = valid && first?.[0] === sinceId
      if (continuous) entries.shift()
      const events = entries.slice(0, limit).map(toMessage)
      return { events, gap: sinceId != null && !continuous, ...(continuous && first ? { since: toMessage(first) } : {}) }
    },

    stats() {
      return {
        ...counts,
        listeners: listeners.size,
        degraded: failing || publisher.status !== 'ready' || !subscribed,
      }
    },

    async close() {
      closed = true
      listeners.clear()
      subscriber.off('message', onMessage)
      subscriber.off('ready', subscribeChannel)
      subscriber.off('close', onClose)
      if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(() => undefined)
      if (owned) {
        for (const client of [publisher, subscriber]) {
          await client.quit().catch(() => client.disconnect())
        }
      }
    },
  }
}
export type Fanout<E> = ReturnType<typeof createFanout<E>>
