// The walking skeleton end to end: HTTP → outbox row → Debezium (Outbox Event Router) → Kafka → consumers,
// with the correlation id and the trace carried across every service.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { Topics } from '@trackops/contracts'
import { createDb } from '@trackops/runtime'
import { recordOf } from '@trackops/messaging'
import { collect } from '../../packages/messaging/test/support.ts'
import { testEnv } from '../support/env.ts'
import { api, confirmedSagaTypes, createProduct, eventually, operator, placeOrder, waitForStatus } from '../support/stack.ts'

const ordersDb = createDb<any>(testEnv.ordersDb, { max: 2 })
let productId: string

beforeAll(async () => {
  productId = await createProduct({ stock: 100, price: 12.5 })
})
afterAll(() => ordersDb.destroy())

describe('outbox → Debezium → Kafka → consumer', () => {
  it('when an order is placed, then ORDER_CREATED reaches orders.events exactly as the relay would publish its outbox row', async () => {
    const correlationId = `e2e-${randomUUID()}`
    const wire = await collect([Topics.orderEvents], (r) => r.headers.correlationId === correlationId)
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }], correlationId })
    const record = await eventually(() => wire.seen.find((r) => r.headers.type === 'ORDER_CREATED'), 60_000, 'ORDER_CREATED on the wire')
    await wire.close()

    const row = (await sql<any>`SELECT * FROM outbox WHERE aggregateid = ${order.id} AND type = 'ORDER_CREATED'`.execute(ordersDb)).rows[0]
    const relayWould = recordOf(row)
    expect(record.topic).toBe(relayWould.topic)
    expect(record.key).toBe(relayWould.key)
    expect(record.value).toBe(relayWould.value)
    expect(record.headers).toEqual(relayWould.headers)
    expect(JSON.parse(record.value)).toMatchObject({ type: 'ORDER_CREATED', aggregateId: order.id, correlationId, data: { orderId: order.id, status: 'PENDING' } })
  })

  it('when an order is placed, then the inventory consumer receives its command and reserves the stock', async () => {
    const { order } = await placeOrder({ items: [{ productId, quantity: 2 }] })
    const reservations = await eventually(async () => {
      const res = await api('inventory', 'GET', `/api/inventory/reservations/order/${order.id}`, { token: await operator() })
      return res.status === 200 && res.body.length > 0 ? res.body : undefined
    }, 60_000, 'a reservation')
    expect(reservations[0]).toMatchObject({ orderId: order.id, productId, quantity: 2 })
  })

  it('when an order runs through the saga, then every record of it in every service carries one correlation id and one trace', async () => {
    const correlationId = `e2e-trace-${randomUUID()}`
    const topics = [Topics.orderEvents, Topics.inventoryCommands, Topics.inventoryEvents, Topics.paymentCommands, Topics.paymentEvents]
    const wire = await collect(topics, (r) => r.headers.correlationId === correlationId)
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }], correlationId })
    await waitForStatus(order.id, ['CONFIRMED'])
    // Five topics, each fetched on its own: COMMIT_RESERVATION can be collected before ORDER_STATUS_UPDATED of the
    // same commit, so wait for every record of the saga, not for the last one written.
    const missing = () => confirmedSagaTypes.filter((t) => !wire.seen.some((r) => r.headers.type === t))
    await eventually(() => missing().length === 0, 60_000, 'every record of the saga on the wire').catch(() => undefined)
    await wire.close()
    expect(missing()).toEqual([])
    const traceIds = new Set(wire.seen.map((r) => r.headers.traceparent?.split('-')[1]))
    expect(traceIds.size).toBe(1)

    // …and the orders service's log carries it (the request's access line). Inventory and payments log each record
    // they apply at debug only (one line per record costs too much at volume): with LOG_LEVEL=debug their lines
    // carry it too; at info, the records above are the trail.
    await eventually(async () => (await readFile('.stack/logs/orders.log', 'utf8')).includes(correlationId), 30_000, 'the correlation id in the orders log')
  })
})
