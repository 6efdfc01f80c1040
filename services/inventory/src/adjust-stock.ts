// Stock received, written off or corrected by hand. Only available stock moves (reserved units belong to
// orders); on-hand moves with it, and every change is audited with its actor in inventory_adjustments.
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { adjustmentProblem, lowStockAlert, type AdjustmentReason } from './stock.ts'
import { adjustQuantity, insertAdjustment, lockItem, type Adjustment, type Item } from './item-store.ts'
import type { Db } from './inventory-db.ts'
import { inventoryMetrics } from './metrics.ts'

export interface AdjustRequest {
  productId: string
  quantity: number
  reason: AdjustmentReason
  note: string | null
  actor: string
}

export type AdjustOutcome =
  | { ok: true; adjustment: Adjustment; item: Item }
  | { ok: false; kind: 'not-found' | 'sign' | 'negative'; message: string }

type Deps = { now: () => Date; newId: () => string }

/** Owns its transaction: the adjustment, its audit row and any LOW_STOCK alert commit together. */
export async function adjustStock(db: Db, deps: Deps, request: AdjustRequest, ctx: MessageContext): Promise<AdjustOutcome> {
  const outcome = await db.transaction().execute((tx) => adjust(tx, deps, request, ctx))
  if (outcome.ok) inventoryMetrics.adjustments.inc({ reason: request.reason })
  return outcome
}

async function adjust(tx: Db, deps: Deps, request: AdjustRequest, ctx: MessageContext): Promise<AdjustOutcome> {
  const now = deps.now()
  const before = await lockItem(tx, request.productId)
  if (!before) return { ok: false, kind: 'not-found', message: 'No inventory item with that productId.' }
  const problem = adjustmentProblem(before.availableQuantity, request.quantity, request.reason)
  if (problem) return { ok: false, ...problem }
  const item = await adjustQuantity(tx, request.productId, request.quantity, now)
  const adjustment = await insertAdjustment(tx, {
    id: deps.newId(),
    itemId: before.id,
    productId: request.productId,
    quantity: request.quantity,
    reason: request.reason,
    note: request.note,
    actor: request.actor,
    availableBefore: before.availableQuantity,
    availableAfter: item.availableQuantity,
  }, now)
  const alert = lowStockAlert(before, item)
  if (alert) await enqueue(tx, newMessage('LOW_STOCK', alert, ctx, now))
  return { ok: true, adjustment, item }
}
