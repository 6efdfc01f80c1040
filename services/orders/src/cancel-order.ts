// Cancellation (DELETE /api/orders/{id}, PUT status CANCELLED). The saga decides how: at once when nothing
// was reserved or charged yet, otherwise it compensates first (release stock, refund) and cancels when done.
// The order row is locked and read once, here, before the saga row (the lock order of every writer).
import { AppError, canSee, type Principal } from '@trackops/http'
import type { MessageContext } from '@trackops/messaging'
import type { ChangeCause, Order } from './order.ts'
import { lockOrder, type Db } from './order-store.ts'
import { orderNotFound } from './change-status.ts'
import type { OrderSaga } from './saga/create-saga.ts'

export type CancelOutcome = 'compensating' | 'cancelled' | 'already-cancelled'

export async function cancelOrder(
  deps: { db: Db; now: () => Date; saga: OrderSaga },
  input: { orderId: string; reason: string; cause: ChangeCause; actor?: string | undefined; principal?: Principal | undefined; ctx: MessageContext },
): Promise<{ outcome: CancelOutcome; order: Order }> {
  return deps.db.transaction().execute(async (tx) => {
    const order = await lockOrder(tx, input.orderId)
    if (!order || !canSee(input.principal, order.customerId)) throw orderNotFound(input.orderId)
    if (order.status === 'DELIVERED') throw new AppError('order.invalid-transition', 'Delivered orders cannot be cancelled.')
    const { outcome, order: current } = await deps.saga.cancel(tx, order, { reason: input.reason, cause: input.cause, actor: input.actor }, input.ctx, deps.now())
    if (outcome === 'not-cancellable') throw new AppError('order.invalid-transition', `The order is ${current.status} and can no longer be cancelled.`)
    return { outcome, order: current }
  })
}
