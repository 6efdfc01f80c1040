// Message handlers of the payment service: payments.commands, consumer group payments-commands.
import { answerPathProbe, inRecordSpan, PermanentError, type BatchHandler, type MessageHandler } from '@trackops/messaging'
import { paymentMetrics } from './metrics.ts'
import { charge, openPayment, processPayment, type PaymentDeps, type PaymentOutcome } from './process-payment.ts'
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

/**
 * A batch of commands in one transaction, with its gateway calls in flight together: each PROCESS_PAYMENT opens its
 * payment row in turn, then its charge runs while the next commands are opened. A later command of an order whose
 * charge is still running waits for it, so an order's commands keep their order. Every charge has its own timeout
 * and idempotency key (resilient-gateway.ts); the transaction commits once all of them are recorded.
 */
export function createPaymentBatchHandler(deps: PaymentDeps): BatchHandler<PaymentsDb> {
  const handle = createPaymentHandler(deps)
  const counted = (outcome: PaymentOutcome) => {
    if (outcome !== 'duplicate') paymentMetrics.payments.inc({ outcome })
  }
  return async (tx, items) => {
    const charging = new Map<string, Promise<unknown>>()
    for (const item of items) {
      const { message, ctx } = item
      const orderId = 'orderId' in message.data ? message.data.orderId : undefined
      const running = orderId ? charging.get(orderId) : undefined
      if (running) await running
      if (message.type !== 'PROCESS_PAYMENT') {
        await inRecordSpan(item, () => handle(tx, message, ctx))
        continue
      }
      const opened = await inRecordSpan(item, () => openPayment(tx, deps, message, ctx))
      if (opened === 'duplicate') continue
      // Settled: a failure is reported after every charge has been recorded or has failed, never while one still runs.
      charging.set(message.data.orderId, inRecordSpan(item, () => charge(tx, deps, message, ctx, opened)).then(counted).then(() => undefined, (error: unknown) => ({ error })))
    }
    const failed = (await Promise.all(charging.values())).find((r): r is { error: unknown } => r !== undefined)
    if (failed) throw failed.error
  }
}
