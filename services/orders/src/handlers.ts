// Messages the order service consumes (group orders-saga: inventory.events and payments.events). Every type
// in the catalog is named here, so a new message type cannot be added without deciding what happens to it.
import { PermanentError, type MessageHandler } from '@trackops/messaging'
import type { OrdersDb } from './order-store.ts'
import type { OrderSaga } from './saga/create-saga.ts'

export function createMessageHandler(deps: { saga: OrderSaga }): MessageHandler<OrdersDb> {
  return async (tx, message, ctx) => {
    switch (message.type) {
      case 'INVENTORY_RESERVED':
      case 'INVENTORY_RESERVATION_FAILED':
      case 'INVENTORY_RELEASED':
      case 'RESERVATION_EXPIRED':
      case 'PAYMENT_PROCESSED':
      case 'PAYMENT_FAILED':
      case 'PAYMENT_REFUNDED':
        return deps.saga.handleReply(tx, message, ctx)
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
