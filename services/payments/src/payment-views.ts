// SQL reads behind the payments API: each payment with its refund, if it has one.
import type { Db, Payment, PaymentStatus, Refund } from './payment-store.ts'

export type PaymentView = Payment & { refund: Refund | null }

async function withRefunds(db: Db, payments: Payment[]): Promise<PaymentView[]> {
  if (payments.length === 0) return []
  const refunds = await db.selectFrom('refunds').selectAll().where('order_id', 'in', payments.map((p) => p.order_id)).execute()
  const byOrder = new Map(refunds.map((r) => [r.order_id, r]))
  return payments.map((p) => ({ ...p, refund: byOrder.get(p.order_id) ?? null }))
}

export async function findPayment(db: Db, by: { id: string } | { orderId: string }): Promise<PaymentView | undefined> {
  const q = db.selectFrom('payments').selectAll()
  const row = await ('id' in by ? q.where('id', '=', by.id) : q.where('order_id', '=', by.orderId)).executeTakeFirst()
  return row ? (await withRefunds(db, [row]))[0] : undefined
}

export async function listPayments(
  db: Db,
  filter: { status?: PaymentStatus | undefined; customerId?: string | undefined; page: number; size: number },
): Promise<{ rows: PaymentView[]; total: number }> {
  let q = db.selectFrom('payments')
  if (filter.status) q = q.where('status', '=', filter.status)
  if (filter.customerId) q = q.where('customer_id', '=', filter.customerId)
  const [count, rows] = await Promise.all([
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    q.selectAll().orderBy('created_at', 'desc').orderBy('id').limit(filter.size).offset(filter.page * filter.size).execute(),
  ])
  return { rows: await withRefunds(db, rows), total: Number(count.n) }
}
