// Reserving an order's stock: all or nothing, atomic under any concurrency, once per order.
//   1. claim the order (a unique row per order): a repeated or concurrent request for the same order waits for
//      the first and then replays its outcome instead of reserving again (the inbox only dedupes message ids);
//   2. lock every product row in one fixed order, check every aggregated line, and only then
//   3. move the stock with guarded updates. A failure leaves nothing reserved.
// Replies (INVENTORY_RESERVED / _FAILED) go to the saga only when the saga asked (sagaId set); an operator's
// hold is answered over HTTP. LOW_STOCK is emitted whoever reserved.
import type { MessageData } from '@trackops/contracts'
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { aggregateLines, checkReservation, expiryOf, lowStockAlert, type FailedItem, type Line } from './stock.ts'
import { lockItems, reserveQuantity } from './item-store.ts'
import { claimOrder, findOrderReservation, insertReservations, markOrderFailed, reservationsOfOrder, type Reservation } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'

export interface ReserveDeps {
  now: () => Date
  newId: () => string
  ttlSeconds: number
}

export interface ReserveRequest {
  orderId: string
  /** Set when the saga asked (RESERVE_INVENTORY): the reply events carry it. Null for an operator's hold. */
  sagaId: string | null
  requestedBy: string | null
  items: Line[]
}

export type ReserveOutcome =
  | { outcome: 'RESERVED'; replayed: boolean; expiresAt: Date; reservations: Reservation[] }
  | { outcome: 'FAILED'; replayed: boolean; failedItems: FailedItem[] }

export async function reserveStock(tx: Db, deps: ReserveDeps, request: ReserveRequest, ctx: MessageContext): Promise<ReserveOutcome> {
  const now = deps.now()
  const expiresAt = expiryOf(now, deps.ttlSeconds)
  const claimed = await claimOrder(tx, {
    orderId: request.orderId,
    sagaId: request.sagaId,
    source: request.sagaId ? 'saga' : 'operator',
    requestedBy: request.requestedBy,
    correlationId: ctx.correlationId,
    expiresAt,
  }, now)
  const result = claimed ? await reserveClaimed(tx, deps, request, now, expiresAt, ctx) : await previousOutcome(tx, request.orderId)
  if (request.sagaId) await reply(tx, result, request, now, ctx)
  return result
}

async function reserveClaimed(tx: Db, deps: ReserveDeps, request: ReserveRequest, now: Date, expiresAt: Date, ctx: MessageContext): Promise<ReserveOutcome> {
  const lines = aggregateLines(request.items)
  const items = await lockItems(tx, lines.map((l) => l.productId))
  const check = checkReservation(lines, items)
  if (!check.ok) {
    await markOrderFailed(tx, request.orderId, check.failedItems, now)
    return { outcome: 'FAILED', replayed: false, failedItems: check.failedItems }
  }
  for (const line of check.lines) {
    const before = items.get(line.productId)
    const after = await reserveQuantity(tx, line.productId, line.quantity, now)
    const alert = before && lowStockAlert(before, after)
    if (alert) await enqueue(tx, newMessage('LOW_STOCK', alert, ctx, now))
  }
  const reservations = await insertReservations(tx, check.lines.map((l) => ({ id: deps.newId(), orderId: request.orderId, ...l, expiresAt })), now)
  return { outcome: 'RESERVED', replayed: false, expiresAt, reservations }
}

/** The outcome the order got the first time, whatever has happened to its reservations since. */
async function previousOutcome(tx: Db, orderId: string): Promise<ReserveOutcome> {
  const order = await findOrderReservation(tx, orderId)
  if (!order) throw new Error(`order ${orderId} was claimed but its row is missing`)
  if (order.outcome === 'FAILED') return { outcome: 'FAILED', replayed: true, failedItems: order.failedItems }
  const reservations = await reservationsOfOrder(tx, orderId)
  return { outcome: 'RESERVED', replayed: true, expiresAt: order.expiresAt ?? reservations[0]?.expiresAt ?? order.createdAt, reservations }
}

async function reply(tx: Db, result: ReserveOutcome, request: ReserveRequest, now: Date, ctx: MessageContext) {
  const ref = { orderId: request.orderId, sagaId: request.sagaId as string }
  if (result.outcome === 'FAILED') {
    await enqueue(tx, newMessage('INVENTORY_RESERVATION_FAILED', { ...ref, failedItems: result.failedItems as MessageData<'INVENTORY_RESERVATION_FAILED'>['failedItems'] }, ctx, now))
    return
  }
  const items = result.reservations.map((r) => ({ productId: r.productId, productName: r.productName, quantity: r.quantity, unitPriceCents: r.unitPriceCents }))
  await enqueue(tx, newMessage('INVENTORY_RESERVED', { ...ref, items, expiresAt: result.expiresAt.toISOString() }, ctx, now))
}

/** An operator's hold (HTTP): the same reservation in a transaction of its own; the saga's runs in the consumer's. */
export function holdStock(db: Db, deps: ReserveDeps, request: ReserveRequest, ctx: MessageContext): Promise<ReserveOutcome> {
  return db.transaction().execute((tx) => reserveStock(tx, deps, request, ctx))
}
