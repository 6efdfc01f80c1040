// Switching the publishing strategy (Debezium ↔ polling relay) changes nothing a consumer can observe: the same
// records (topic, key, header names, envelope) and the same saga outcome, with nothing lost across the switch.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { Topics } from '@trackops/contracts'
import type { KafkaRecordIn } from '@trackops/messaging'
import { collect } from '../../packages/messaging/test/support.ts'
import { api, confirmedSagaTypes, createProduct, eventually, placeOrder, switchStrategy as switchTo, waitForStatus } from '../support/stack.ts'

afterAll(async () => {
  await switchTo('debezium')
}, 240_000)

async function confirmedOrderRecords(productId: string) {
  const correlationId = `strategy-${randomUUID()}`
  const topics = [Topics.orderEvents, Topics.inventoryCommands, Topics.inventoryEvents, Topics.paymentCommands, Topics.paymentEvents]
  const wire = await collect(topics, (r) => r.headers.correlationId === correlationId)
  const { order } = await placeOrder({ items: [{ productId, quantity: 1 }], correlationId })
  await waitForStatus(order.id, ['CONFIRMED'], 60_000)
  // The shapes of two runs are compared: collect every record of the saga, not just up to COMMIT_RESERVATION, which
  // can arrive before ORDER_STATUS_UPDATED of the same commit (another topic, fetched on its own).
  const missing = () => confirmedSagaTypes.filter((t) => !wire.seen.some((r) => r.headers.type === t))
  await eventually(() => missing().length === 0, 60_000, 'every record of the saga on the wire').catch(() => undefined)
  await wire.close()
  expect(missing()).toEqual([])
  return { order, records: wire.seen }
}

const shape = (records: KafkaRecordIn[]) =>
  records
    .map((r) => ({ topic: r.topic, type: r.headers.type, headers: Object.keys(r.headers).sort(), keyIsOrder: r.key === JSON.parse(r.value).aggregateId, envelope: Object.keys(JSON.parse(r.value)).sort() }))
    .sort((a, b) => `${a.topic}${a.type}`.localeCompare(`${b.topic}${b.type}`))

describe('publishing strategies', () => {
  it('when the relay publishes instead of Debezium, then consumers see the same records and the saga the same outcome', async () => {
    const productId = await createProduct({ stock: 50 })
    const before = await confirmedOrderRecords(productId)
    await switchTo('outbox')
    const relayHealth = await api('relay', 'GET', '/actuator/health')
    expect(relayHealth.status).toBe(200)
    const after = await confirmedOrderRecords(productId)
    expect(shape(after.records)).toEqual(shape(before.records))
    await switchTo('debezium')
    const back = await confirmedOrderRecords(productId)
    expect(shape(back.records)).toEqual(shape(before.records))
  }, 600_000)
})
