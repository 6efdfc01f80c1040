// Concurrency: many reservations racing for little stock, each in its own transaction on its own pooled
// connection (as several consumer partitions or service copies would). Never oversold, never deadlocked,
// and no capacity lost: whatever is left is smaller than every order that was refused.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import pino from 'pino'
import type { MessageOf } from '@trackops/contracts'
import { createHealth } from '@trackops/runtime'
import { createVerifier, type App } from '@trackops/http'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'
import { buildApp } from '../src/http.ts'
import { expireDueReservations } from '../src/expire-reservations.ts'
import type { Db } from '../src/inventory-db.ts'
import { command, deliver, events, expectInvariant, handler, migrate, newItem, openDb, reservationsOf, reserveCommand, stockOf } from './support.ts'

const CONCURRENCY = 40
let db: Db
beforeAll(async () => {
  await migrate()
  db = openDb(CONCURRENCY + 5)
})
afterAll(() => db?.destroy())

async function connectionsIn(db: Db) {
  return (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'inventory-test'`.execute(db)).rows[0]?.n ?? 0
}

describe('reservation races', () => {
  it(`when ${CONCURRENCY} orders of 1..3 units race for 10 units, then the product is never oversold and no capacity is lost`, async () => {
    const p = await newItem(db, { stock: 10 })
    const orders = Array.from({ length: CONCURRENCY }, (_, i) => ({ orderId: randomUUID(), quantity: (i % 3) + 1 }))
    const settled = await Promise.allSettled(orders.map((o) => deliver(db, reserveCommand(o.orderId, [{ productId: p.productId, quantity: o.quantity }]))))
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([])
    expect(await connectionsIn(db)).toBeGreaterThan(10)

    const outcomes = await Promise.all(orders.map(async (o) => ({ ...o, reply: (await events(db, o.orderId))[0]?.type })))
    const won = outcomes.filter((o) => o.reply === 'INVENTORY_RESERVED')
    const lost = outcomes.filter((o) => o.reply === 'INVENTORY_RESERVATION_FAILED')
    expect(won.length + lost.length).toBe(CONCURRENCY)
    const reservedUnits = won.reduce((n, o) => n + o.quantity, 0)
    const s = await expectInvariant(db, p.productId)
    expect(reservedUnits).toBeLessThanOrEqual(10)
    expect(s).toMatchObject({ reserved: reservedUnits, available: 10 - reservedUnits, onHand: 10 })
    expect(s.available).toBeLessThan(Math.min(...lost.map((o) => o.quantity)))
    for (const o of lost) {
      const failed = (await events(db, o.orderId))[0] as MessageOf<'INVENTORY_RESERVATION_FAILED'>
      expect(failed.data.failedItems).toEqual([expect.objectContaining({ productId: p.productId, requested: o.quantity, reason: 'INSUFFICIENT' })])
    }
    console.info(`race: ${CONCURRENCY} orders for 10 units → ${won.length} reserved (${reservedUnits} units), ${lost.length} refused, ${s.available} left`)
  })

  it('when multi-product orders list their lines in opposite orders, then they neither deadlock nor split an order', async () => {
    const a = await newItem(db, { stock: 20 })
    const b = await newItem(db, { stock: 20 })
    const orders = Array.from({ length: CONCURRENCY }, (_, i) => {
      const lines = [{ productId: a.productId, quantity: (i % 2) + 1 }, { productId: b.productId, quantity: (i % 3) + 1 }]
      return { orderId: randomUUID(), lines: i % 2 ? lines.reverse() : lines }
    })
    const settled = await Promise.allSettled(orders.map((o) => deliver(db, reserveCommand(o.orderId, o.lines))))
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([])

    let unitsA = 0
    let unitsB = 0
    for (const o of orders) {
      const lines = await reservationsOf(db, o.orderId)
      expect([0, 2]).toContain(lines.length)
      for (const l of lines) {
        if (l.product_id === a.productId) unitsA += l.quantity
        else unitsB += l.quantity
      }
    }
    expect(unitsA).toBeLessThanOrEqual(20)
    expect(unitsB).toBeLessThanOrEqual(20)
    expect(await expectInvariant(db, a.productId)).toMatchObject({ reserved: unitsA })
    expect(await expectInvariant(db, b.productId)).toMatchObject({ reserved: unitsB })
  })

  it('when reserves, commits, releases and sweeps of one product interleave, then the stock invariants hold', async () => {
    const p = await newItem(db, { stock: 30 })
    const expiring = Array.from({ length: 5 }, () => randomUUID())
    await Promise.all(expiring.map((orderId) =>
      deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 2 }]), handler({ now: () => new Date(Date.now() - 3_600_000) }))))
    const held = Array.from({ length: 10 }, () => randomUUID())
    await Promise.all(held.map((orderId) => deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 1 }]))))

    const work: Promise<unknown>[] = []
    held.forEach((orderId, i) => {
      work.push(deliver(db, i % 2 ? command('COMMIT_RESERVATION', { orderId, sagaId: randomUUID() }) : command('RELEASE_INVENTORY', { orderId, sagaId: randomUUID(), reason: 'race' })))
      if (i % 3 === 0) work.push(deliver(db, command('RELEASE_INVENTORY', { orderId, sagaId: randomUUID(), reason: 'cancel' })))
    })
    for (let i = 0; i < 20; i++) work.push(deliver(db, reserveCommand(randomUUID(), [{ productId: p.productId, quantity: (i % 4) + 1 }])))
    for (let i = 0; i < 3; i++) work.push(expireDueReservations(db, { now: () => new Date(), batchSize: 100 }))
    const settled = await Promise.allSettled(work)
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([])

    const s = await expectInvariant(db, p.productId)
    expect(s.onHand + s.sold).toBe(30)
    for (const orderId of expiring) expect((await reservationsOf(db, orderId))[0]?.status).toBe('EXPIRED')
  })
})

describe('reservation races over HTTP', () => {
  let app: App
  beforeAll(async () => {
    app = await buildApp({ db, logger: pino({ level: 'silent' }), health: createHealth(), verify: createVerifier(testEnv.jwt), reservationTtlSeconds: 1800 })
    await app.ready()
  })
  afterAll(() => app?.close())

  it(`when ${CONCURRENCY} operator holds race for 10 units, then 201s never add up to more than 10 and the rest are 409`, async () => {
    const p = await newItem(db, { stock: 10 })
    const token = await tokenFor('operator')
    const holds = Array.from({ length: CONCURRENCY }, (_, i) => ({ orderId: randomUUID(), items: [{ productId: p.productId, quantity: (i % 3) + 1 }] }))
    const replies = await Promise.all(holds.map((payload) =>
      app.inject({ method: 'POST', url: '/api/inventory/reservations', headers: { authorization: `Bearer ${token}` }, payload })))
    expect(new Set(replies.map((r) => r.statusCode))).toEqual(new Set([201, 409]))
    const units = replies.reduce((n, r, i) => n + (r.statusCode === 201 ? (holds[i]?.items[0]?.quantity ?? 0) : 0), 0)
    expect(units).toBeLessThanOrEqual(10)
    expect(await stockOf(db, p.productId)).toMatchObject({ reserved: units, available: 10 - units })
    await expectInvariant(db, p.productId)
  })
})
