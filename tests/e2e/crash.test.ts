import { randomUUID } from 'node:crypto'
// Crash recovery, under both publishing strategies: SIGKILL a service in the middle of sagas; after it restarts
// every saga finishes, no charge is duplicated and stock is conserved. A participant that is down holds the deadlines
// of the steps waiting on it (DESIGN §8) up to the outage bound; past it, the step is compensated and says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, createProduct, eventually, item, kill, operator, placeOrder, publishedBy, services, strategies, switchStrategy, waitForStatus } from '../support/stack.ts'

afterAll(async () => {
  // whatever happened, leave every service running with its normal settings and the strategy npm run up chose
  await services('start', ['inventory', 'payments', 'orders', 'relay'])
  await switchStrategy('debezium')
}, 240_000)

async function settle(orderIds: string[]) {
  const final = new Map<string, string>()
  await eventually(async () => {
    for (const id of orderIds) {
      if (final.has(id)) continue
      const status = (await api('orders', 'GET', `/api/orders/${id}`, { token: await operator() })).body?.status
      if (status === 'CONFIRMED' || status === 'CANCELLED') final.set(id, status)
    }
    return final.size === orderIds.length
  }, 120_000, 'every saga to finish')
  return final
}

async function assertConsistent(productId: string, stock: number, final: Map<string, string>, quantity: number, alreadySold: number) {
  const confirmed = [...final.values()].filter((s) => s === 'CONFIRMED').length
  for (const [orderId, status] of final) {
    const res = await api('payments', 'GET', `/api/payments/order/${orderId}`, { token: await operator() })
    if (status === 'CONFIRMED') expect(res.body).toMatchObject({ status: 'CHARGED' })
    else expect(res.status === 404 || ['FAILED', 'REFUNDED', 'REFUND_NOT_NEEDED'].includes(res.body.status)).toBe(true)
  }
  // reservations of cancelled orders are released asynchronously: wait for the stock to settle
  const settled = await eventually(async () => {
    const it = await item(productId)
    return it.reservedQuantity === 0 ? it : undefined
  }, 60_000, 'no stock left reserved')
  expect(settled.soldQuantity).toBe(alreadySold + confirmed * quantity)
  expect(settled.availableQuantity + settled.soldQuantity).toBe(stock)
}

const sagaOf = async (orderId: string) => (await api('orders', 'GET', `/api/sagas/order/${orderId}`, { token: await operator() })).body
// Health shows components' details to operators only.
const pathToPayments = async () => (await api('orders', 'GET', '/actuator/health', { token: await operator() })).body?.components?.messagingPath?.details?.payments

