// The saga's commands against real PostgreSQL: handlers in the runner's transaction shape (inbox + handler).
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MessageOf } from '@trackops/contracts'
import { expireDueReservations } from '../src/expire-reservations.ts'
import { adjustStock } from '../src/adjust-stock.ts'
import { deleteItem } from '../src/manage-items.ts'
import type { Db } from '../src/inventory-db.ts'
import {
  command, deliver, events, expectInvariant, handler, logger, migrate, newItem, openDb, reservationsOf, reserveCommand, setFlags, stockOf, TTL_SECONDS,
} from './support.ts'

let db: Db
beforeAll(async () => {
  await migrate()
  db = openDb(20)
})
afterAll(() => db?.destroy())

const release = (orderId: string, sagaId: string = randomUUID(), reason = 'payment failed') => command('RELEASE_INVENTORY', { orderId, sagaId, reason })
const commit = (orderId: string, sagaId: string = randomUUID()) => command('COMMIT_RESERVATION', { orderId, sagaId })
const hourAgo = () => new Date(Date.now() - 3_600_000)

describe('RESERVE_INVENTORY', () => {
  it('when every line can be reserved, then stock moves to reserved and INVENTORY_RESERVED carries names, cents and expiry', async () => {
    const a = await newItem(db, { stock: 10, priceCents: 19999, productName: 'Wireless Headphones' })
    const b = await newItem(db, { stock: 5, priceCents: 4999 })
    const orderId = randomUUID()
    const cmd = reserveCommand(orderId, [{ productId: a.productId, quantity: 3 }, { productId: b.productId, quantity: 5 }])
    const before = Date.now()
    expect(await deliver(db, cmd)).toBe(true)

    expect(await stockOf(db, a.productId)).toMatchObject({ available: 7, reserved: 3, onHand: 10 })
    expect(await stockOf(db, b.productId)).toMatchObject({ available: 0, reserved: 5, onHand: 5 })
    const [reply] = await events(db, orderId)
    expect(reply?.type).toBe('INVENTORY_RESERVED')
    const data = (reply as MessageOf<'INVENTORY_RESERVED'>).data
    expect(data.sagaId).toBe(cmd.data.sagaId)
    expect(reply?.causationId).toBe(cmd.id)
    expect(reply?.correlationId).toBe(cmd.correlationId)
    expect(new Set(data.items)).toEqual(new Set([
      { productId: a.productId, productName: 'Wireless Headphones', quantity: 3, unitPriceCents: 19999 },
      { productId: b.productId, productName: b.productName, quantity: 5, unitPriceCents: 4999 },
    ]))
    const expiresIn = Date.parse(data.expiresAt) - before
    expect(expiresIn).toBeGreaterThan((TTL_SECONDS - 5) * 1000)
    expect(expiresIn).toBeLessThan((TTL_SECONDS + 5) * 1000)
    expect((await reservationsOf(db, orderId)).map((r) => r.status)).toEqual(['RESERVED', 'RESERVED'])
    await expectInvariant(db, a.productId)
    await expectInvariant(db, b.productId)
  })

  it('when one line is short, then nothing is reserved and every failed line is reported with its reason', async () => {
    const ok = await newItem(db, { stock: 10 })
    const short = await newItem(db, { stock: 2 })
    const inactive = await newItem(db, { stock: 10 })
    const discontinued = await newItem(db, { stock: 10 })
    await setFlags(db, inactive.productId, { is_active: false })
    await setFlags(db, discontinued.productId, { is_active: false, is_discontinued: true })
    const unknown = `NOPE-${randomUUID()}`
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [
      { productId: ok.productId, quantity: 4 },
      { productId: short.productId, quantity: 3 },
      { productId: inactive.productId, quantity: 1 },
      { productId: discontinued.productId, quantity: 1 },
      { productId: unknown, quantity: 1 },
    ]))

    const [reply] = await events(db, orderId)
    expect(reply?.type).toBe('INVENTORY_RESERVATION_FAILED')
    const failed = (reply as MessageOf<'INVENTORY_RESERVATION_FAILED'>).data.failedItems
    expect(new Set(failed)).toEqual(new Set([
      { productId: short.productId, requested: 3, available: 2, reason: 'INSUFFICIENT' },
      { productId: inactive.productId, requested: 1, available: 10, reason: 'INACTIVE' },
      { productId: discontinued.productId, requested: 1, available: 10, reason: 'DISCONTINUED' },
      { productId: unknown, requested: 1, available: 0, reason: 'UNKNOWN' },
    ]))
    expect(await stockOf(db, ok.productId)).toMatchObject({ available: 10, reserved: 0 })
    expect(await stockOf(db, short.productId)).toMatchObject({ available: 2, reserved: 0 })
    expect(await reservationsOf(db, orderId)).toEqual([])
    await expectInvariant(db, ok.productId)
  })

  it('when two lines name the same product, then they are checked and reserved together', async () => {
    const p = await newItem(db, { stock: 5 })
    const tooMuch = randomUUID()
    await deliver(db, reserveCommand(tooMuch, [{ productId: p.productId, quantity: 3 }, { productId: p.productId, quantity: 3 }]))
    expect((await events(db, tooMuch))[0]).toMatchObject({
      type: 'INVENTORY_RESERVATION_FAILED',
      data: { failedItems: [{ productId: p.productId, requested: 6, available: 5, reason: 'INSUFFICIENT' }] },
    })
    const fits = randomUUID()
    await deliver(db, reserveCommand(fits, [{ productId: p.productId, quantity: 2 }, { productId: p.productId, quantity: 3 }]))
    expect((await reservationsOf(db, fits)).map((r) => [r.product_id, r.quantity])).toEqual([[p.productId, 5]])
    expect((await events(db, fits))[0]).toMatchObject({ type: 'INVENTORY_RESERVED', data: { items: [{ productId: p.productId, quantity: 5 }] } })
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 0, reserved: 5 })
    await expectInvariant(db, p.productId)
  })

  it('when the same message is delivered twice, then the inbox applies it once', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    const cmd = reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }])
    expect(await deliver(db, cmd)).toBe(true)
    expect(await deliver(db, cmd)).toBe(false)
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 6, reserved: 4 })
    expect(await events(db, orderId)).toHaveLength(1)
  })

  it('when the order is asked for again with another message id, then the first outcome is replayed and nothing is reserved twice', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }]))
    const again = reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }])
    expect(await deliver(db, again)).toBe(true)

    expect(await stockOf(db, p.productId)).toMatchObject({ available: 6, reserved: 4 })
    expect(await reservationsOf(db, orderId)).toHaveLength(1)
    const [first, second] = (await events(db, orderId)) as MessageOf<'INVENTORY_RESERVED'>[]
    expect(second?.type).toBe('INVENTORY_RESERVED')
    expect(second?.data.sagaId).toBe(again.data.sagaId)
    expect(second?.data.items).toEqual(first?.data.items)
    expect(second?.data.expiresAt).toBe(first?.data.expiresAt)
    await expectInvariant(db, p.productId)
  })

  it('when a failed order is asked for again after stock arrived, then it still fails (the outcome is per order)', async () => {
    const p = await newItem(db, { stock: 1 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 3 }]))
    await adjustStock(db, { now: () => new Date(), newId: randomUUID }, { productId: p.productId, quantity: 10, reason: 'RECEIVED', note: null, actor: 'test' }, { correlationId: 'test' })
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 3 }]))
    expect((await events(db, orderId)).map((e) => e.type)).toEqual(['INVENTORY_RESERVATION_FAILED', 'INVENTORY_RESERVATION_FAILED'])
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 11, reserved: 0 })
    await expectInvariant(db, p.productId)
  })

  it('when the same order arrives concurrently under different message ids, then it is reserved once', async () => {
    const p = await newItem(db, { stock: 100 })
    const orderId = randomUUID()
    const results = await Promise.all(Array.from({ length: 8 }, () => deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 7 }]))))
    expect(results.every(Boolean)).toBe(true)
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 93, reserved: 7 })
    expect(await reservationsOf(db, orderId)).toHaveLength(1)
    expect((await events(db, orderId)).map((e) => e.type)).toEqual(Array(8).fill('INVENTORY_RESERVED'))
    await expectInvariant(db, p.productId)
  })
})

