// The order saga across the running services, under both publishing strategies (Debezium, then the polling
// relay): every outcome ends CONFIRMED or CANCELLED without help, with stock and charges consistent. Also records
// POST → CONFIRMED times per strategy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, createProduct, eventually, item, kill, operator, placeOrder, publishedBy, services, strategies, switchStrategy, waitForStatus } from '../support/stack.ts'

const confirmTimes: Record<(typeof strategies)[number], number[]> = { debezium: [], outbox: [] }
afterAll(async () => {
  for (const strategy of strategies) {
    const sorted = [...confirmTimes[strategy]].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
    if (sorted.length) console.log(`POST → CONFIRMED under ${strategy} (observed by polling GET) over ${sorted.length} orders: median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)} ms`)
  }
  await switchStrategy('debezium') // leave the stack as npm run up made it
}, 240_000)

async function paymentsOf(orderId: string) {
  const res = await api('payments', 'GET', `/api/payments/order/${orderId}`, { token: await operator() })
  return res.status === 200 ? res.body : null
}
async function reservationsOf(orderId: string) {
  return (await api('inventory', 'GET', `/api/inventory/reservations/order/${orderId}`, { token: await operator() })).body as { status: string; quantity: number }[]
}
/** The item once it satisfies `ready` (reads are cached and follow the saga within the CDC lag): one read, checked whole. */
async function itemWhen(productId: string, ready: (i: { availableQuantity: number; reservedQuantity: number; soldQuantity: number }) => boolean, what: string) {
  return eventually(async () => {
    const i = await item(productId)
    return ready(i) ? i : undefined
  }, 30_000, what)
}
async function history(orderId: string) {
  return (await api('orders', 'GET', `/api/orders/${orderId}/history`, { token: await operator() })).body
}

