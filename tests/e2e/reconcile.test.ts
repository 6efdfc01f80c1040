// A charge the processor took although its answer never arrived: the saga must not wait for it (the order is
// cancelled and the stock released at once), and the money must not stay taken: the payment service's
// reconciler finds the charge at the gateway by its idempotency key and refunds it, once.
import { describe, expect, it } from 'vitest'
import { api, createProduct, eventually, item, operator, placeOrder, waitForStatus } from '../support/stack.ts'

async function paymentOf(orderId: string) {
  const res = await api('payments', 'GET', `/api/payments/order/${orderId}`, { token: await operator() })
  return res.status === 200 ? res.body : undefined
}

describe('reconciling a charge whose answer was lost', () => {
  it('when the processor charges but no attempt gets its answer, then the order is cancelled at once and the charge is refunded by the reconciler', async () => {
    const productId = await createProduct({ stock: 5 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 2 }], token: 'tok_approvedNoAnswer' })
    await waitForStatus(order.id, ['CANCELLED'], 90_000)
    await eventually(async () => (await item(productId)).availableQuantity === 5, 30_000, 'the stock to be released')
    const failed = await paymentOf(order.id)
    expect(failed).toMatchObject({ failureCode: 'gateway_timeout' })

    // PAYMENT_RECONCILE_AFTER_MS (10 s by default) after the failure, then within one reconciler pass (5 s).
    const payment = await eventually(async () => {
      const p = await paymentOf(order.id)
      return p?.reconciliation?.status === 'REFUNDED' ? p : undefined
    }, 60_000, 'the reconciler to refund the charge')
    expect(payment).toMatchObject({ status: 'REFUNDED', failureCode: 'gateway_timeout', refund: { status: 'REFUNDED', amountCents: payment.amountCents } })
    expect(payment.amountCents).toBeGreaterThan(0)
    expect(payment.gatewayChargeId).toMatch(/^ch_/)
    expect(payment.refund.gatewayRefundId).toMatch(/^re_/)
    expect(payment.reconciliation).toMatchObject({ checks: 1, nextCheckAt: null })
    expect((await api('orders', 'GET', `/api/orders/${order.id}`, { token: await operator() })).body.status).toBe('CANCELLED')

    // Leave the gateway's breaker closed for whoever runs next (three timeouts were counted).
    await eventually(async () => (await api('payments', 'GET', '/actuator/health')).body?.components?.paymentGateway?.status === 'UP', 60_000, 'the payment gateway breaker to be closed')
  })
})
