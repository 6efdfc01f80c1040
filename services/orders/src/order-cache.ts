// The order cache: one order with its items (GET /api/orders/{id}, /items, and the visibility check of /history),
// cache-aside in Redis and fenced by the order row's version, which every committed change of the order bumps
// (its items are written once, with the order). List endpoints are not cached: a page depends on many rows and
// its invalidation would cost more than the query.
//
// Three ways an entry changes, all after the commit:
//   - the writer (HTTP request path) calls `written` with the state it committed, so its next read shows it;
//   - every committed change reaches `createOrderChangeHandler` (order-changes.ts) from the raw CDC topic (debezium strategy) or
//     from the ORDER_* domain events (outbox strategy). The orders row image lacks the items, so the handler
//     leaves a tombstone with the row's version instead of warming; the next read loads the order and its items;
//   - the TTL (with jitter) as a backstop.
// Saga-driven changes commit inside the consumer runner's transaction, where nothing can run after the commit:
// they reach the cache only through the change stream, so such an order is stale for at most the CDC lag.
import type { Logger } from 'pino'
import type { Redis } from '@trackops/runtime'
import { createRowCache, type Codec } from '@trackops/cache'
import { isOrderStatus, type Order } from './order.ts'
import { getOrder, type Db } from './order-store.ts'

/** What the cache holds: the order without its payment token, which has no business in Redis. */
export type CachedOrder = Omit<Order, 'paymentToken'>

export const cachedOrder = (o: CachedOrder): CachedOrder => ({
  id: o.id,
  customerId: o.customerId,
  status: o.status,
  totalCents: o.totalCents,
  currency: o.currency,
  address: o.address,
  deliveryInstructions: o.deliveryInstructions,
  items: o.items,
  cancellationReason: o.cancellationReason,
  cancelledBy: o.cancelledBy,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
  version: o.version,
})

const codec: Codec<CachedOrder> = {
  encode: (o) => JSON.stringify(cachedOrder(o)),
  decode: (text) => {
    const o = JSON.parse(text) as Omit<CachedOrder, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string }
    if (typeof o.id !== 'string' || !isOrderStatus(o.status) || !Array.isArray(o.items)) throw new Error('not a cached order')
    // An entry written before orders carried their cancellation is reloaded rather than served without it.
    if (!('cancelledBy' in o) || !('cancellationReason' in o)) throw new Error('a cached order without its cancellation fields')
    return { ...o, createdAt: new Date(o.createdAt), updatedAt: new Date(o.updatedAt) }
  },
}

export const ORDER_CACHE_NAME = 'orders'

export function createOrderCache(deps: { redis: Redis; db: Db; logger: Logger; ttlSeconds: number; jitterSeconds: number; keyPrefix?: string }) {
  const rows = createRowCache<CachedOrder>({
    ...deps,
    name: ORDER_CACHE_NAME,
    codec,
    read: async (id) => {
      const order = await getOrder(deps.db, id)
      return order ? cachedOrder(order) : null
    },
    idOf: (order) => order.id,
    versionOf: (order) => order.version,
  })
  return {
    ...rows,
    /** The writer, after its transaction committed: its next read shows what it wrote (never its payment token). */
    written: (order: CachedOrder) => rows.written(cachedOrder(order)),
  }
}
export type OrderCache = ReturnType<typeof createOrderCache>
