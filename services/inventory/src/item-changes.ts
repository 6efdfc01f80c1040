// The item cache's change stream (group inventory-cache): raw Debezium images of inventory_items rows. The row image
// is the whole item, so a change warms the entry; the version fence refuses a late or replayed image.
import type { Logger } from 'pino'
import type { RowChange } from '@trackops/messaging'
import { observeInvalidationLag, type EntityCache } from '@trackops/cache'
import { centsOfDecimalText } from '@trackops/contracts'
import type { Item } from './item-store.ts'

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
  const unitPriceCents = typeof row.unit_price === 'string' ? centsOfDecimalText(row.unit_price) : null
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
    observeInvalidationLag(deps.cache.name, change.committedAt, outcome)
  }
}
