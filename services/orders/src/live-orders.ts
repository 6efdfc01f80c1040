// Live order updates: what the SSE routes (live-routes.ts: GET /api/orders/{id}/events for the order's owner or
// staff, GET /api/orders/events for staff) send.
//
// Fed by the change stream, after commit: the order change handler (order-changes.ts) calls publishChange for each
// committed change of an order row (status changes; with the previous status, cause and reason from the history
// row written in the same transaction). The event goes through Redis (createFanout: a per-order stream for
// Last-Event-ID resume plus pub/sub), so every copy of the service sees every change whichever copy consumed it.
// Saga steps that do not change the order row (inventory reserved, payment in progress) are not announced: they
// commit inside the consumer runner's transaction and the saga tables are not captured; the stream carries the
// order's status changes, which include the saga's outcomes (CONFIRMED, CANCELLED with its reason).
//
// Delivery is at-least-once upstream; a Redis fence (the last version published per order) publishes each version
// once and never an older one after a newer. Each client has its own bounded queue: a slow client is cut off
// (it reconnects with Last-Event-ID) and never slows the listener or the other clients.
import type { Logger } from 'pino'
import type { Redis } from '@trackops/runtime'
import { createFanout, type Fanout } from '@trackops/live'
import type { OrderStatus } from './order.ts'
import type { Db } from './order-store.ts'
import { findHistoryEntry, type HistoryEntry } from './history-store.ts'
import type { OrderChange } from './order-changes.ts'

/** `data:` of every live event. */
export interface OrderEvent {
  orderId: string
  status: OrderStatus
  previousStatus: OrderStatus | null
  reason: string | null
  cause: string | null
  version: number
  at: string
}

export const LIVE_CHANNEL = 'trackops:orders:live'
/**
 * An order's live events are kept for resume this long after its last one (ORDER_LIVE_HISTORY_TTL_SECONDS): a client
 * back later gets the snapshot instead. Each order's history is a Redis stream of about 5 KB, so Redis holds rate ×
 * TTL × 5 KB of them (10 orders/s for 15 minutes: ≈ 45 MB). The last version announced is remembered four times as
 * long (about 120 bytes an order), so a record redelivered within that time is not announced again.
 */
const DEFAULT_HISTORY_TTL_SECONDS = 900
const FENCE_TTL_FACTOR = 4
export const HEARTBEAT_MS = 15_000

// Compare-and-set of the last version published for an order, so replays and late records are not announced.
const FENCE = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`

/** An order's state as an event; `entry` is the history row that led to it (null when unknown). */
export const orderEventOf = (state: { orderId: string; status: OrderStatus; version: number }, entry: HistoryEntry | null, at: Date): OrderEvent => ({
  orderId: state.orderId,
  status: state.status,
  previousStatus: entry?.from ?? null,
  reason: entry?.reason ?? null,
  cause: entry?.cause ?? null,
  version: state.version,
  at: at.toISOString(),
})

export function createLiveOrders(deps: { db: Db; redis: Redis; redisUrl: string; logger: Logger; channel?: string; historyTtlSeconds?: number }) {
  const channel = deps.channel ?? LIVE_CHANNEL
  const historyTtlSeconds = deps.historyTtlSeconds ?? DEFAULT_HISTORY_TTL_SECONDS
  const fanout: Fanout<OrderEvent> = createFanout<OrderEvent>({ redis: deps.redisUrl, channel, logger: deps.logger, historyTtlSeconds })

  /** The change as an event: previous status, cause and reason come from the history row of that version. */
  async function eventOf(change: OrderChange & { status: OrderStatus }): Promise<OrderEvent> {
    const entry = await findHistoryEntry(deps.db, change.orderId, change.version)
    return orderEventOf(change, entry, entry?.at ?? new Date(change.committedAt))
  }

  return {
    fanout,
    channel,
    /** Announces a committed change once; Redis failing loses the announcement, never the change (it is in the database). */
    async publishChange(change: OrderChange): Promise<string | null> {
      if (!change.status) return null
      const event = await eventOf({ ...change, status: change.status })
      let fresh: unknown
      try {
        if (deps.redis.status !== 'ready') return null
        fresh = await deps.redis.eval(FENCE, 1, `${channel}:published:${change.orderId}`, change.version, historyTtlSeconds * FENCE_TTL_FACTOR)
      } catch (error) {
        deps.logger.debug({ err: error, orderId: change.orderId }, 'live update not announced: Redis failed')
        return null
      }
      if (fresh !== 1) return null
      return fanout.publish(change.orderId, event)
    },
    stats: () => fanout.stats(),
    close: () => fanout.close(),
  }
}
export type LiveOrders = ReturnType<typeof createLiveOrders>
