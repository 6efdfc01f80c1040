// Messages the order service consumes (group orders-saga: inventory.events and payments.events). Every type
// in the catalog is named here, so a new message type cannot be added without deciding what happens to it.
import type { AnyMessage } from '@trackops/contracts'
import { inRecordSpan, PermanentError, type BatchHandler, type HandlerContext } from '@trackops/messaging'
import type { Db, OrdersDb } from './order-store.ts'
import type { LockedForReplies, OrderSaga } from './saga/create-saga.ts'
import { isSagaReply } from './saga/saga.ts'
import { holdWrites, writeHeld } from './held-writes.ts'

/**
 * A batch of the group's records in one transaction: the orders and sagas its replies are about are locked and read
 * together first (orders in id order, then sagas), every record is applied in turn against that state in memory, and
 * the sagas, steps, orders and history rows they changed are written at the end, one statement per table.
 */
export function createBatchHandler(deps: { saga: OrderSaga }): BatchHandler<OrdersDb> {
  const handle = createMessageHandler(deps)
  return async (tx, items) => {
    const orderIds = items.flatMap(({ message }) => (isSagaReply(message) ? [(message.data as { orderId: string }).orderId] : []))
    const locked = orderIds.length > 0 ? await deps.saga.lockForReplies(tx, orderIds) : undefined
    holdWrites(tx)
    for (const item of items) await inRecordSpan(item, () => handle(tx, item.message, item.ctx, locked))
    await writeHeld(tx)
  }
}

/** One record; `locked`: the batch's orders and sagas when it is applied as part of a batch. */
export type OrdersMessageHandler = (tx: Db, message: AnyMessage, ctx: HandlerContext, locked?: LockedForReplies) => Promise<void>

export function createMessageHandler(deps: { saga: OrderSaga }): OrdersMessageHandler {
  return async (tx, message, ctx, locked) => {
    switch (message.type) {
      case 'INVENTORY_RESERVED':
      case 'INVENTORY_RESERVATION_FAILED':
      case 'INVENTORY_RELEASED':
      case 'RESERVATION_EXPIRED':
      case 'PAYMENT_PROCESSED':
      case 'PAYMENT_FAILED':
      case 'PAYMENT_REFUNDED':
        return deps.saga.handleReply(tx, message, ctx, locked)
      case 'PATH_PROBE_ACK':
        // A participant answered a probe: the messaging path to it works (saga deadlines stop being held).
        return deps.saga.recordProbeAck(tx, message)
      case 'LOW_STOCK':
        // A stock alert for the inventory's operators; the orders it could affect learn from their own replies.
        return
      case 'ORDER_CREATED':
      case 'ORDER_STATUS_UPDATED':
      case 'ORDER_CANCELLED':
      case 'ORDER_DELIVERED':
      case 'RESERVE_INVENTORY':
      case 'RELEASE_INVENTORY':
      case 'COMMIT_RESERVATION':
      case 'PROCESS_PAYMENT':
      case 'REFUND_PAYMENT':
      case 'PATH_PROBE':
        // Never published on the topics this group reads: a producer wrote to the wrong topic.
        throw new PermanentError(`${message.type} is not expected on the order service's inbound topics`)
      default: {
        const unexpected: never = message
        throw new PermanentError(`unknown message type ${(unexpected as { type: string }).type}`)
      }
    }
  }
}
