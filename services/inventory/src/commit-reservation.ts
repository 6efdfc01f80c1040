// Committing an order's reservation: its reserved units become sold (they leave the on-hand stock).
// Only RESERVED lines can be committed. A reservation that expired or was released is NOT revived: the commit
// is refused with no stock change and nothing is emitted, because the saga already got (or will get) the one
// RESERVATION_EXPIRED / INVENTORY_RELEASED for it and compensates from that signal. A RESERVED line whose
// expiresAt has passed but that the sweeper has not reached yet is still committed: the units are still held,
// and the order lock makes commit and expiry of one order mutually exclusive.
import { lockItems, commitQuantity } from './item-store.ts'
import { lockOrder, reservationsOfOrder, setReservationStatus, type Reservation } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'

export type CommitOutcome =
  | { outcome: 'COMMITTED'; reservations: Reservation[] }
  | { outcome: 'ALREADY_COMMITTED' }
  | { outcome: 'REFUSED'; reason: string }
  | { outcome: 'UNKNOWN_ORDER' }

export async function commitReservation(tx: Db, deps: { now: () => Date }, orderId: string): Promise<CommitOutcome> {
  const now = deps.now()
  const order = await lockOrder(tx, orderId)
  if (!order) return { outcome: 'UNKNOWN_ORDER' }
  if (order.outcome === 'FAILED') return { outcome: 'REFUSED', reason: 'the reservation of this order failed; nothing is reserved' }
  const all = await reservationsOfOrder(tx, orderId)
  const open = all.filter((r) => r.status === 'RESERVED')
  if (open.length === 0) {
    if (all.length > 0 && all.every((r) => r.status === 'COMMITTED')) return { outcome: 'ALREADY_COMMITTED' }
    const statuses = [...new Set(all.map((r) => r.status))].join(', ')
    return { outcome: 'REFUSED', reason: `the reservation is no longer held (${statuses || 'no lines'})` }
  }
  // Lines of one order change state together, so open is either every line or (never in practice) a remainder.
  await lockItems(tx, open.map((r) => r.productId))
  for (const r of open) await commitQuantity(tx, r.productId, r.quantity, now)
  await setReservationStatus(tx, open.map((r) => r.id), 'COMMITTED', now)
  return { outcome: 'COMMITTED', reservations: open }
}
