// Message handlers of the payment service: payments.commands, consumer group payments-commands.
import { PermanentError, type MessageHandler } from '@trackops/messaging'
import { paymentMetrics } from './metrics.ts'
import { processPayment, type PaymentDeps } from './process-payment.ts'
import { refundPayment } from './refund-payment.ts'
import type { Db } from './payment-store.ts'

export const paymentsConsumerGroup = 'payments-commands'

export function createPaymentHandler(deps: PaymentDeps): MessageHandler {
  return async (tx, message, ctx) => {
    switch (message.type) {
      case 'PROCESS_PAYMENT': {
        const outcome = await processPayment(tx as Db, deps, message, ctx)
        if (outcome !== 'duplicate') paymentMetrics.payments.inc({ outcome })
        return
      }
      case 'REFUND_PAYMENT': {
        const outcome = await refundPayment(tx as Db, deps, message, ctx)
        if (outcome !== 'duplicate') paymentMetrics.payments.inc({ outcome })
        return
      }
      default:
        // Only the two commands travel on payments.commands; anything else is a contract violation.
        throw new PermanentError(`${message.type} is not a payment command`)
    }
  }
}
