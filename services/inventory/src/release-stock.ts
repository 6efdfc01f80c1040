// Releasing an order's stock (the saga's compensation, or a cancelled order):
//   RESERVED lines  → reserved units return to available;
//   COMMITTED lines → the sold units are restocked (a confirmed order was cancelled before delivery);
//   RELEASED / EXPIRED lines → nothing left to return.
// Always answers INVENTORY_RELEASED, with the lines actually returned (possibly none), so the saga never
// waits for a reply that will not come. Running it twice returns the stock once.
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { lockItems, restockQuantity, unreserveQuantity } from './item-store.ts'
import { lockOrder, reservationsOfOrder, setReservationStatus } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'
import type { Line } from './stock.ts'

export interface ReleaseRequest {
  orderId: string
  sagaId: string
  reason: string
}

export async function releaseStock(
  tx: Db,
  deps: { now: () => Date },
  request: ReleaseRequest,
  ctx: MessageContext & { log?: { warn: (o: object, m: string) => void } },
): Promise<{ released: Line[]; restocked: Line[] }> {
  const now = deps.now()
  const order = await lockOrder(tx, request.orderId)
  const lines = order ? await reservationsOfOrder(tx, request.orderId) : []
  const held = lines.filter((r) => r.status === 'RESERVED')
  const sold = lines.filter((r) => r.status === 'COMMITTED')
  const items = await lockItems(tx, [...held, ...sold].map((r) => r.productId))
  for (const r of held) await unreserveQuantity(tx, r.productId, r.quantity, now)
  const restocked = []
  for (const r of sold) {
    // A product deleted after its order was committed has no stock row to return the units to.
    if (!items.has(r.productId)) {
      ctx.log?.warn({ orderId: request.orderId, productId: r.productId }, 'cannot restock a deleted product; the line is released without stock')
      continue
    }
    await restockQuantity(tx, r.productId, r.quantity, now)
    restocked.push(r)
  }
  await setReservationStatus(tx, [...held, ...sold].map((r) => r.id), 'RELEASED', now)
  const released = held.map((r) => ({ productId: r.productId, quantity: r.quantity }))
  const returned = restocked.map((r) => ({ productId: r.productId, quantity: r.quantity }))
  await enqueue(tx, newMessage('INVENTORY_RELEASED', { orderId: request.orderId, sagaId: request.sagaId, items: [...released, ...returned], reason: request.reason }, ctx, now))
  return { released, restocked: returned }
}
