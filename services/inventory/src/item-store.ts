// SQL for items, their stock movements and adjustments. Each stock change is a guarded UPDATE whose WHERE re-checks
// the rule, so even a caller that skipped the row lock could not oversell; the table's CHECK constraints are the last line.
import { sql, type Selectable } from 'kysely'
import { centsOfDecimalText, decimalTextOfCents } from '@trackops/contracts'
import type { AdjustmentReason, ItemState } from './stock.ts'
import type { Db, InventoryDb } from './inventory-db.ts'

/** An item row: the fields an operator maintains (ItemState, stock.ts) plus identity, stock counters and version. */
export interface Item extends ItemState {
  id: string
  productId: string
  reservedQuantity: number
  soldQuantity: number
  onHandQuantity: number
  createdAt: Date
  updatedAt: Date
  version: number
}

type ItemRow = Selectable<InventoryDb['inventory_items']>
/** unit_price is numeric(10,2): its text is always whole cents. */
function centsOfPrice(text: string): number {
  const cents = centsOfDecimalText(text)
  if (cents === null) throw new Error(`unit_price is not a whole number of cents: ${text}`)
  return cents
}
const itemOf = (r: ItemRow): Item => ({
  id: r.id,
  productId: r.product_id,
  productName: r.product_name,
  description: r.description,
  availableQuantity: r.available_quantity,
  reservedQuantity: r.reserved_quantity,
  soldQuantity: r.sold_quantity,
  onHandQuantity: r.on_hand_quantity,
  unitPriceCents: centsOfPrice(r.unit_price),
  category: r.category,
  minStockLevel: r.min_stock_level,
  maxStockLevel: r.max_stock_level,
  reorderQuantity: r.reorder_quantity,
  isActive: r.is_active,
  isDiscontinued: r.is_discontinued,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: Number(r.version),
})

/** The one read of a single item (a cache will wrap this). */
export async function findItem(db: Db, productId: string): Promise<Item | null> {
  const row = await db.selectFrom('inventory_items').selectAll().where('product_id', '=', productId).executeTakeFirst()
  return row ? itemOf(row) : null
}

/**
 * Row locks in one fixed order (product id, byte order) so concurrent multi-product transactions cannot deadlock.
 * In a transaction that holds its stock (holdStock), an item locked before is answered from memory, as the
 * stock movements of the transaction left it.
 */
export async function lockItems(tx: Db, productIds: readonly string[]): Promise<Map<string, Item>> {
  if (productIds.length === 0) return new Map()
  const held = holding.get(tx)
  const missing = held ? [...new Set(productIds)].filter((id) => !held.items.has(id)) : [...productIds]
  const rows = missing.length === 0 ? [] : (await sql<ItemRow>`
    SELECT * FROM inventory_items WHERE product_id = ANY(${missing}::text[])
    ORDER BY product_id COLLATE "C" FOR UPDATE`.execute(tx)).rows
  if (!held) return new Map(rows.map((r) => [r.product_id, itemOf(r)]))
  for (const r of rows) held.items.set(r.product_id, itemOf(r))
  return new Map(productIds.flatMap((id) => {
    const item = held.items.get(id)
    return item ? [[id, item] as const] : []
  }))
}

export async function lockItem(tx: Db, productId: string): Promise<Item | null> {
  return (await lockItems(tx, [productId])).get(productId) ?? null
}

/** A new item starts active and not discontinued. */
export type NewItem = Pick<Item, 'id' | 'productId'> & Omit<ItemState, 'isActive' | 'isDiscontinued'>

