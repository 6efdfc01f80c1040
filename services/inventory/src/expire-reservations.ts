// The expiry sweeper: unconfirmed reservations past their expiresAt return their stock (RESERVATION_EXPIRED).
// Safe with any number of copies: each order is expired in its own short transaction that first takes the
// order's row with SKIP LOCKED, so two sweepers never expire the same order and a sweeper never waits behind
// a commit or release of that order (it is picked up next round if it is still RESERVED).
// An order expires as a whole: its lines were reserved together with one expiresAt.
import type { Logger } from 'pino'
import { enqueue, newMessage } from '@trackops/messaging'
import type { Job } from '@trackops/runtime'
import { lockItems, unreserveQuantity } from './item-store.ts'
import { lockOrder, overdueOrderIds, reservationsOfOrder, setReservationStatus } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'
import type { Line } from './stock.ts'
import { inventoryMetrics } from './metrics.ts'

/** Expires one order if it is due and nobody else holds it; null when it was skipped. */
export async function expireOrder(tx: Db, orderId: string, now: Date): Promise<Line[] | null> {
  const order = await lockOrder(tx, orderId, { skipLocked: true })
  if (!order) return null
  const due = (await reservationsOfOrder(tx, orderId)).filter((r) => r.status === 'RESERVED' && r.expiresAt <= now)
  if (due.length === 0) return null
  await lockItems(tx, due.map((r) => r.productId))
  for (const r of due) await unreserveQuantity(tx, r.productId, r.quantity, now)
  await setReservationStatus(tx, due.map((r) => r.id), 'EXPIRED', now)
  const items = due.map((r) => ({ productId: r.productId, quantity: r.quantity }))
  await enqueue(tx, newMessage('RESERVATION_EXPIRED', { orderId, items, expiredAt: now.toISOString() }, { correlationId: order.correlationId }, now))
  return items
}

/** One sweep over at most `batchSize` due orders; returns how many orders expired. */
export async function expireDueReservations(db: Db, deps: { now: () => Date; batchSize: number; logger?: Logger }): Promise<number> {
  const now = deps.now()
  let expired = 0
  for (const orderId of await overdueOrderIds(db, now, deps.batchSize)) {
    const items = await db.transaction().execute((tx) => expireOrder(tx, orderId, now))
    if (!items) continue
    expired++
    inventoryMetrics.expired.inc()
    deps.logger?.info({ orderId, items }, 'reservation expired; stock returned')
  }
  return expired
}

/** The sweeper (runService's `jobs`): every `intervalMs`, and right away again while a sweep fills its batch. */
export function reservationSweep(deps: { db: Db; intervalMs: number; batchSize: number; now: () => Date; logger: Logger }): Job {
  return { name: 'reservation sweep', intervalMs: deps.intervalMs, run: async () => (await expireDueReservations(deps.db, deps)) >= deps.batchSize }
}
