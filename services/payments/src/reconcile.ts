// Reconciling charges that got no answer. A charge whose gateway call timed out or failed is recorded FAILED at
// once so the saga compensates without waiting — but the processor may have taken the money all the same (the
// answer was lost, not the charge). Such payments carry next_reconcile_at; when it passes, the reconciler asks
// the gateway under the charge's idempotency key (`charge:<orderId>`) what happened:
//   - approved   → refund it under `refund:<orderId>` (the key the saga's refund would use, so an order is never
//                  refunded twice, whoever asks), record the refund, the payment becomes REFUNDED;
//   - declined / not found → nothing was taken: `not_charged`;
//   - pending, or no answer from the lookup → ask again later with a doubling delay; after MAX_CHECKS the
//                  payment is `unresolved`, logged as an error and counted, for an operator.
// Each payment is handled in its own transaction holding its row lock (FOR UPDATE SKIP LOCKED), so several copies
// of the service can run the reconciler at once; the idempotency keys make a crash between the gateway call and
// the commit harmless (the next pass gets the same answers back).
import type { Logger } from 'pino'
import { paymentMetrics } from './metrics.ts'
import type { Db, Payment } from './payment-store.ts'
import { DEFAULT_RECONCILE_AFTER_MS, chargeKey, type PaymentDeps } from './process-payment.ts'
import { refundKey } from './refund-payment.ts'

export const MAX_CHECKS = 8
const MIN_DELAY_MS = 1_000
const MAX_DELAY_MS = 60 * 60_000

export type ReconcileOutcome = 'refunded' | 'not_charged' | 'unresolved' | 'later'

// Exported at 0 from start-up, so the first unresolved one already makes increase() see a step (the alert).
for (const outcome of ['refunded', 'not_charged', 'unresolved', 'later'] as const) paymentMetrics.reconciliations.inc({ outcome }, 0)

/** Reconciles the payments that are due, one transaction each; returns what became of each. */
export async function reconcileDue(db: Db, deps: PaymentDeps & { log: Logger }, limit = 20): Promise<ReconcileOutcome[]> {
  const outcomes: ReconcileOutcome[] = []
  for (let i = 0; i < limit; i++) {
    const outcome = await db.transaction().execute(async (tx) => {
      const due = await tx
        .selectFrom('payments')
        .selectAll()
        .where('reconciliation', 'is', null)
        .where('next_reconcile_at', '<=', deps.now())
        .orderBy('next_reconcile_at')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst()
      return due ? reconcileOne(tx, deps, due) : null
    })
    if (!outcome) break
    paymentMetrics.reconciliations.inc({ outcome })
    outcomes.push(outcome)
  }
  return outcomes
}

async function reconcileOne(tx: Db, deps: PaymentDeps & { log: Logger }, p: Payment): Promise<ReconcileOutcome> {
  const now = deps.now()
  const log = deps.log.child({ orderId: p.order_id, paymentId: p.id })
  const settle = (reconciliation: 'refunded' | 'not_charged' | 'unresolved', extra: { status?: 'REFUNDED'; gateway_charge_id?: string } = {}) =>
    tx.updateTable('payments')
      .set({ reconciliation, reconciled_at: now, next_reconcile_at: null, reconcile_checks: p.reconcile_checks + 1, updated_at: now, ...extra })
      .where('id', '=', p.id)
      .execute()
  const later = async (why: string): Promise<ReconcileOutcome> => {
    const checks = p.reconcile_checks + 1
    if (checks >= MAX_CHECKS) {
      await settle('unresolved')
      log.error({ checks, why }, 'charge without an answer could not be reconciled: an operator must check it at the processor')
      return 'unresolved'
    }
    const delay = Math.min(MAX_DELAY_MS, Math.max(MIN_DELAY_MS, deps.reconcileAfterMs ?? DEFAULT_RECONCILE_AFTER_MS) * 2 ** checks)
    await tx.updateTable('payments').set({ reconcile_checks: checks, next_reconcile_at: new Date(now.getTime() + delay) }).where('id', '=', p.id).execute()
    log.warn({ checks, why, nextInMs: delay }, 'charge without an answer not reconciled yet; asking again later')
    return 'later'
  }

  // Only a FAILED payment can hide a charge; anything else (refunded meanwhile by an operator, say) is settled.
  if (p.status !== 'FAILED') {
    await settle('not_charged')
    return 'not_charged'
  }
  const found = await deps.gateway.lookupCharge(chargeKey(p.order_id))
  if (found.outcome === 'unanswered') return later(`lookup: ${found.reason}`)
  if (found.outcome === 'pending') return later('the processor still reports the charge as pending')
  if (found.outcome !== 'approved') { // declined, or no such charge
    await settle('not_charged')
    log.info({ gateway: found.outcome }, 'charge without an answer was not taken by the processor; nothing to refund')
    return 'not_charged'
  }

  const refund = await deps.gateway.refund({ idempotencyKey: refundKey(p.order_id), chargeId: found.chargeId, amountCents: found.amountCents })
  if (refund.outcome === 'unanswered') return later(`refund: ${refund.reason}`)
  if (refund.outcome === 'declined') {
    await settle('unresolved', { gateway_charge_id: found.chargeId })
    log.error({ code: refund.code, reason: refund.reason, chargeId: found.chargeId }, 'the processor charged without answering and declined the refund: an operator must refund it')
    return 'unresolved'
  }
  const reason = 'reconciliation: the processor charged although the charge got no answer; the order had been compensated'
  // One refund decision per order: a NOT_NEEDED one (the saga asked before anything was known) becomes the refund.
  await tx
    .insertInto('refunds')
    .values({ id: deps.newId(), order_id: p.order_id, payment_id: p.id, amount_cents: found.amountCents, status: 'REFUNDED', reason, gateway_refund_id: refund.refundId, created_at: now })
    .onConflict((oc) => oc.column('order_id').doUpdateSet({ payment_id: p.id, amount_cents: found.amountCents, status: 'REFUNDED', reason, gateway_refund_id: refund.refundId }))
    .execute()
  await settle('refunded', { status: 'REFUNDED', gateway_charge_id: found.chargeId })
  log.warn({ amountCents: found.amountCents, chargeId: found.chargeId, refundId: refund.refundId }, 'charge found at the processor after a timeout: refunded')
  return 'refunded'
}
