// PROCESS_PAYMENT: charge the order once, and answer every copy of the command the same way.
//
// Where the gateway call sits. The consumer runner gives the handler one transaction (inbox row + effects +
// reply in the outbox), so the gateway is called inside it. That holds a connection for at most
// attempts × PAYMENT_GATEWAY_TIMEOUT_MS plus back-off (≈ 6.6 s at the defaults), which the pool absorbs
// because records of one partition are applied one at a time. Splitting it (commit PENDING, call, commit the
// outcome) would need a sweeper for PENDING rows left by a crash; the idempotency key buys the same safety:
//   - the key is `charge:<orderId>`, not the payment id minted here, so a handler retried after the
//     transaction rolled back (crash, lost connection, runner retry) gets the gateway's first answer back
//     instead of a second charge;
//   - the payment row is inserted (PENDING) before the call, so a second copy of the service working on the
//     same order waits on the unique order_id and then answers from the committed row;
//   - a repeated command for an order already decided is answered from the row without calling the gateway.
//
// No answer from the gateway (timeouts after the retries, breaker open, transient errors after the retries)
// is answered PAYMENT_FAILED with code gateway_timeout / gateway_unavailable / gateway_error, so the saga
// releases the stock and cancels the order at once instead of waiting for its own deadline or for a dead
// letter. The payment is recorded FAILED with that code and a reconciliation time: because the key is per
// order, a charge that did go through at the processor despite the timeout is found there by the reconciler
// (reconcile.ts) and refunded.
//
// An order placed without a payment method arrives with an empty token. It is charged with the configured default
// (PAYMENTS_DEFAULT_PAYMENT_TOKEN) when there is one; otherwise it fails at once with code payment-method.missing,
// without a gateway call: nothing is charged to a card nobody chose.
import type { Logger } from 'pino'
import type { MessageOf } from '@trackops/contracts'
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import type { ChargeResult } from './gateway.ts'
import type { Attempted, ResilientGateway } from './resilient-gateway.ts'
import { insertPaymentIfAbsent, lockPaymentOfOrder, settlePayment, type Db, type Payment } from './payment-store.ts'

export interface PaymentDeps {
  gateway: ResilientGateway
  now: () => Date
  newId: () => string
  /** How long after a charge without an answer the reconciler asks the gateway about it (PAYMENT_RECONCILE_AFTER_MS). */
  reconcileAfterMs?: number
  /** PAYMENTS_DEFAULT_PAYMENT_TOKEN: charged when the order came without a payment method; unset, such a payment fails. */
  defaultPaymentToken?: string | undefined
}
export const DEFAULT_RECONCILE_AFTER_MS = 10_000
export type PaymentOutcome = 'processed' | 'failed' | 'duplicate'

export const chargeKey = (orderId: string) => `charge:${orderId}`

type Command = MessageOf<'PROCESS_PAYMENT'>
type Ctx = MessageContext & { log: Logger }

export async function processPayment(tx: Db, deps: PaymentDeps, message: Command, ctx: Ctx): Promise<PaymentOutcome> {
  const opened = await openPayment(tx, deps, message, ctx)
  return opened === 'duplicate' ? opened : charge(tx, deps, message, ctx, opened)
}

/**
 * The first half of a payment: an order already decided is answered again ('duplicate'); otherwise its payment row is
 * inserted PENDING and returned, to be charged (`charge`) in the same transaction.
 */
export async function openPayment(tx: Db, deps: PaymentDeps, message: Command, ctx: Ctx): Promise<Payment | 'duplicate'> {
  const d = message.data
  const decided = await lockPaymentOfOrder(tx, d.orderId)
  if (decided) return answerAgain(tx, deps, message, ctx, decided)
  const opened = await insertPaymentIfAbsent(tx, {
    id: deps.newId(), order_id: d.orderId, saga_id: d.sagaId, customer_id: d.customerId, amount_cents: d.amountCents,
    currency: d.currency, status: 'PENDING', now: deps.now(),
  })
  if (opened) return opened
  // Another copy of the service decided this order while this insert waited on its row.
  const committed = await lockPaymentOfOrder(tx, d.orderId)
  if (!committed) throw new Error(`payment of order ${d.orderId} vanished after a conflicting insert`)
  return answerAgain(tx, deps, message, ctx, committed)
}