describe('COMMIT_RESERVATION', () => {
  it('when a reserved order is committed, then its units become sold and leave the on-hand stock; a second commit changes nothing', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }]))
    await deliver(db, commit(orderId))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 6, reserved: 0, sold: 4, onHand: 6 })
    const [line] = await reservationsOf(db, orderId)
    expect(line).toMatchObject({ status: 'COMMITTED' })
    expect(line?.committed_at).toBeInstanceOf(Date)

    await deliver(db, commit(orderId))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 6, reserved: 0, sold: 4, onHand: 6 })
    expect((await events(db, orderId)).map((e) => e.type)).toEqual(['INVENTORY_RESERVED'])
    await expectInvariant(db, p.productId)
  })

  it('when the order is unknown, then the commit is refused without error', async () => {
    await expect(deliver(db, commit(randomUUID()))).resolves.toBe(true)
  })
})

describe('RELEASE_INVENTORY', () => {
  it('when a reserved order is released, then exactly its units return and a second release replies with no items', async () => {
    const a = await newItem(db, { stock: 10 })
    const b = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: a.productId, quantity: 3 }, { productId: b.productId, quantity: 6 }]))
    const cmd = release(orderId)
    await deliver(db, cmd)
    expect(await stockOf(db, a.productId)).toMatchObject({ available: 10, reserved: 0, onHand: 10 })
    expect(await stockOf(db, b.productId)).toMatchObject({ available: 10, reserved: 0, onHand: 10 })
    expect((await reservationsOf(db, orderId)).map((r) => r.status)).toEqual(['RELEASED', 'RELEASED'])

    await deliver(db, release(orderId, cmd.data.sagaId, 'again'))
    const replies = (await events(db, orderId, 'INVENTORY_RELEASED')) as MessageOf<'INVENTORY_RELEASED'>[]
    expect(replies.map((r) => r.data.items.length)).toEqual([2, 0])
    expect(new Set(replies[0]?.data.items)).toEqual(new Set([{ productId: a.productId, quantity: 3 }, { productId: b.productId, quantity: 6 }]))
    expect(replies[0]?.data).toMatchObject({ sagaId: cmd.data.sagaId, reason: 'payment failed' })
    expect(await stockOf(db, a.productId)).toMatchObject({ available: 10, reserved: 0 })
    await expectInvariant(db, a.productId)
    await expectInvariant(db, b.productId)
  })

  it('when a committed order is released (a confirmed order cancelled), then its sold units are restocked', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }]))
    await deliver(db, commit(orderId))
    await deliver(db, release(orderId, randomUUID(), 'order cancelled'))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 10, reserved: 0, sold: 0, onHand: 10 })
    const [line] = await reservationsOf(db, orderId)
    expect(line).toMatchObject({ status: 'RELEASED' })
    expect(line?.committed_at).toBeInstanceOf(Date)
    expect((await events(db, orderId, 'INVENTORY_RELEASED'))[0]).toMatchObject({ data: { items: [{ productId: p.productId, quantity: 4 }], reason: 'order cancelled' } })
    await expectInvariant(db, p.productId)
  })

  it('when the order never reserved anything, then the saga still gets INVENTORY_RELEASED with no items', async () => {
    const orderId = randomUUID()
    await deliver(db, release(orderId))
    expect((await events(db, orderId))[0]).toMatchObject({ type: 'INVENTORY_RELEASED', data: { orderId, items: [] } })
  })
})

