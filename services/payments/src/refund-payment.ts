// REFUND_PAYMENT (saga compensation): refund the order's charge once; never refund what was not charged.
//
// - One refund decision per order (refunds.order_id is unique); a repeated command answers from it.
// - Nothing charged (no payment, or a FAILED one): answered PAYMENT_REFUNDED with paymentId null and amount 0,
//   and recorded. With no payment at all a REFUND_NOT_NEEDED payment row is left as a tombstone, so a
//   PROCESS_PAYMENT that arrives later (a replayed dead letter, say) does not charge a cancelled order.
// - The gateway refund uses the key `refund:<orderId>`, so a retried handler cannot refund twice.
// - A refund must not be silently dropped: a gateway without an answer makes the handler throw, so the
//   runner retries and then dead-letters it for an operator; a declined refund is a PermanentError.
import type { Logger } from 'pino'
import type { MessageOf } from '@trackops/contracts'
import { enqueue, newMessage, PermanentError, type MessageContext } from '@trackops/messaging'
import { GatewayError } from './gateway.ts'
import { findRefundOfOrder, insertPaymentIfAbsent, insertRefund, lockPaymentOfOrder, markRefunded, type Db, type Payment, type Refund } from './payment-store.ts'
import type { PaymentDeps } from './process-payment.ts'

export type RefundOutcome = 'refunded' | 'refund_not_needed' | 'duplicate'
type Command = MessageOf<'REFUND_PAYMENT'>

export const refundKey = (orderId: string) => `refund:${orderId}`

export async function refundPayment(tx: Db, deps: PaymentDeps, message: Command, ctx: MessageContext & { log: Logger }): Promise<RefundOutcome> {
  const { orderId, sagaId, reason } = message.data
  const meta = { correlationId: ctx.correlationId, causationId: ctx.causationId ?? message.id }
  const answer = (r: Pick<Refund, 'payment_id' | 'amount_cents'>) =>
    enqueue(tx, newMessage('PAYMENT_REFUNDED', { orderId, sagaId, paymentId: r.payment_id, amountCents: r.amount_cents }, meta, deps.now()))

  // The payment row (or the tombstone) is the per-order lock that serialises copies of the service.
  const payment = await lockOrOpenTombstone(tx, deps, orderId, sagaId)
  const earlier = await findRefundOfOrder(tx, orderId)
  if (earlier) {
    await answer(earlier)
    return 'duplicate'
  }

  if (payment.status !== 'CHARGED') {
    const refund: Refund = { id: deps.newId(), order_id: orderId, payment_id: null, amount_cents: 0, status: 'NOT_NEEDED', reason, gateway_refund_id: null, created_at: deps.now() }
    await insertRefund(tx, refund)
    await answer(refund)
    ctx.log.info({ orderId, paymentStatus: payment.status }, 'refund requested without a charge; nothing refunded')
    return 'refund_not_needed'
  }

  let gatewayRefundId: string | null = null
  if (payment.gateway_charge_id && payment.amount_cents > 0) {
    const result = await deps.gateway.refund({ idempotencyKey: refundKey(orderId), chargeId: payment.gateway_charge_id, amountCents: payment.amount_cents })
    if (result.outcome === 'unanswered') throw new GatewayError(`refund of order ${orderId}: ${result.reason}`)
    if (result.outcome === 'declined') throw new PermanentError(`refund of order ${orderId} declined by the gateway: ${result.code} (${result.reason})`)
    gatewayRefundId = result.refundId
  }
  const refund: Refund = {
    id: deps.newId(), order_id: orderId, payment_id: payment.id, amount_cents: payment.amount_cents, status: 'REFUNDED',
    reason, gateway_refund_id: gatewayRefundId, created_at: deps.now(),
  }
  await insertRefund(tx, refund)
  await markRefunded(tx, payment.id, deps.now())
  await answer(refund)
  ctx.log.info({ orderId, paymentId: payment.id, amountCents: payment.amount_cents }, 'payment refunded')
  return 'refunded'
}

async function lockOrOpenTombstone(tx: Db, deps: PaymentDeps, orderId: string, sagaId: string): Promise<Payment> {
  const existing = await lockPaymentOfOrder(tx, orderId)
  if (existing) return existing
  const tombstone = await insertPaymentIfAbsent(tx, {
    id: deps.newId(), order_id: orderId, saga_id: sagaId, customer_id: null, amount_cents: 0, currency: null,
    status: 'REFUND_NOT_NEEDED', now: deps.now(),
  })
  if (tombstone) return tombstone
  const committed = await lockPaymentOfOrder(tx, orderId)
  if (!committed) throw new Error(`payment of order ${orderId} vanished after a conflicting insert`)
  return committed
}
