// The item cache (GET /api/inventory/items/{productId}): cache-aside in Redis, keyed by product id and fenced by the
// item row's version, which every stock or field change bumps. Lists, stats and reservations are not cached: they
// span many rows and their queries are cheap next to keeping cached copies right.
//
// How an entry changes, always after the commit:
//   - the writer (HTTP request path) calls `written` / `deleted` / `refresh` once its transaction committed;
//   - the raw CDC topic trackops_inventory.public.inventory_items (group inventory-cache) carries the whole row, so
//     `createItemChangeHandler` (item-changes.ts) warms the entry with it. Stock moved by the saga (reservations,
//     commits, releases, expiry) commits inside the consumer runner's or the sweeper's transaction and reaches the cache only this way:
//     such an item is stale for at most the CDC lag. There are no item domain events, so this consumer runs under
//     both publishing strategies (the inventory-cdc connector runs under the outbox strategy too);
//   - the TTL (with jitter) as a backstop.
import type { Logger } from 'pino'
import type { Redis } from '@trackops/runtime'
import { createRowCache, type Codec } from '@trackops/cache'
import { findItem, type Item } from './item-store.ts'
import type { Db } from './inventory-db.ts'

export const ITEM_CACHE_NAME = 'inventory-items'

const codec: Codec<Item> = {
  encode: (item) => JSON.stringify(item),
  decode: (text) => {
    const i = JSON.parse(text) as Omit<Item, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string }
    if (typeof i.productId !== 'string' || typeof i.availableQuantity !== 'number') throw new Error('not a cached item')
    return { ...i, createdAt: new Date(i.createdAt), updatedAt: new Date(i.updatedAt) }
  },
}

export function createItemCache(deps: { redis: Redis; db: Db; logger: Logger; ttlSeconds: number; jitterSeconds: number; keyPrefix?: string }) {
  const rows = createRowCache<Item>({
    ...deps,
    name: ITEM_CACHE_NAME,
    codec,
    read: (productId) => findItem(deps.db, productId),
    idOf: (item) => item.productId,
    versionOf: (item) => item.version,
  })
  return {
    ...rows,
    /** A deleted item: a tombstone above its last version, so no late change of the old row can bring it back. */
    deleted: (item: Item) => rows.cache.invalidate(item.productId, item.version + 1),
  }
}
export type ItemCache = ReturnType<typeof createItemCache>