describe('expiry', () => {
  it('when an unconfirmed reservation is past its expiry, then the sweeper returns exactly its stock once and a late commit is refused', async () => {
    const p = await newItem(db, { stock: 10 })
    const keep = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    const fresh = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }]), handler({ now: hourAgo }))
    await deliver(db, reserveCommand(fresh, [{ productId: keep.productId, quantity: 2 }]))

    const sweeps = await Promise.all([1, 2, 3].map(() => expireDueReservations(db, { now: () => new Date(), batchSize: 1000, logger })))
    expect(sweeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1)
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 10, reserved: 0, onHand: 10 })
    expect(await stockOf(db, keep.productId)).toMatchObject({ available: 8, reserved: 2 })
    const [line] = await reservationsOf(db, orderId)
    expect(line).toMatchObject({ status: 'EXPIRED' })
    const expired = (await events(db, orderId, 'RESERVATION_EXPIRED')) as MessageOf<'RESERVATION_EXPIRED'>[]
    expect(expired).toHaveLength(1)
    expect(expired[0]?.data.items).toEqual([{ productId: p.productId, quantity: 4 }])

    await deliver(db, commit(orderId))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 10, reserved: 0, sold: 0 })
    expect((await reservationsOf(db, orderId))[0]).toMatchObject({ status: 'EXPIRED' })
    expect((await events(db, orderId)).map((e) => e.type)).toEqual(['INVENTORY_RESERVED', 'RESERVATION_EXPIRED'])

    await deliver(db, release(orderId))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 10, reserved: 0 })
    expect((await events(db, orderId, 'INVENTORY_RELEASED'))[0]).toMatchObject({ data: { items: [] } })
    await expectInvariant(db, p.productId)
    await expectInvariant(db, keep.productId)
  })

  it('when a reservation is committed before the sweeper runs, then it stays committed', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 4 }]), handler({ now: hourAgo }))
    await deliver(db, commit(orderId))
    await expireDueReservations(db, { now: () => new Date(), batchSize: 1000 })
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 6, reserved: 0, sold: 4 })
    expect(await events(db, orderId, 'RESERVATION_EXPIRED')).toEqual([])
    await expectInvariant(db, p.productId)
  })
})

