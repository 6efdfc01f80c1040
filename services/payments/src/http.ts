// Payment API: read-only views of payments and their refunds. Operators and admins see every payment;
// a customer sees only a payment whose customer is them (any other id answers 404, so ids cannot be probed).
import { Type, type Static } from 'typebox'
import { type AppBase, appBaseOf, AppError, canSee, createApp, problems } from '@trackops/http'
import { amountDescription } from '@trackops/contracts'
import type { Db } from './payment-store.ts'
import { findPayment, listPayments, type PaymentView } from './payment-views.ts'
import packageJson from '../package.json' with { type: 'json' }

/** What createApp needs (verify is required), plus the database. */
export interface PaymentsAppDeps extends AppBase {
  db: Db
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const Status = Type.Enum(['PENDING', 'CHARGED', 'FAILED', 'REFUNDED', 'REFUND_NOT_NEEDED'])

const RefundResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Union([Type.Literal('REFUNDED'), Type.Literal('NOT_NEEDED')]),
  amount: Type.Number({ description: amountDescription }),
  amountCents: Type.Integer({ description: 'The same amount in integer minor units, as the payment events carry it.' }),
  reason: Type.String(),
  gatewayRefundId: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
})
const PaymentResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  orderId: Type.String({ format: 'uuid' }),
  sagaId: Type.String({ format: 'uuid' }),
  customerId: Nullable(Type.String({ format: 'uuid' })),
  amount: Type.Number({ description: amountDescription }),
  amountCents: Type.Integer({ description: 'The same amount in integer minor units, as the payment events carry it.' }),
  currency: Nullable(Type.String()),
  status: Status,
  gatewayChargeId: Nullable(Type.String()),
  failureCode: Nullable(Type.String()),
  failureReason: Nullable(Type.String()),
  attempts: Type.Integer({ description: 'Gateway attempts made for the charge.' }),
  reconciliation: Nullable(Type.Object({
    status: Type.Enum(['PENDING', 'REFUNDED', 'NOT_CHARGED', 'UNRESOLVED'], {
      description: 'For a charge that got no gateway answer: PENDING until the gateway was asked; REFUNDED (the processor had charged), NOT_CHARGED, or UNRESOLVED (an operator must check at the processor).',
    }),
    checks: Type.Integer({ description: 'Lookups made at the gateway.' }),
    nextCheckAt: Nullable(Type.String({ format: 'date-time' })),
    reconciledAt: Nullable(Type.String({ format: 'date-time' })),
  }, { description: 'Only for charges that got no answer; null otherwise.' })),
  refund: Nullable(RefundResponse),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
})
type PaymentResponse = Static<typeof PaymentResponse>

const Page = Type.Object({
  content: Type.Array(PaymentResponse),
  page: Type.Integer(),
  size: Type.Integer(),
  totalElements: Type.Integer(),
  totalPages: Type.Integer(),
})

const toDecimal = (cents: number) => cents / 100

export function toPaymentResponse(p: PaymentView): PaymentResponse {
  return {
    id: p.id,
    orderId: p.order_id,
    sagaId: p.saga_id,
    customerId: p.customer_id,
    amount: toDecimal(p.amount_cents),
    amountCents: p.amount_cents,
    currency: p.currency,
    status: p.status,
    gatewayChargeId: p.gateway_charge_id,
    failureCode: p.failure_code,
    failureReason: p.failure_reason,
    attempts: p.attempts,
    reconciliation: p.reconciliation === null && p.next_reconcile_at === null ? null : {
      status: p.reconciliation === null ? 'PENDING' : p.reconciliation === 'not_charged' ? 'NOT_CHARGED' : p.reconciliation === 'refunded' ? 'REFUNDED' : 'UNRESOLVED',
      checks: p.reconcile_checks,
      nextCheckAt: p.next_reconcile_at?.toISOString() ?? null,
      reconciledAt: p.reconciled_at?.toISOString() ?? null,
    },
    refund: p.refund && {
      id: p.refund.id,
      status: p.refund.status,
      amount: toDecimal(p.refund.amount_cents),
      amountCents: p.refund.amount_cents,
      reason: p.refund.reason,
      gatewayRefundId: p.refund.gateway_refund_id,
      createdAt: p.refund.created_at.toISOString(),
    },
    createdAt: p.created_at.toISOString(),
    updatedAt: p.updated_at.toISOString(),
  }
}

export async function buildApp(deps: PaymentsAppDeps) {
  const app = await createApp({
    name: 'payments',
    version: packageJson.version,
    title: 'TrackOps payments',
    tags: { payments: 'Payments and refunds of orders, as the saga made them.' },
    description: 'The payment step of the order saga behind a gateway interface (PAYMENTS_GATEWAY; the sandbox is the only one today). Payments are created by PROCESS_PAYMENT commands; this API reads them.',
    ...appBaseOf(deps),
  })
  const notFound = (what: string) => new AppError('payment.not-found', `No payment ${what}.`)

  app.get('/api/payments/:id', {
    schema: {
      tags: ['payments'],
      summary: 'A payment by id (customers: only their own)',
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 200: PaymentResponse, ...problems(404) },
    },
  }, async (req) => {
    const payment = await findPayment(deps.db, { id: req.params.id })
    if (!payment || !canSee(req.principal, payment.customer_id ?? '')) throw notFound(`with id ${req.params.id}`)
    return toPaymentResponse(payment)
  })

  app.get('/api/payments/order/:orderId', {
    schema: {
      tags: ['payments'],
      summary: "An order's payment (customers: only their own)",
      params: Type.Object({ orderId: Type.String({ format: 'uuid' }) }),
      response: { 200: PaymentResponse, ...problems(404) },
    },
  }, async (req) => {
    const payment = await findPayment(deps.db, { orderId: req.params.orderId })
    if (!payment || !canSee(req.principal, payment.customer_id ?? '')) throw notFound(`for order ${req.params.orderId}`)
    return toPaymentResponse(payment)
  })

  app.get('/api/payments', {
    config: { auth: ['operator', 'admin'] },
    schema: {
      tags: ['payments'],
      summary: 'Payments, newest first (operators and admins)',
      querystring: Type.Object({
        status: Type.Optional(Status),
        page: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
        size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
      }),
      response: { 200: Page },
    },
  }, async (req) => {
    const { status, page, size } = req.query
    const { rows, total } = await listPayments(deps.db, { status, page, size })
    return { content: rows.map(toPaymentResponse), page, size, totalElements: total, totalPages: Math.ceil(total / size) }
  })

  return app
}
