// A cancelled order's own representation says why and who (cancellationReason, cancelledBy), whichever path
// cancelled it: a customer's or operator's DELETE (at once, or after the saga compensated), or the saga itself (a
// declined payment). Against the real PostgreSQL and Redis, through the HTTP API with
// the order cache in front, so cached answers are checked too. Replies are applied as the consumer runner does.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { createHealth, createRedis } from '@trackops/runtime'
import { createVerifier, type App } from '@trackops/http'
import { newMessage, type HandlerContext, type RowChange } from '@trackops/messaging'
import { CdcTopics, type MessageData } from '@trackops/contracts'
import { testEnv } from '../../../tests/support/env.ts'
import { buildApp } from '../src/http.ts'
import { createOrderCache } from '../src/order-cache.ts'
import { createOrderChangeHandler, orderChangeOfRow } from '../src/order-changes.ts'
import { getOrder } from '../src/order-store.ts'
import { findSaga } from '../src/saga/store.ts'
import { cancelledByOf } from '../src/order.ts'
import type { SagaReplyType } from '../src/saga/saga.ts'
import { OPERATOR, addProduct, createTestSaga, address, createTestDb, customer, insertBareOrder, operator } from './support.ts'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const run = randomUUID().slice(0, 8)
const db = createTestDb()
const redis = createRedis(testEnv.redisUrl, 'orders-cancel-test')
redis.on('error', () => undefined)
const keyPrefix = `test:orders-cancel:${run}:`
const orders = createOrderCache({ redis, db, logger, ttlSeconds: 60, jitterSeconds: 5, keyPrefix })
// What the orders-cache consumer does with each committed change of an order row.
const applyChange = createOrderChangeHandler({ cache: orders.cache })
const saga = createTestSaga(db)
let app: App

beforeAll(async () => {
  app = await buildApp({ db, logger, health: createHealth(), verify: createVerifier(testEnv.jwt), saga, now: () => new Date(), newId: randomUUID, cache: orders })
  await app.ready()
})
afterAll(async () => {
  await app?.close()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length) await redis.del(...keys)
  await redis.quit()
  await db.destroy()
})

interface OrderJson {
  id: string
  status: string
  cancellationReason: string | null
  cancelledBy: string | null
  version: number
}