export const missingPaymentMethod = {
  outcome: 'declined',
  code: 'payment-method.missing',
  reason: 'The order has no payment method and no default payment method is configured (PAYMENTS_DEFAULT_PAYMENT_TOKEN).',
} as const

const metaOf = (message: Command, ctx: Ctx) => ({ correlationId: ctx.correlationId, causationId: ctx.causationId ?? message.id })

/** The second half: the gateway call for an opened payment, then its outcome recorded and answered. */
export async function charge(tx: Db, deps: PaymentDeps, message: Command, ctx: Ctx, payment: Payment): Promise<PaymentOutcome> {
  const { orderId, sagaId, amountCents, currency } = message.data
  const token = message.data.paymentToken || deps.defaultPaymentToken
  const result: Attempted<ChargeResult> =
    amountCents === 0 ? { outcome: 'approved', chargeId: '', attempts: 0 }
    : !token ? { ...missingPaymentMethod, attempts: 0 }
    : await deps.gateway.charge({ idempotencyKey: chargeKey(orderId), amountCents, currency, token })
  if (result.outcome === 'approved') {
    await settlePayment(tx, payment.id, { status: 'CHARGED', gateway_charge_id: result.chargeId || null, failure_code: null, failure_reason: null, attempts: result.attempts, now: deps.now() })
    await enqueue(tx, newMessage('PAYMENT_PROCESSED', { orderId, sagaId, paymentId: payment.id, amountCents }, metaOf(message, ctx), deps.now()))
    ctx.log.debug({ orderId, paymentId: payment.id, attempts: result.attempts }, 'payment charged')
    return 'processed'
  }
  const now = deps.now()
  await settlePayment(tx, payment.id, {
    status: 'FAILED', gateway_charge_id: null, failure_code: result.code, failure_reason: result.reason, attempts: result.attempts, now,
    // A decline is an answer; without one the processor may still have charged: the reconciler will ask.
    ...(result.outcome === 'unanswered' ? { reconcileAt: new Date(now.getTime() + (deps.reconcileAfterMs ?? DEFAULT_RECONCILE_AFTER_MS)) } : {}),
  })
  await enqueue(tx, newMessage('PAYMENT_FAILED', { orderId, sagaId, code: result.code, reason: result.reason }, metaOf(message, ctx), deps.now()))
  ctx.log[result.outcome === 'declined' ? 'debug' : 'warn']({ orderId, paymentId: payment.id, code: result.code, attempts: result.attempts }, 'payment failed')
  return 'failed'
}

/** A command for an order already decided gets the same answer again, without calling the gateway. */
async function answerAgain(tx: Db, deps: PaymentDeps, message: Command, ctx: Ctx, p: Payment): Promise<'duplicate'> {
  const { orderId, sagaId } = message.data
  const failed = (code: string, reason: string) => newMessage('PAYMENT_FAILED', { orderId, sagaId, code, reason }, metaOf(message, ctx), deps.now())
  switch (p.status) {
    case 'CHARGED':
    case 'REFUNDED':
      await enqueue(tx, newMessage('PAYMENT_PROCESSED', { orderId, sagaId, paymentId: p.id, amountCents: p.amount_cents }, metaOf(message, ctx), deps.now()))
      break
    case 'FAILED':
      await enqueue(tx, failed(p.failure_code ?? 'failed', p.failure_reason ?? 'The payment failed.'))
      break
    case 'REFUND_NOT_NEEDED':
      // The saga compensated before this command was applied: charging now would bill a cancelled order.
      await enqueue(tx, failed('payment_cancelled', 'The payment of this order was cancelled before any charge was made.'))
      break
    case 'PENDING':
      throw new Error(`payment ${p.id} of order ${orderId} is PENDING outside its transaction`)
    default: {
      const never: never = p.status
      throw new Error(`unknown payment status ${String(never)}`)
    }
  }
  ctx.log.debug({ orderId, paymentId: p.id, status: p.status }, 'payment already decided; answered again')
  return 'duplicate'
}
