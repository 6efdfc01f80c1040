// The item cache (GET /api/inventory/items/{productId}): cache-aside in Redis, keyed by product id and fenced by the
// item row's version, which every stock or field change bumps. Lists, stats and reservations are not cached: they
// span many rows and their queries are cheap next to keeping cached copies right.
//
// How an entry changes, always after the commit:
//   - the writer (HTTP request path) calls `written` / `deleted` / `refresh` once its transaction committed;
//   - the raw CDC topic trackops_inventory.public.inventory_items (group inventory-cache) carries the whole row, so
//     `createItemChangeHandler` warms the entry with it. Stock moved by the saga (reservations, commits, releases,
//     expiry) commits inside the consumer runner's or the sweeper's transaction and reaches the cache only this way:
//     such an item is stale for at most the CDC lag. There are no item domain events, so this consumer runs under
//     both publishing strategies (the inventory-cdc connector runs under the outbox strategy too);
//   - the TTL (with jitter) as a backstop.
import client from 'prom-client'
import type { Logger } from 'pino'
import type { Redis } from '@trackops/runtime'
import type { RowChange } from '@trackops/messaging'
import { createEntityCache, type Codec, type EntityCache } from '@trackops/cache'
import { centsOfNumeric } from './stock.ts'
import { findItem, type Db, type Item } from './inventory-store.ts'

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
  const cache = createEntityCache<Item>({
    redis: deps.redis,
    name: ITEM_CACHE_NAME,
    ttlSeconds: deps.ttlSeconds,
    jitterSeconds: deps.jitterSeconds,
    logger: deps.logger,
    codec,
    ...(deps.keyPrefix ? { keyPrefix: deps.keyPrefix } : {}),
    load: async (productId) => {
      const item = await findItem(deps.db, productId)
      return item ? { value: item, version: item.version } : null
    },
  })
  return {
    cache,
    get: (productId: string) => cache.get(productId),
    /** The writer, after its transaction committed: its next read shows what it wrote. */
    written: (item: Item) => cache.afterWrite(item.productId, item, item.version),
    /** A deleted item: a tombstone above its last version, so no late change of the old row can bring it back. */
    deleted: (item: Item) => cache.invalidate(item.productId, item.version + 1),
    /** After a commit that moved stock of these items (an operator's hold): reads the committed rows and warms them. */
    async refresh(productIds: readonly string[]) {
      for (const productId of new Set(productIds)) {
        const item = await findItem(deps.db, productId)
        if (item) await cache.afterWrite(item.productId, item, item.version)
      }
    },
  }
}
export type ItemCache = ReturnType<typeof createItemCache>

// --- the change stream --------------------------------------------------------------------------------------------

const text = (v: unknown) => (typeof v === 'string' ? v : null)
const integer = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : null)
const nullableInteger = (v: unknown) => (v === null || v === undefined ? null : integer(v))
const date = (v: unknown) => {
  const d = typeof v === 'string' || typeof v === 'number' ? new Date(v) : null
  return d && !Number.isNaN(d.getTime()) ? d : null
}

/**
 * An inventory_items row as Debezium sends it (numeric as a string, timestamps as ISO strings, bigint as a number)
 * → the item, exactly as findItem would read it; null when a column is missing or malformed.
 */
export function itemOfRow(row: Record<string, unknown>): Item | null {
  const id = text(row.id)
  const productId = text(row.product_id)
  const productName = text(row.product_name)
  const available = integer(row.available_quantity)
  const reserved = integer(row.reserved_quantity)
  const sold = integer(row.sold_quantity)
  const onHand = integer(row.on_hand_quantity)
  const version = integer(row.version)
  const createdAt = date(row.created_at)
  const updatedAt = date(row.updated_at)
  let unitPriceCents: number | null = null
  try {
    unitPriceCents = typeof row.unit_price === 'string' ? centsOfNumeric(row.unit_price) : null
  } catch {
    unitPriceCents = null
  }
  if (!id || !productId || productName === null || available === null || reserved === null || sold === null || onHand === null) return null
  if (version === null || createdAt === null || updatedAt === null || unitPriceCents === null) return null
  if (typeof row.is_active !== 'boolean' || typeof row.is_discontinued !== 'boolean') return null
  return {
    id,
    productId,
    productName,
    description: text(row.description),
    availableQuantity: available,
    reservedQuantity: reserved,
    soldQuantity: sold,
    onHandQuantity: onHand,
    unitPriceCents,
    category: text(row.category),
    minStockLevel: nullableInteger(row.min_stock_level),
    maxStockLevel: nullableInteger(row.max_stock_level),
    reorderQuantity: nullableInteger(row.reorder_quantity),
    isActive: row.is_active,
    isDiscontinued: row.is_discontinued,
    createdAt,
    updatedAt,
    version,
  }
}

const invalidationLag =
  (client.register.getSingleMetric('trackops_cache_invalidation_lag_seconds') as client.Histogram | undefined) ??
  new client.Histogram({
    name: 'trackops_cache_invalidation_lag_seconds',
    help: 'From the commit of a change (Debezium source.ts_ms, or the domain event time) to its invalidation or warm applied in Redis.',
    labelNames: ['cache'],
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
  })

/**
 * The handler of the inventory-cache change consumer. The row image is the whole item, so a change warms the entry;
 * the version fence refuses a late or replayed image, so applying a record twice or out of order changes nothing.
 */
export function createItemChangeHandler(deps: { cache: EntityCache<Item>; logger: Logger }) {
  return async (change: RowChange): Promise<void> => {
    let outcome: 'applied' | 'ignored' | 'deferred'
    switch (change.op) {
      case 'c':
      case 'u':
      case 'r': {
        if (!change.after) return
        const item = itemOfRow(change.after)
        if (item) {
          outcome = await deps.cache.warm(item.productId, item, item.version)
          break
        }
        // A row this code cannot read: drop what the cache holds below its version rather than serve it.
        const productId = text(change.after.product_id)
        const version = integer(change.after.version)
        if (!productId || version === null) {
          deps.logger.error({ topic: change.topic, key: change.key }, 'inventory change without product_id or version skipped')
          return
        }
        deps.logger.warn({ topic: change.topic, productId }, 'unreadable inventory row image; invalidating instead of warming')
        outcome = await deps.cache.invalidate(productId, version)
        break
      }
      case 'd': {
        // Without REPLICA IDENTITY FULL a delete carries only the row id, not the product id the cache is keyed by:
        // the deleting request leaves the tombstone (ItemCache.deleted), the TTL covers anything else.
        const productId = text(change.before?.product_id)
        const version = integer(change.before?.version)
        if (!productId || version === null) return
        outcome = await deps.cache.invalidate(productId, version + 1)
        break
      }
      default: {
        const op: never = change.op
        deps.logger.warn({ op, topic: change.topic }, 'unknown change operation ignored')
        return
      }
    }
    if (outcome !== 'deferred') invalidationLag.observe({ cache: deps.cache.name }, Math.max(0, Date.now() - change.committedAt) / 1000)
  }
}