const read = async (id: string, auth?: string) => {
  const res = await app.inject({ method: 'GET', url: `/api/orders/${id}`, headers: { authorization: auth ?? (await operator()) } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as OrderJson
}
const hits = () => orders.cache.stats().hits

/** A customer places an order with items through the API: its saga starts and asks inventory to reserve. */
async function place(customerId = randomUUID()) {
  const productId = await addProduct(db, { price: 12.5 })
  const res = await app.inject({
    method: 'POST', url: '/api/orders', headers: { authorization: await customer(customerId) },
    payload: { customerId, address: address(), items: [{ productId, quantity: 1 }], paymentMethod: { token: 'tok_visa' } },
  })
  expect(res.statusCode, res.body).toBe(201)
  const id = res.json().id as string
  const started = await findSaga(db, { orderId: id })
  if (!started) throw new Error('the order started no saga')
  return { id, customerId, ref: { orderId: id, sagaId: started.id } }
}

type Ref = { orderId: string; sagaId: string }
const replies = {
  INVENTORY_RESERVED: (r: Ref) => ({ ...r, items: [{ productId: 'P', productName: 'P', quantity: 1, unitPriceCents: 1250 }], expiresAt: new Date(Date.now() + 900_000).toISOString() }),
  INVENTORY_RELEASED: (r: Ref) => ({ ...r, items: [{ productId: 'P', quantity: 1 }], reason: 'released' }),
  PAYMENT_FAILED: (r: Ref) => ({ ...r, reason: 'card declined', code: 'card_declined' }),
  PAYMENT_REFUNDED: (r: Ref) => ({ ...r, paymentId: randomUUID(), amountCents: 1250 }),
} satisfies { [T in SagaReplyType]?: (r: Ref) => MessageData<T> }

/** A reply applied as the consumer runner applies it: in one transaction, with the message as causation. */
async function deliver(type: keyof typeof replies, ref: Ref) {
  const correlationId = `cancel-test-${ref.orderId}`
  const message = newMessage(type, replies[type](ref) as never, { correlationId })
  const ctx: HandlerContext = { correlationId, causationId: message.id, headers: {}, recordTimestamp: Date.now(), log: logger }
  await db.transaction().execute((tx) => saga.handleReply(tx, message, ctx))
}

/** The change record Debezium sends for the order row as it now is, applied to the cache. */
async function changeStreamDelivers(orderId: string) {
  const o = await getOrder(db, orderId)
  if (!o) throw new Error(`no order ${orderId}`)
  const change: RowChange = {
    op: 'u', before: null, after: { id: o.id, status: o.status, version: o.version }, committedAt: Date.now(), lsn: null, topic: CdcTopics.orders, key: JSON.stringify({ id: orderId }),
  }
  await applyChange(orderChangeOfRow(change)!)
}

describe('a cancelled order says why and who', () => {
  it('when an order is not cancelled, then cancellationReason and cancelledBy are null', async () => {
    const id = await insertBareOrder(db, 'CONFIRMED')
    expect(await read(id)).toMatchObject({ status: 'CONFIRMED', cancellationReason: null, cancelledBy: null })
  })

  it('when a customer cancels their order with DELETE, then the answer and every later read (cached too) carry their reason and subject', async () => {
    const customerId = randomUUID()
    const id = await insertBareOrder(db, 'PENDING', customerId) // no saga: nothing held, cancelled at once
    const res = await app.inject({ method: 'DELETE', url: `/api/orders/${id}?reason=found%20it%20cheaper`, headers: { authorization: await customer(customerId) } })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ status: 'CANCELLED', cancellationReason: 'found it cheaper', cancelledBy: customerId })

    const before = hits()
    expect(await read(id, await customer(customerId))).toMatchObject({ status: 'CANCELLED', cancellationReason: 'found it cheaper', cancelledBy: customerId })
    expect(hits()).toBe(before + 1) // the writer's own cache entry answered
    expect(await getOrder(db, id)).toMatchObject({ cancellationReason: 'found it cheaper', cancelledBy: customerId })
  })

  it('when an operator cancels without a reason, then the reason says who asked and cancelledBy is the operator', async () => {
    const id = await insertBareOrder(db, 'PROCESSING')
    const res = await app.inject({ method: 'DELETE', url: `/api/orders/${id}`, headers: { authorization: await operator() } })
    expect(res.statusCode, res.body).toBe(200)
    expect(await read(id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'cancelled by operator', cancelledBy: OPERATOR })
  })

  it('when a customer cancels while the saga holds stock, then the order, CANCELLED once released, still names the customer', async () => {
    const { id, customerId, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    const res = await app.inject({ method: 'DELETE', url: `/api/orders/${id}?reason=ordered%20twice`, headers: { authorization: await customer(customerId) } })
    expect(res.statusCode, res.body).toBe(202) // refund and release first
    expect((await read(id)).status).not.toBe('CANCELLED')

    await deliver('PAYMENT_REFUNDED', ref)
    await deliver('INVENTORY_RELEASED', ref)
    await changeStreamDelivers(id)
    expect(await read(id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'ordered twice', cancelledBy: customerId })
  })

  it('when the saga cancels the order after a declined payment, then the reason is the payment failure and cancelledBy is saga, cached or not', async () => {
    const { id, ref } = await place()
    expect((await read(id)).status).toBe('PENDING') // cached now, before the saga changes it
    await deliver('INVENTORY_RESERVED', ref)
    await deliver('PAYMENT_FAILED', ref)
    await deliver('INVENTORY_RELEASED', ref)
    expect(await getOrder(db, id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'Payment failed: card declined', cancelledBy: 'saga' })

    // The saga commits inside the consumer's transaction: the cache learns of it from the change stream.
    await changeStreamDelivers(id)
    expect(await read(id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'Payment failed: card declined', cancelledBy: 'saga' })
    const before = hits()
    expect(await read(id)).toMatchObject({ cancellationReason: 'Payment failed: card declined', cancelledBy: 'saga' })
    expect(hits()).toBe(before + 1)
  })

  it('when the cache holds an entry written before orders carried their cancellation, then it is reloaded, not served without it', async () => {
    const id = await insertBareOrder(db, 'PENDING')
    const res = await app.inject({ method: 'DELETE', url: `/api/orders/${id}?reason=duplicate`, headers: { authorization: await operator() } })
    expect(res.statusCode, res.body).toBe(200)
    const current = (await getOrder(db, id))!
    const { cancellationReason: _reason, cancelledBy: _by, paymentToken: _token, ...older } = current
    await redis.del(`${keyPrefix}${id}`)
    // What an orders service of the previous release wrote: the same version, without the two fields.
    await orders.cache.afterWrite(id, older as typeof current, current.version)
    expect(await redis.hget(`${keyPrefix}${id}`, 'd')).not.toContain('cancelledBy')
    expect(await read(id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'duplicate', cancelledBy: OPERATOR })
  })
})

describe('cancelledByOf', () => {
  it('when a person asked, then it is their subject; when the saga or its deadline decided, saga; otherwise system', () => {
    expect(cancelledByOf('customer', 'c-1')).toBe('c-1')
    expect(cancelledByOf('operator', 'operator-1')).toBe('operator-1')
    expect(cancelledByOf('saga', undefined)).toBe('saga')
    expect(cancelledByOf('timeout', undefined)).toBe('saga')
    expect(cancelledByOf('system', undefined)).toBe('system')
    expect(cancelledByOf('operator', undefined)).toBe('operator') // no subject known (auth off): the role that asked
  })
})