/** Null when the product id is taken. */
export async function insertItem(tx: Db, item: NewItem, now: Date): Promise<Item | null> {
  const row = await tx
    .insertInto('inventory_items')
    .values({
      id: item.id,
      product_id: item.productId,
      product_name: item.productName,
      description: item.description,
      available_quantity: item.availableQuantity,
      on_hand_quantity: item.availableQuantity,
      unit_price: decimalTextOfCents(item.unitPriceCents),
      category: item.category,
      min_stock_level: item.minStockLevel,
      max_stock_level: item.maxStockLevel,
      reorder_quantity: item.reorderQuantity,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('product_id').doNothing())
    .returningAll()
    .executeTakeFirst()
  return row ? itemOf(row) : null
}

export interface ItemChanges {
  productName?: string
  description?: string | null
  unitPriceCents?: number
  category?: string | null
  minStockLevel?: number | null
  maxStockLevel?: number | null
  reorderQuantity?: number | null
  isActive?: boolean
  isDiscontinued?: boolean
}

export async function updateItemFields(tx: Db, productId: string, c: ItemChanges, now: Date): Promise<Item> {
  const row = await tx
    .updateTable('inventory_items')
    .set({
      ...(c.productName !== undefined && { product_name: c.productName }),
      ...(c.description !== undefined && { description: c.description }),
      ...(c.unitPriceCents !== undefined && { unit_price: decimalTextOfCents(c.unitPriceCents) }),
      ...(c.category !== undefined && { category: c.category }),
      ...(c.minStockLevel !== undefined && { min_stock_level: c.minStockLevel }),
      ...(c.maxStockLevel !== undefined && { max_stock_level: c.maxStockLevel }),
      ...(c.reorderQuantity !== undefined && { reorder_quantity: c.reorderQuantity }),
      ...(c.isActive !== undefined && { is_active: c.isActive }),
      ...(c.isDiscontinued !== undefined && { is_discontinued: c.isDiscontinued }),
      updated_at: now,
      version: sql`version + 1`,
    })
    .where('product_id', '=', productId)
    .returningAll()
    .executeTakeFirstOrThrow()
  return itemOf(row)
}

export async function deleteItem(tx: Db, productId: string): Promise<void> {
  await tx.deleteFrom('inventory_items').where('product_id', '=', productId).execute()
}

/** What a stock movement adds to each counter; every counter must stay ≥ 0 (the table's CHECK constraints). */
interface StockMove {
  available: number
  reserved: number
  sold: number
  onHand: number
}
const noMove: StockMove = { available: 0, reserved: 0, sold: 0, onHand: 0 }

/**
 * Transactions that hold their stock movements (a batch of commands): each movement is checked and applied to the
 * locked item in memory, and `writeHeldStock` writes the sum of a product's movements in one row update, one
 * statement for all products — a product every order of the batch takes is one update per batch, not per order.
 */
const holding = new WeakMap<object, { items: Map<string, Item>; moves: Map<string, StockMove & { at: Date }> }>()

export function holdStock(tx: Db): void {
  holding.set(tx, { items: new Map(), moves: new Map() })
}

/** Writes the held movements (guarded again by the CHECK constraints); must run before the commit. */
export async function writeHeldStock(tx: Db): Promise<void> {
  const held = holding.get(tx)
  holding.delete(tx)
  if (!held || held.moves.size === 0) return
  const rows = [...held.moves].map(([productId, m]) => ({ product_id: productId, ...m }))
  const r = await sql<{ product_id: string }>`
    UPDATE inventory_items i SET available_quantity = i.available_quantity + v.available,
      reserved_quantity = i.reserved_quantity + v.reserved, sold_quantity = i.sold_quantity + v.sold,
      on_hand_quantity = i.on_hand_quantity + v."onHand", updated_at = v.at, version = i.version + 1
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS v(product_id text, available integer, reserved integer, sold integer, "onHand" integer, at timestamptz)
    WHERE i.product_id = v.product_id
    RETURNING i.product_id`.execute(tx)
  if (r.rows.length !== rows.length) throw new Error(`${rows.length - r.rows.length} of ${rows.length} items vanished under their row locks`)
}

const keepsStock = (i: Pick<Item, 'availableQuantity' | 'reservedQuantity' | 'soldQuantity' | 'onHandQuantity'>, m: StockMove) =>
  i.availableQuantity + m.available >= 0 && i.reservedQuantity + m.reserved >= 0 && i.soldQuantity + m.sold >= 0 && i.onHandQuantity + m.onHand >= 0

async function updateStock(tx: Db, productId: string, what: string, move: Partial<StockMove>, now: Date, opts: { sellable?: boolean } = {}): Promise<Item> {
  const m = { ...noMove, ...move }
  const held = holding.get(tx)
  if (held) {
    const before = held.items.get(productId) ?? (await lockItems(tx, [productId])).get(productId)
    // Callers check the rule under the row lock first, so a refused guard means a broken invariant: abort.
    if (!before || !keepsStock(before, m) || (opts.sellable && (!before.isActive || before.isDiscontinued))) throw new Error(`stock guard refused ${what} for ${productId}`)
    const after: Item = {
      ...before,
      availableQuantity: before.availableQuantity + m.available,
      reservedQuantity: before.reservedQuantity + m.reserved,
      soldQuantity: before.soldQuantity + m.sold,
      onHandQuantity: before.onHandQuantity + m.onHand,
      updatedAt: now,
      version: before.version + 1,
    }
    held.items.set(productId, after)
    const sum = held.moves.get(productId) ?? { ...noMove, at: now }
    held.moves.set(productId, { available: sum.available + m.available, reserved: sum.reserved + m.reserved, sold: sum.sold + m.sold, onHand: sum.onHand + m.onHand, at: now })
    return after
  }
  const r = await sql<ItemRow>`
    UPDATE inventory_items SET available_quantity = available_quantity + ${m.available},
      reserved_quantity = reserved_quantity + ${m.reserved}, sold_quantity = sold_quantity + ${m.sold},
      on_hand_quantity = on_hand_quantity + ${m.onHand}, updated_at = ${now}, version = version + 1
    WHERE product_id = ${productId}
      AND available_quantity + ${m.available} >= 0 AND reserved_quantity + ${m.reserved} >= 0
      AND sold_quantity + ${m.sold} >= 0 AND on_hand_quantity + ${m.onHand} >= 0
      ${opts.sellable ? sql`AND is_active AND NOT is_discontinued` : sql``}
    RETURNING *`.execute(tx)
  const row = r.rows[0]
  // Callers check the rule under the row lock first, so a refused guard means a broken invariant: abort.
  if (!row) throw new Error(`stock guard refused ${what} for ${productId}`)
  return itemOf(row)
}

/** available → reserved. */
export const reserveQuantity = (tx: Db, productId: string, q: number, now: Date) =>
  updateStock(tx, productId, `reserving ${q}`, { available: -q, reserved: q }, now, { sellable: true })

/** reserved → available (release, expiry). */
export const unreserveQuantity = (tx: Db, productId: string, q: number, now: Date) =>
  updateStock(tx, productId, `releasing ${q}`, { available: q, reserved: -q }, now)

/** reserved → sold: the units leave the warehouse's on-hand stock. */
export const commitQuantity = (tx: Db, productId: string, q: number, now: Date) =>
  updateStock(tx, productId, `committing ${q}`, { reserved: -q, sold: q, onHand: -q }, now)

/** sold → available: a confirmed order was cancelled and its units are back on hand. */
export const restockQuantity = (tx: Db, productId: string, q: number, now: Date) =>
  updateStock(tx, productId, `restocking ${q}`, { available: q, sold: -q, onHand: q }, now)

/** Received / written off / corrected: available and on hand move together. */
export const adjustQuantity = (tx: Db, productId: string, delta: number, now: Date) =>
  updateStock(tx, productId, `adjusting by ${delta}`, { available: delta, onHand: delta }, now)

export async function insertAdjustment(
  tx: Db,
  a: { id: string; itemId: string; productId: string; quantity: number; reason: AdjustmentReason | 'INITIAL'; note: string | null; actor: string; availableBefore: number; availableAfter: number },
  now: Date,
) {
  const row = await tx
    .insertInto('inventory_adjustments')
    .values({
      id: a.id,
      item_id: a.itemId,
      product_id: a.productId,
      quantity: a.quantity,
      reason: a.reason,
      note: a.note,
      actor: a.actor,
      available_before: a.availableBefore,
      available_after: a.availableAfter,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return adjustmentOf(row)
}

const adjustmentOf = (r: Selectable<InventoryDb['inventory_adjustments']>) => ({
  id: r.id,
  productId: r.product_id,
  quantity: r.quantity,
  reason: r.reason,
  note: r.note,
  actor: r.actor,
  availableBefore: r.available_before,
  availableAfter: r.available_after,
  createdAt: r.created_at,
})
export type Adjustment = ReturnType<typeof adjustmentOf>

export async function listAdjustments(db: Db, productId: string, limit: number) {
  const rows = await db.selectFrom('inventory_adjustments').selectAll().where('product_id', '=', productId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute()
  return rows.map(adjustmentOf)
}

export const itemSortColumns = {
  productName: 'product_name',
  availableQuantity: 'available_quantity',
  unitPrice: 'unit_price',
  createdAt: 'created_at',
} as const
export type ItemSort = keyof typeof itemSortColumns

export async function listItems(db: Db, q: { page: number; size: number; category?: string; sort: ItemSort; dir: 'asc' | 'desc' }) {
  let query = db.selectFrom('inventory_items')
  if (q.category !== undefined) query = query.where('category', '=', q.category)
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy(itemSortColumns[q.sort], q.dir).orderBy('product_id').limit(q.size).offset(q.page * q.size).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ])
  return { items: rows.map(itemOf), total: Number(total.n) }
}

export async function availableItems(db: Db, minQuantity: number) {
  const rows = await db
    .selectFrom('inventory_items')
    .selectAll()
    .where('available_quantity', '>=', Math.max(1, minQuantity))
    .where('is_active', '=', true)
    .where('is_discontinued', '=', false)
    .orderBy('product_name')
    .orderBy('product_id')
    .execute()
  return rows.map(itemOf)
}

export async function itemStats(db: Db) {
  const r = await sql<Record<string, number>>`
    SELECT count(*)::int AS "totalItems",
           coalesce(sum(available_quantity), 0)::bigint AS "totalAvailableQuantity",
           coalesce(sum(reserved_quantity), 0)::bigint AS "totalReservedQuantity",
           coalesce(sum(sold_quantity), 0)::bigint AS "totalSoldQuantity",
           count(*) FILTER (WHERE available_quantity <= 0)::int AS "outOfStockItems",
           count(*) FILTER (WHERE is_active)::int AS "activeItems",
           count(*) FILTER (WHERE min_stock_level IS NOT NULL AND available_quantity <= min_stock_level)::int AS "lowStockItems",
           count(*) FILTER (WHERE is_discontinued)::int AS "discontinuedItems"
    FROM inventory_items`.execute(db)
  const row = r.rows[0] ?? {}
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as Record<
    'totalItems' | 'totalAvailableQuantity' | 'totalReservedQuantity' | 'totalSoldQuantity' | 'outOfStockItems' | 'activeItems' | 'lowStockItems' | 'discontinuedItems',
    number
  >
}
