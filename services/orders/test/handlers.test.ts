import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import type { AnyMessage } from '@trackops/contracts'
import { newMessage, PermanentError, type HandlerContext } from '@trackops/messaging'
import { createMessageHandler } from '../src/handlers.ts'
import { placeOrder } from '../src/place-order.ts'
import { newOrderOf } from '../src/order-request.ts'
import { addProduct, address, countByType, createTestDb, createTestSaga, outboxOf } from './support.ts'

const db = createTestDb()
afterAll(() => db.destroy())

const saga = createTestSaga(db)
const handle = createMessageHandler({ saga })
const ctxFor = (m: AnyMessage): HandlerContext => ({ correlationId: m.correlationId, causationId: m.id, log: pino({ level: 'silent' }), headers: {}, recordTimestamp: Date.now() })

describe('the inbound message handler', () => {
  it('when INVENTORY_RESERVED arrives for an order, then it reaches the saga, which asks for the payment', async () => {
    const productId = await addProduct(db, { price: 7 })
    const checked = newOrderOf({ customerId: randomUUID(), address: address(), items: [{ productId, quantity: 2 }] })
    if (!checked.ok) throw new Error('fixture invalid')
    const { order } = await placeOrder({ db, now: () => new Date(), newId: randomUUID, saga }, { order: checked.value, cause: 'customer', ctx: { correlationId: `corr-${randomUUID()}` } })
    const reserve = (await outboxOf(db, order.id)).find((r) => r.type === 'RESERVE_INVENTORY')
    expect(reserve).toBeDefined()
    const sagaId = JSON.parse(reserve!.payload).data.sagaId as string
    const reserved = newMessage('INVENTORY_RESERVED', { orderId: order.id, sagaId, items: [{ productId, productName: 'x', quantity: 2, unitPriceCents: 700 }], expiresAt: new Date(Date.now() + 600_000).toISOString() }, { correlationId: reserve!.correlation_id })
    await db.transaction().execute((tx) => handle(tx, reserved, ctxFor(reserved)))
    expect(countByType(await outboxOf(db, order.id)).PROCESS_PAYMENT).toBe(1)
  })

  it('when LOW_STOCK arrives, then nothing is written', async () => {
    const m = newMessage('LOW_STOCK', { productId: `T-${randomUUID()}`, available: 1, minStockLevel: 5 }, { correlationId: 'c' })
    await db.transaction().execute((tx) => handle(tx, m, ctxFor(m)))
    expect(await outboxOf(db, m.data.productId)).toEqual([])
  })

  it('when a message that never travels on the inbound topics arrives, then it is refused permanently (dead letter, no retries)', async () => {
    const orderId = randomUUID()
    const m = newMessage('ORDER_DELIVERED', { orderId, version: 5 }, { correlationId: 'c' })
    await expect(db.transaction().execute((tx) => handle(tx, m, ctxFor(m)))).rejects.toBeInstanceOf(PermanentError)
    // a path probe belongs on the participants' command topics, never on the order service's inbound ones
    const probe = newMessage('PATH_PROBE', { participant: 'inventory', probeId: randomUUID(), sentAt: new Date().toISOString() }, { correlationId: 'c' })
    await expect(db.transaction().execute((tx) => handle(tx, probe, ctxFor(probe)))).rejects.toBeInstanceOf(PermanentError)
  })

})