describe('LOW_STOCK', () => {
  it('when available stock crosses the minimum, then LOW_STOCK is emitted once per crossing, keyed by product', async () => {
    const p = await newItem(db, { stock: 20, minStockLevel: 10 })
    const first = randomUUID()
    await deliver(db, reserveCommand(randomUUID(), [{ productId: p.productId, quantity: 5 }]))
    expect(await events(db, p.productId, 'LOW_STOCK')).toEqual([])
    await deliver(db, reserveCommand(first, [{ productId: p.productId, quantity: 6 }]))
    await deliver(db, reserveCommand(randomUUID(), [{ productId: p.productId, quantity: 1 }]))
    const alerts = await events(db, p.productId, 'LOW_STOCK')
    expect(alerts).toHaveLength(1)
    expect(alerts[0]).toMatchObject({ aggregateId: p.productId, data: { productId: p.productId, available: 9, minStockLevel: 10 } })

    await deliver(db, release(first))
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 14 })
    await adjustStock(db, { now: () => new Date(), newId: randomUUID }, { productId: p.productId, quantity: -4, reason: 'WRITE_OFF', note: 'broken', actor: 'test' }, { correlationId: 'test' })
    const again = await events(db, p.productId, 'LOW_STOCK')
    expect(again).toHaveLength(2)
    expect(again[1]).toMatchObject({ data: { available: 10 } })
    await expectInvariant(db, p.productId)
  })
})

describe('deleting an item', () => {
  it('when it has active reservations, then deletion is refused until they are released', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 1 }]))
    expect(await deleteItem(db, p.productId)).toMatchObject({ ok: false, kind: 'reserved' })
    await deliver(db, release(orderId))
    expect(await deleteItem(db, p.productId)).toMatchObject({ ok: true })
  })
})
