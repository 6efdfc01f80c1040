// Path probes on inventory.commands (DESIGN §8): the order service checks that its commands reach inventory and
// that inventory's answers reach it; the answer travels through inventory's outbox like any reply.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { newMessage, PermanentError } from '@trackops/messaging'
import type { AnyMessage } from '@trackops/contracts'
import type { Db } from '../src/inventory-db.ts'
import { createCommandBatchHandler } from '../src/handlers.ts'
import { command, events, expectInvariant, handler, logger, migrate, newItem, openDb, reserveCommand, stockOf, TTL_SECONDS } from './support.ts'

let db: Db
beforeAll(async () => {
  await migrate()
  db = openDb(4)
})
afterAll(() => db?.destroy())

const probe = (participant: 'inventory' | 'payments') =>
  newMessage('PATH_PROBE', { participant, probeId: randomUUID(), sentAt: new Date('2030-01-01T00:00:00.000Z').toISOString() }, { correlationId: `probe-${randomUUID()}` })
const handle = (message: ReturnType<typeof probe>, now = new Date()) =>
  db.transaction().execute((tx) => handler({ now: () => now })(tx, message, { correlationId: message.correlationId, causationId: message.id, log: logger, headers: {}, recordTimestamp: Date.now() }))
const answersTo = async (probeId: string) =>
  (await sql<{ type: string; topic: string; aggregateid: string; payload: string }>`
    SELECT type, topic, aggregateid, payload FROM outbox WHERE type = 'PATH_PROBE_ACK' AND payload::jsonb -> 'data' ->> 'probeId' = ${probeId}`.execute(db)).rows

describe('PATH_PROBE', () => {
  it('when a probe for inventory arrives, then PATH_PROBE_ACK echoing it goes out on inventory.events, keyed by the participant', async () => {
    const p = probe('inventory')
    const now = new Date('2030-01-01T00:00:01.000Z')
    await handle(p, now)
    const answers = await answersTo(p.data.probeId)
    expect(answers).toHaveLength(1)
    expect(answers[0]).toMatchObject({ type: 'PATH_PROBE_ACK', topic: 'inventory.events', aggregateid: 'inventory' })
    expect(JSON.parse(answers[0]!.payload)).toMatchObject({ aggregateType: 'messaging_path', correlationId: p.correlationId, causationId: p.id, occurredAt: now.toISOString(), data: p.data })
  })

  it('when the same probe is applied twice, then it is answered twice (harmless: the order service keeps the newest)', async () => {
    const p = probe('inventory')
    await handle(p)
    await handle(p)
    expect(await answersTo(p.data.probeId)).toHaveLength(2)
  })

  it('when a probe meant for payments reaches inventory, then it is refused permanently and nothing is answered', async () => {
    const p = probe('payments')
    await expect(handle(p)).rejects.toBeInstanceOf(PermanentError)
    expect(await answersTo(p.data.probeId)).toEqual([])
  })
})

describe('a batch of commands (the consumer runner hands the group one batch per transaction)', () => {
  const deps = { now: () => new Date(), newId: randomUUID, ttlSeconds: TTL_SECONDS }
  const applyBatch = createCommandBatchHandler(deps)
  const itemOf = (message: AnyMessage) => ({ message, ctx: { correlationId: message.correlationId, causationId: message.id, log: logger, headers: {}, recordTimestamp: Date.now() } })
  const versionOf = async (productId: string) => Number((await db.selectFrom('inventory_items').select('version').where('product_id', '=', productId).executeTakeFirstOrThrow()).version)

  it('when five orders of one batch want the last three units of a product (a flash sale) and the first is committed in the same batch, then three are reserved, two fail, nothing is oversold, and the row is updated once', async () => {
    const item = await newItem(db, { stock: 3 })
    const versionBefore = await versionOf(item.productId)
    const orders = Array.from({ length: 5 }, () => randomUUID())
    const batch = [...orders.map((o) => reserveCommand(o, [{ productId: item.productId, quantity: 1 }])), command('COMMIT_RESERVATION', { orderId: orders[0]!, sagaId: randomUUID() })]
    await db.transaction().execute((tx) => applyBatch(tx, batch.map(itemOf)))

    const replies = await Promise.all(orders.map(async (o) => (await events(db, o)).map((e) => e.type)))
    expect(replies).toEqual([['INVENTORY_RESERVED'], ['INVENTORY_RESERVED'], ['INVENTORY_RESERVED'], ['INVENTORY_RESERVATION_FAILED'], ['INVENTORY_RESERVATION_FAILED']])
    expect(await stockOf(db, item.productId)).toMatchObject({ available: 0, reserved: 2, sold: 1, onHand: 2 })
    expect(await versionOf(item.productId)).toBe(versionBefore + 1)
    await expectInvariant(db, item.productId)
  })

  it('when a batch reserves two products for one order and one product for another, then each product row carries the sum of its movements', async () => {
    const a = await newItem(db, { stock: 10 })
    const b = await newItem(db, { stock: 10 })
    const first = randomUUID()
    const second = randomUUID()
    await db.transaction().execute((tx) => applyBatch(tx, [
      reserveCommand(first, [{ productId: a.productId, quantity: 2 }, { productId: b.productId, quantity: 3 }]),
      reserveCommand(second, [{ productId: a.productId, quantity: 4 }]),
    ].map(itemOf)))
    expect(await stockOf(db, a.productId)).toMatchObject({ available: 4, reserved: 6, onHand: 10 })
    expect(await stockOf(db, b.productId)).toMatchObject({ available: 7, reserved: 3, onHand: 10 })
    await expectInvariant(db, a.productId)
    await expectInvariant(db, b.productId)
  })
})
