// Message handlers of the payment service: payments.commands, consumer group payments-commands.
import { answerPathProbe, PermanentError, type MessageHandler } from '@trackops/messaging'
import { paymentMetrics } from './metrics.ts'
import { processPayment, type PaymentDeps } from './process-payment.ts'
import { refundPayment } from './refund-payment.ts'
import type { PaymentsDb } from './payment-store.ts'

export const paymentsConsumerGroup = 'payments-commands'

export function createPaymentHandler(deps: PaymentDeps): MessageHandler<PaymentsDb> {
  return async (tx, message, ctx) => {
    switch (message.type) {
      case 'PROCESS_PAYMENT': {
        const outcome = await processPayment(tx, deps, message, ctx)
        if (outcome !== 'duplicate') paymentMetrics.payments.inc({ outcome })
        return
      }
      case 'REFUND_PAYMENT': {
        const outcome = await refundPayment(tx, deps, message, ctx)
        if (outcome !== 'duplicate') paymentMetrics.payments.inc({ outcome })
        return
      }
      case 'PATH_PROBE':
        // The order service checking that its commands reach us and our answers reach it (its saga deadlines hold while they do not).
        return answerPathProbe(tx, message, 'payments', ctx, deps.now())
      default:
        // Only the two commands and path probes travel on payments.commands; anything else is a contract violation.
        throw new PermanentError(`${message.type} is not a payment command`)
    }
  }
}