describe.each(strategies)('order saga, published by %s', (strategy) => {
  beforeAll(() => publishedBy(strategy), 420_000)

  it('when stock and payment are fine, then the order is CONFIRMED with the reservation committed and one charge', async () => {
    const productId = await createProduct({ stock: 20, price: 5 })
    const { order, postedAt } = await placeOrder({ items: [{ productId, quantity: 3 }] })
    await waitForStatus(order.id, ['CONFIRMED'])
    confirmTimes[strategy].push(Date.now() - postedAt)
    const payment = await paymentsOf(order.id)
    expect(payment).toMatchObject({ status: 'CHARGED', amountCents: 1500 })
    await eventually(async () => (await reservationsOf(order.id)).every((r) => r.status === 'COMMITTED'), 30_000, 'committed reservation')
    // item reads are cached and follow the saga's changes within the CDC lag; the item the wait saw is the one checked
    expect(await itemWhen(productId, (i) => i.soldQuantity === 3, 'the committed stock in the item')).toMatchObject({ availableQuantity: 17, reservedQuantity: 0, soldQuantity: 3 })
  })

  it('when stock is short, then the order is CANCELLED with the reason, nothing reserved and nothing charged', async () => {
    const productId = await createProduct({ stock: 2 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 5 }] })
    await waitForStatus(order.id, ['CANCELLED'])
    const cancelled = (await history(order.id)).entries.find((h: { to: string }) => h.to === 'CANCELLED')
    expect(cancelled.reason).toMatch(new RegExp(productId))
    expect(await paymentsOf(order.id)).toBeNull()
    expect((await reservationsOf(order.id)).filter((r) => r.status === 'RESERVED')).toEqual([])
    expect(await item(productId)).toMatchObject({ availableQuantity: 2, reservedQuantity: 0 })
  })

  it('when the card is declined, then the order is CANCELLED and the stock released', async () => {
    const productId = await createProduct({ stock: 10 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 4 }], token: 'tok_chargeDeclined' })
    await waitForStatus(order.id, ['CANCELLED'])
    expect(await paymentsOf(order.id)).toMatchObject({ status: 'FAILED', failureCode: 'card_declined' })
    await eventually(async () => (await reservationsOf(order.id)).every((r) => r.status === 'RELEASED'), 30_000, 'released reservation')
    expect(await itemWhen(productId, (i) => i.reservedQuantity === 0, 'the released stock in the item')).toMatchObject({ availableQuantity: 10, reservedQuantity: 0 })
  })

  it('when the gateway fails twice and then succeeds, then the order is CONFIRMED with one charge', async () => {
    const productId = await createProduct({ stock: 10 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_transientError' })
    await waitForStatus(order.id, ['CONFIRMED'])
    expect(await paymentsOf(order.id)).toMatchObject({ status: 'CHARGED' })
  })

  it('when a confirmed order is cancelled, then it is refunded, its stock returns, and it ends CANCELLED', async () => {
    const productId = await createProduct({ stock: 10, price: 7 })
    const { order, customerToken } = await placeOrder({ items: [{ productId, quantity: 2 }] })
    await waitForStatus(order.id, ['CONFIRMED'])
    const res = await api('orders', 'DELETE', `/api/orders/${order.id}`, { token: customerToken })
    expect(res.status).toBe(202)
    await waitForStatus(order.id, ['CANCELLED'])
    await eventually(async () => (await paymentsOf(order.id))?.status === 'REFUNDED', 30_000, 'refund')
    expect(await itemWhen(productId, (i) => i.availableQuantity === 10, 'stock back')).toMatchObject({ reservedQuantity: 0, soldQuantity: 0 })
  })

  it('when the gateway hangs, then the payment times out and the order is compensated: CANCELLED, stock released', async () => {
    const productId = await createProduct({ stock: 10 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_timeout' })
    await waitForStatus(order.id, ['CANCELLED'], 90_000)
    await itemWhen(productId, (i) => i.availableQuantity === 10, 'stock back')
    expect(await paymentsOf(order.id)).toMatchObject({ status: 'FAILED' })
    // leave the gateway's breaker closed for whoever runs next
    await eventually(async () => {
      const health = await api('payments', 'GET', '/actuator/health')
      return health.body?.components?.paymentGateway?.status === 'UP'
    }, 60_000, 'the payment gateway breaker to close')
  })

  it('when a few hundred orders are placed, then each ends CONFIRMED and the POST → CONFIRMED time is recorded', async () => {
    const productId = await createProduct({ stock: 10_000 })
    const pending = new Map<string, number>()
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 10 }, async () => {
        // A customer per order: the write limit is per subject and window, and the first batch keeps retrying
        // (every 100 ms, ten at once) until the product reaches the catalogue replica.
        const { order, postedAt } = await placeOrder({ items: [{ productId, quantity: 1 }] })
        pending.set(order.id, postedAt)
      }))
    }
    await eventually(async () => {
      for (const [id, postedAt] of pending) {
        const status = (await api('orders', 'GET', `/api/orders/${id}`, { token: await operator() })).body.status
        if (status === 'CONFIRMED') {
          confirmTimes[strategy].push(Date.now() - postedAt)
          pending.delete(id)
        } else if (status === 'CANCELLED') throw new Error(`order ${id} was cancelled`)
      }
      return pending.size === 0
    }, 120_000, 'all orders confirmed')
  })
})

describe('the polling relay, killed mid-saga', () => {
  beforeAll(() => publishedBy('outbox'), 420_000)

  it('when the relay is killed mid-saga, then after its restart every saga finishes with one charge each and stock is conserved', async () => {
    const productId = await createProduct({ stock: 100 })
    const placed = await Promise.all(Array.from({ length: 10 }, () => placeOrder({ items: [{ productId, quantity: 2 }] })))
    await kill('relay')
    await services('start', ['relay'])
    for (const { order } of placed) await waitForStatus(order.id, ['CONFIRMED'], 120_000)
    for (const { order } of placed) expect(await paymentsOf(order.id)).toMatchObject({ status: 'CHARGED', attempts: 1 })
    expect(await itemWhen(productId, (i) => i.soldQuantity === 20, 'every sale committed')).toMatchObject({ availableQuantity: 80, reservedQuantity: 0, soldQuantity: 20 })
  })
})