describe('step deadlines', () => {
  it('when payments is down past the step deadline but within the outage bound, then the saga waits and the order is CONFIRMED once payments answers', async () => {
    await services('restart', ['orders'], { ORDER_SAGA_STEP_TIMEOUT_SECONDS: '3' })
    try {
      await eventually(async () => (await pathToPayments())?.status === 'UP', 60_000, 'the path to payments to be probed')
      await services('stop', ['payments'])
      let orderId = ''
      let restarting = 0
      const productId = await createProduct({ stock: 5 })
      try {
        const { order } = await placeOrder({ items: [{ productId, quantity: 2 }] })
        orderId = order.id
        await eventually(async () => (await pathToPayments())?.status === 'DOWN', 60_000, 'the path to payments to count as down')
        // well past the 3 s deadline of PROCESS_PAYMENT, and still waiting for payments
        await eventually(async () => (await pathToPayments())?.downForSeconds >= 15, 60_000, 'payments to stay down a while')
        expect(await sagaOf(order.id)).toMatchObject({ status: 'RUNNING', currentStep: 'PROCESS_PAYMENT' })
      } finally {
        restarting = Date.now()
        await services('start', ['payments'])
      }
      // This outage's recovery, recorded by the probe job after payments came back (health may show UP a moment
      // before the job records it; an older outage's figure is still there until then).
      const back = await eventually(async () => {
        const path = await pathToPayments()
        return path?.status === 'UP' && path.lastRecoveredAt && Date.parse(path.lastRecoveredAt) >= restarting ? path : undefined
      }, 60_000, 'the path to payments to be back and its recovery recorded')
      expect(back.lastOutageSeconds).toBeGreaterThanOrEqual(15)
      await waitForStatus(orderId, ['CONFIRMED'], 90_000)
      expect(await sagaOf(orderId)).toMatchObject({ status: 'COMPLETED' })
    } finally {
      await services('restart', ['orders'])
    }
  }, 240_000)

  it('when payments is down past the outage bound, then the saga compensates in reverse order once payments answers: refunded, released, CANCELLED by timeout with the outage named', async () => {
    await services('restart', ['orders'], { ORDER_SAGA_STEP_TIMEOUT_SECONDS: '3', ORDER_PATH_OUTAGE_BOUND_SECONDS: '5' })
    try {
      await services('stop', ['payments'])
      let orderId = ''
      const productId = await createProduct({ stock: 5 })
      try {
        const { order } = await placeOrder({ items: [{ productId, quantity: 2 }] })
        orderId = order.id
        // the payment step times out: the saga starts compensating (refund first, whose answer needs payments)
        const saga = await eventually(async () => {
          const s = (await api('orders', 'GET', `/api/sagas/order/${order.id}`, { token: await operator() })).body
          return s?.status === 'COMPENSATING' ? s : undefined
        }, 60_000, 'the saga to start compensating')
        expect(saga.cause).toBe('timeout')
        expect(saga.cancelReason).toMatch(/^payment timed out: the messaging path to payments was unavailable for \d+ s$/)
      } finally {
        await services('start', ['payments'])
      }
      // payments returns: the PROCESS_PAYMENT still queued is charged, then REFUND_PAYMENT refunds it, then stock is released
      await waitForStatus(orderId, ['CANCELLED'], 90_000)
      const history = (await api('orders', 'GET', `/api/orders/${orderId}/history`, { token: await operator() })).body.entries
      expect(history.at(-1)).toMatchObject({ to: 'CANCELLED', cause: 'timeout', reason: expect.stringMatching(/the messaging path to payments was unavailable/) })
      await eventually(async () => (await item(productId)).availableQuantity === 5, 30_000, 'stock released')
      const payment = (await api('payments', 'GET', `/api/payments/order/${orderId}`, { token: await operator() })).body
      expect(['REFUNDED', 'REFUND_NOT_NEEDED']).toContain(payment.status)
    } finally {
      // Whatever happened: a 3 s step deadline left running would cancel the sagas of every later test file
      // (afterAll only starts services that are down).
      await services('restart', ['orders'])
    }
  }, 240_000)
})

describe.each(strategies)('published by %s', (strategy) => {
  beforeAll(() => publishedBy(strategy), 420_000)

  describe.each(['orders', 'inventory', 'payments'])('when %s is killed mid-saga', (victim) => {
    it('then after its restart every saga finishes, nothing is charged twice and stock is conserved', async () => {
      const stock = 200
      const productId = await createProduct({ stock })
      const warmUp = await placeOrder({ items: [{ productId, quantity: 1 }] }) // the product reached the catalogue replica
      await waitForStatus(warmUp.order.id, ['CONFIRMED'])
      const customerId = randomUUID()
      let answered = 0
      const placing = (async () => {
        for (let i = 0; i < 30; i++) {
          try {
            await placeOrder({ items: [{ productId, quantity: 2 }], customerId })
            answered++
          } catch {
            // the orders service itself may be down for a moment: the client would retry, so do we
            await new Promise((r) => setTimeout(r, 300))
          }
        }
      })()
      await new Promise((r) => setTimeout(r, 400))
      await kill(victim, 'SIGKILL')
      await new Promise((r) => setTimeout(r, 1_500))
      await services('start', [victim])
      await placing
      expect(answered).toBeGreaterThan(10)
      // every order that was created, including any whose response the kill swallowed
      const listed = (await api('orders', 'GET', `/api/orders/customer/${customerId}?size=100`, { token: await operator() })).body
      const ids: string[] = listed.content.map((o: { id: string }) => o.id)
      expect(ids.length).toBeGreaterThanOrEqual(answered)
      const final = await settle(ids)
      await assertConsistent(productId, stock, final, 2, 1)
    }, 240_000)
  })
})
