// The order service's replica of the product catalog (SQL), fed by the inventory service's raw change stream
// (catalog-changes.ts). Orders are priced from it, so placing an order never calls the inventory service.
// Records may arrive twice or late: every write is fenced by the inventory row's version.
import type { CatalogProduct } from './pricing.ts'
import type { Db } from './order-store.ts'

export async function findProducts(db: Db, productIds: string[]): Promise<Map<string, CatalogProduct>> {
  if (productIds.length === 0) return new Map()
  const rows = await db.selectFrom('catalog_products').selectAll().where('product_id', 'in', productIds).execute()
  return new Map(
    rows.map((r) => [
      r.product_id,
      { productId: r.product_id, productName: r.product_name, unitPriceCents: r.unit_price_cents, isActive: r.is_active, isDiscontinued: r.is_discontinued },
    ]),
  )
}

export interface CatalogRow {
  productId: string
  inventoryItemId: string | null
  productName: string
  unitPriceCents: number
  isActive: boolean
  isDiscontinued: boolean
  version: number
  updatedAt: Date
}

/**
 * Inserts or replaces the product unless the replica already holds the same or a newer version of it.
 * A different inventory row for the same product (deleted and created again) starts its own version count.
 */
export async function upsertProduct(db: Db, p: CatalogRow): Promise<boolean> {
  const r = await db
    .insertInto('catalog_products')
    .values({
      product_id: p.productId,
      inventory_item_id: p.inventoryItemId,
      product_name: p.productName,
      unit_price_cents: p.unitPriceCents,
      is_active: p.isActive,
      is_discontinued: p.isDiscontinued,
      version: p.version,
      updated_at: p.updatedAt,
    })
    .onConflict((oc) =>
      oc
        .column('product_id')
        .doUpdateSet((eb) => ({
          inventory_item_id: eb.ref('excluded.inventory_item_id'),
          product_name: eb.ref('excluded.product_name'),
          unit_price_cents: eb.ref('excluded.unit_price_cents'),
          is_active: eb.ref('excluded.is_active'),
          is_discontinued: eb.ref('excluded.is_discontinued'),
          version: eb.ref('excluded.version'),
          updated_at: eb.ref('excluded.updated_at'),
        }))
        .where((eb) =>
          eb.or([
            eb('catalog_products.version', '<', eb.ref('excluded.version')),
            eb('catalog_products.inventory_item_id', 'is distinct from', eb.ref('excluded.inventory_item_id')),
          ]),
        ),
    )
    .returning('product_id')
    .executeTakeFirst()
  return r !== undefined
}

/**
 * A deleted inventory row: its product can no longer be ordered. Without REPLICA IDENTITY FULL the change
 * carries only the row id, which is enough: a delete is the last change of that row, and a product created
 * again gets a new row id.
 */
export async function markDeleted(db: Db, ref: { inventoryItemId: string | null; productId: string | null; version: number | null; at: Date }): Promise<number> {
  let q = db.updateTable('catalog_products').set({ is_active: false, updated_at: ref.at })
  if (ref.inventoryItemId) q = q.where('inventory_item_id', '=', ref.inventoryItemId)
  else if (ref.productId) {
    q = q.where('product_id', '=', ref.productId)
    if (ref.version) q = q.where('version', '<=', ref.version)
  } else return 0
  const r = await q.executeTakeFirst()
  return Number(r.numUpdatedRows)
}
