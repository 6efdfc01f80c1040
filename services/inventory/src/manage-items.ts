// Creating, changing and deleting items. Stock itself changes only through reservations and adjustments:
// an initial quantity is recorded as an INITIAL adjustment, and an availableQuantity sent with an update is
// applied as a CORRECTION adjustment, so the audit trail always explains the on-hand stock. Each use case owns its
// transaction (the LOW_STOCK alert of an update commits with it).
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { applyItemPatch, lowStockAlert, stockLevelsProblem, type ItemPatch } from './stock.ts'
import {
  adjustQuantity, deleteItem as deleteRow, insertAdjustment, insertItem, lockItem, updateItemFields, type Item, type NewItem,
} from './item-store.ts'
import { hasActiveReservations } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'

type Deps = { now: () => Date; newId: () => string }
export type ItemOutcome = { ok: true; item: Item } | { ok: false; kind: 'not-found' | 'exists' | 'unprocessable' | 'negative' | 'reserved'; message: string }

export async function createItem(db: Db, deps: Deps, input: Omit<NewItem, 'id'>, actor: string): Promise<ItemOutcome> {
  const levels = stockLevelsProblem(input.minStockLevel, input.maxStockLevel)
  if (levels) return { ok: false, kind: 'unprocessable', message: levels }
  return db.transaction().execute((tx) => insertNewItem(tx, deps, input, actor))
}

async function insertNewItem(tx: Db, deps: Deps, input: Omit<NewItem, 'id'>, actor: string): Promise<ItemOutcome> {
  const now = deps.now()
  const item = await insertItem(tx, { ...input, id: deps.newId() }, now)
  if (!item) return { ok: false, kind: 'exists', message: 'An item with that productId already exists.' }
  await insertAdjustment(tx, {
    id: deps.newId(),
    itemId: item.id,
    productId: item.productId,
    quantity: item.availableQuantity,
    reason: 'INITIAL',
    note: 'stock at creation',
    actor,
    availableBefore: 0,
    availableAfter: item.availableQuantity,
  }, now)
  return { ok: true, item }
}

export async function updateItem(db: Db, deps: Deps, productId: string, patch: ItemPatch, actor: string, ctx: MessageContext): Promise<ItemOutcome> {
  return db.transaction().execute((tx) => changeItem(tx, deps, productId, patch, actor, ctx))
}

async function changeItem(tx: Db, deps: Deps, productId: string, patch: ItemPatch, actor: string, ctx: MessageContext): Promise<ItemOutcome> {
  const now = deps.now()
  const before = await lockItem(tx, productId)
  if (!before) return { ok: false, kind: 'not-found', message: 'No inventory item with that productId.' }
  const result = applyItemPatch(before, patch)
  if (!result.ok) return { ok: false, kind: 'unprocessable', message: result.problem }
  let item = before
  const delta = result.next.availableQuantity - before.availableQuantity
  if (delta !== 0) {
    if (result.next.availableQuantity < 0) return { ok: false, kind: 'negative', message: 'availableQuantity cannot be negative.' }
    item = await adjustQuantity(tx, productId, delta, now)
    await insertAdjustment(tx, {
      id: deps.newId(),
      itemId: before.id,
      productId,
      quantity: delta,
      reason: 'CORRECTION',
      note: 'availableQuantity set by an item update',
      actor,
      availableBefore: before.availableQuantity,
      availableAfter: item.availableQuantity,
    }, now)
  }
  const fields = result.changed.filter((k) => k !== 'availableQuantity')
  if (fields.length > 0) item = await updateItemFields(tx, productId, Object.fromEntries(fields.map((k) => [k, result.next[k]])), now)
  const alert = lowStockAlert(before, item)
  if (alert) await enqueue(tx, newMessage('LOW_STOCK', alert, ctx, now))
  return { ok: true, item }
}

/** Refused while the product holds stock for an order (RESERVED lines): that stock would vanish. */
export async function deleteItem(db: Db, productId: string): Promise<ItemOutcome> {
  return db.transaction().execute((tx) => deleteUnreservedItem(tx, productId))
}

async function deleteUnreservedItem(tx: Db, productId: string): Promise<ItemOutcome> {
  const item = await lockItem(tx, productId)
  if (!item) return { ok: false, kind: 'not-found', message: 'No inventory item with that productId.' }
  if (await hasActiveReservations(tx, productId)) {
    return { ok: false, kind: 'reserved', message: 'The product has active reservations; release them or wait for their orders to complete first.' }
  }
  await deleteRow(tx, productId)
  return { ok: true, item }
}
