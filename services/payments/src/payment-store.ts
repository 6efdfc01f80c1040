// The payments tables and the use cases' SQL on them (the API's reads are in payment-views.ts). Functions that must
// run inside the caller's transaction take `tx` first.
import { sql, type Generated, type Kysely, type Selectable } from 'kysely'
import type { MessagingTables } from '@trackops/messaging'

export type PaymentStatus = 'PENDING' | 'CHARGED' | 'FAILED' | 'REFUNDED' | 'REFUND_NOT_NEEDED'

export interface PaymentsTable {
  id: string
  order_id: string
  saga_id: string
  customer_id: string | null
  amount_cents: number
  currency: string | null
  status: PaymentStatus
  gateway_charge_id: string | null
  failure_code: string | null
  failure_reason: string | null
  attempts: number
  /** Set when a charge got no answer: when the reconciler asks the gateway what happened (migration 0002). */
  next_reconcile_at: Date | null
  reconcile_checks: Generated<number>
  reconciliation: Reconciliation | null
  reconciled_at: Date | null
  created_at: Date
  updated_at: Date
}
export type Reconciliation = 'refunded' | 'not_charged' | 'unresolved'
export interface RefundsTable {
  id: string
  order_id: string
  payment_id: string | null
  amount_cents: number
  status: 'REFUNDED' | 'NOT_NEEDED'
  reason: string
  gateway_refund_id: string | null
  created_at: Date
}
export interface PaymentsDb extends MessagingTables {
  payments: PaymentsTable
  refunds: RefundsTable
}
export type Payment = Selectable<PaymentsTable>
export type Refund = Selectable<RefundsTable>
export type Db = Kysely<PaymentsDb>

export async function lockPaymentOfOrder(tx: Db, orderId: string): Promise<Payment | undefined> {
  return tx.selectFrom('payments').selectAll().where('order_id', '=', orderId).forUpdate().executeTakeFirst()
}

/**
 * Inserts the order's payment unless one exists. When another copy inserted it concurrently, this waits for
 * that transaction and returns undefined; the caller then reads the committed row.
 */
export async function insertPaymentIfAbsent(
  tx: Db,
  p: Pick<Payment, 'id' | 'order_id' | 'saga_id' | 'customer_id' | 'amount_cents' | 'currency' | 'status'> & { now: Date },
): Promise<Payment | undefined> {
  return tx
    .insertInto('payments')
    .values({
      id: p.id,
      order_id: p.order_id,
      saga_id: p.saga_id,
      customer_id: p.customer_id,
      amount_cents: p.amount_cents,
      currency: p.currency,
      status: p.status,
      attempts: 0,
      created_at: p.now,
      updated_at: p.now,
    })
    .onConflict((oc) => oc.column('order_id').doNothing())
    .returningAll()
    .executeTakeFirst()
}

export async function settlePayment(
  tx: Db,
  id: string,
  change: Pick<Payment, 'status' | 'gateway_charge_id' | 'failure_code' | 'failure_reason' | 'attempts'> & { now: Date; reconcileAt?: Date },
): Promise<void> {
  await tx
    .updateTable('payments')
    .set({
      status: change.status,
      gateway_charge_id: change.gateway_charge_id,
      failure_code: change.failure_code,
      failure_reason: change.failure_reason,
      attempts: sql`attempts + ${change.attempts}`,
      ...(change.reconcileAt ? { next_reconcile_at: change.reconcileAt } : {}),
      updated_at: change.now,
    })
    .where('id', '=', id)
    .execute()
}

export async function markRefunded(tx: Db, paymentId: string, now: Date): Promise<void> {
  await tx.updateTable('payments').set({ status: 'REFUNDED', updated_at: now }).where('id', '=', paymentId).execute()
}

export async function findRefundOfOrder(tx: Db, orderId: string): Promise<Refund | undefined> {
  return tx.selectFrom('refunds').selectAll().where('order_id', '=', orderId).executeTakeFirst()
}

export async function insertRefund(tx: Db, r: Refund): Promise<void> {
  await tx.insertInto('refunds').values(r).execute()
}
