// The change stream of inventory_items (trackops_inventory.public.inventory_items, group orders-catalog) applied to
// the catalog replica: Debezium's row images turned into catalog rows, each write fenced by the row's version.
import type { Logger } from 'pino'
import type { RowChange } from '@trackops/messaging'
import { centsOfDecimalText } from '@trackops/contracts'
import type { Db } from './order-store.ts'
import { upsertProduct, markDeleted, type CatalogRow } from './catalog.ts'

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null)
const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null)
const date = (v: unknown, fallback: number) => {
  const d = typeof v === 'string' || typeof v === 'number' ? new Date(v) : null
  return d && !Number.isNaN(d.getTime()) ? d : new Date(fallback)
}

/** An inventory_items row as Debezium sends it (numeric as a string, timestamps as ISO strings) → catalog row. */
export function catalogRowOf(after: Record<string, unknown>, committedAt: number): CatalogRow | { problem: string } {
  const productId = str(after.product_id)
  const productName = typeof after.product_name === 'string' ? after.product_name : null
  const price = typeof after.unit_price === 'string' ? centsOfDecimalText(after.unit_price) : typeof after.unit_price === 'number' ? Math.round(after.unit_price * 100) : null
  const version = int(after.version)
  if (!productId || productName === null || price === null || price < 0 || version === null) {
    return { problem: `inventory row lacks product_id, product_name, unit_price or version (got ${JSON.stringify({ productId, price, version })})` }
  }
  return {
    productId,
    inventoryItemId: str(after.id),
    productName,
    unitPriceCents: price,
    isActive: after.is_active !== false,
    isDiscontinued: after.is_discontinued === true,
    version,
    updatedAt: date(after.updated_at, committedAt),
  }
}

/** The handler of the `orders-catalog` change consumer. Idempotent: applying a change twice changes nothing. */
export function createCatalogChangeHandler(deps: { db: Db; logger: Logger }) {
  return async (change: RowChange): Promise<void> => {
    switch (change.op) {
      case 'c':
      case 'u':
      case 'r': {
        if (!change.after) return
        const row = catalogRowOf(change.after, change.committedAt)
        if ('problem' in row) {
          // Retrying cannot fix a malformed row; the next change of the row repairs the replica.
          deps.logger.error({ topic: change.topic, key: change.key }, `catalog change skipped: ${row.problem}`)
          return
        }
        await upsertProduct(deps.db, row)
        return
      }
      case 'd': {
        const before = change.before ?? {}
        await markDeleted(deps.db, { inventoryItemId: str(before.id), productId: str(before.product_id), version: int(before.version), at: new Date(change.committedAt) })
        return
      }
      default: {
        const op: never = change.op
        deps.logger.warn({ op, topic: change.topic }, 'unknown change operation ignored')
      }
    }
  }
}
