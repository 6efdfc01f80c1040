// Cancellation (DELETE /api/orders/{id}, PUT status CANCELLED). The saga decides how: at once when nothing
// was reserved or charged yet, otherwise it compensates first (release stock, refund) and cancels when done.
import { AppError, canSee, type Principal } from '@trackops/http'
import type { MessageContext } from '@trackops/messaging'
import type { Order } from './order.ts'
import { getOrder, type Db } from './order-store.ts'
import { orderNotFound, type ChangeCause } from './change-status.ts'
import { requestCancellation } from './saga-handlers.ts'

export type CancelOutcome = 'compensating' | 'cancelled' | 'already-cancelled'

export async function cancelOrder(
  deps: { db: Db; now: () => Date },
  input: { orderId: string; reason: string; cause: ChangeCause; actor?: string; principal?: Principal; ctx: MessageContext },
): Promise<{ outcome: CancelOutcome; order: Order }> {
  return deps.db.transaction().execute(async (tx) => {
    // A plain read, not a row lock: the saga takes its locks in its own order, and a DELIVERED order that
    // slips in between is refused by the saga as 'not-cancellable'.
    const order = await getOrder(tx, input.orderId)
    if (!order || !canSee(input.principal, order.customerId)) throw orderNotFound(input.orderId)
    if (order.status === 'DELIVERED') throw new AppError('order.invalid-transition', 'Delivered orders cannot be cancelled.')
    const outcome = await requestCancellation(tx, { orderId: input.orderId, reason: input.reason, cause: input.cause, actor: input.actor }, input.ctx, deps.now())
    if (outcome === 'not-cancellable') {
      const now = await getOrder(tx, input.orderId)
      throw new AppError('order.invalid-transition', `The order is ${now?.status ?? order.status} and can no longer be cancelled.`)
    }
    const after = await getOrder(tx, input.orderId)
    if (!after) throw orderNotFound(input.orderId)
    return { outcome, order: after }
  })
}
