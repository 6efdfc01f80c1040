// The HTTP API through app.inject against the real database, with real JWT verification.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { sql } from 'kysely'
import { createHealth } from '@trackops/runtime'
import { createVerifier, type App, type Role } from '@trackops/http'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'
import { buildApp } from '../src/http.ts'
import type { Db } from '../src/inventory-db.ts'
import { deliver, events, expectInvariant, handler, migrate, newItem, openDb, reserveCommand, stockOf, uid } from './support.ts'

let db: Db
let app: App
const tokens = {} as Record<Role, string>
const ADMIN_SUB = '00000000-0000-4000-8000-00000000a001'

beforeAll(async () => {
  await migrate()
  db = openDb(10)
  const health = createHealth()
  health.register('db', { required: true, check: async () => (await sql`SELECT 1`.execute(db), { status: 'UP' }) })
  app = await buildApp({ db, logger: pino({ level: 'silent' }), health, verify: createVerifier(testEnv.jwt), reservationTtlSeconds: 1800 })
  await app.ready()
  tokens.customer = await tokenFor('customer')
  tokens.operator = await tokenFor('operator')
  tokens.admin = await tokenFor('admin', ADMIN_SUB)
})
afterAll(async () => {
  await app?.close()
  await db?.destroy()
})

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
const call = (method: Method, url: string, opts: { as?: Role | null; body?: unknown } = {}) =>
  app.inject({
    method,
    url,
    headers: opts.as === null ? {} : { authorization: `Bearer ${tokens[opts.as ?? 'operator']}` },
    ...(opts.body !== undefined && { payload: opts.body as object }),
  })

const itemBody = (o: Record<string, unknown> = {}) => ({
  productId: `PROD-${uid()}${uid()}`,
  productName: 'Wireless Headphones',
  description: 'High-quality wireless headphones with noise cancellation',
  unitPrice: 99.99,
  availableQuantity: 100,
  category: 'Electronics',
  ...o,
})

describe('items: create and read', () => {
  it('when an operator creates an item, then 201 with the original field names; unknown fields are ignored', async () => {
    const body = itemBody({ sku: 'WH-001', minStockLevel: 10, maxStockLevel: 500, reorderQuantity: 50 })
    const res = await call('POST', '/api/inventory/items', { body })
    expect(res.statusCode).toBe(201)
    expect(res.headers.location).toBe(`/api/inventory/items/${body.productId}`)
    const item = res.json()
    expect(item).toMatchObject({
      productId: body.productId, productName: 'Wireless Headphones', availableQuantity: 100, reservedQuantity: 0, unitPrice: 99.99,
      category: 'Electronics', minStockLevel: 10, maxStockLevel: 500, reorderQuantity: 50, isActive: true, isDiscontinued: false,
      isLowStock: false, isOutOfStock: false, needsReordering: false, version: 0,
    })
    expect(item.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(item).not.toHaveProperty('sku')
    expect(Date.parse(item.createdAt)).not.toBeNaN()
    await expectInvariant(db, body.productId)
  })

  it('when the product id is taken, then 409', async () => {
    const body = itemBody()
    expect((await call('POST', '/api/inventory/items', { body })).statusCode).toBe(201)
    const res = await call('POST', '/api/inventory/items', { body })
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ code: 'inventory.item.already-exists', detail: 'An item with that productId already exists.' })
  })

  it('when the body breaks the rules, then 400 lists the fields; min above max is 422', async () => {
    const missing = await call('POST', '/api/inventory/items', { body: { productId: `P-${uid()}`, unitPrice: 1 } })
    expect(missing.statusCode).toBe(400)
    expect(missing.json().errors.map((e: { field: string }) => e.field).sort()).toEqual(['availableQuantity', 'productName'])
    for (const bad of [{ unitPrice: 0 }, { unitPrice: 1.234 }, { availableQuantity: -1 }, { productName: '   ' }, { productId: 'has space' }, { category: 'x'.repeat(101) }]) {
      const res = await call('POST', '/api/inventory/items', { body: itemBody(bad) })
      expect(res.statusCode, JSON.stringify(bad)).toBe(400)
      expect(res.json().code).toBe('request.validation')
    }
    const levels = await call('POST', '/api/inventory/items', { body: itemBody({ minStockLevel: 20, maxStockLevel: 10 }) })
    expect(levels.statusCode).toBe(422)
    expect(levels.json().detail).toContain('minStockLevel')
  })

  it('when a customer or nobody writes, then 403 / 401; any signed-in role reads', async () => {
    expect((await call('POST', '/api/inventory/items', { as: 'customer', body: itemBody() })).statusCode).toBe(403)
    expect((await call('POST', '/api/inventory/items', { as: null, body: itemBody() })).statusCode).toBe(401)
    const p = await newItem(db, { stock: 3 })
    expect((await call('GET', `/api/inventory/items/${p.productId}`, { as: 'customer' })).statusCode).toBe(200)
    expect((await call('GET', `/api/inventory/items/${p.productId}`, { as: null })).statusCode).toBe(401)
  })

  it('when an item is read by product id, then its flags are derived; an unknown id is 404', async () => {
    const p = await newItem(db, { stock: 2, minStockLevel: 5, reorderQuantity: 10, priceCents: 4999 })
    const res = await call('GET', `/api/inventory/items/${p.productId}`)
    expect(res.json()).toMatchObject({ productId: p.productId, unitPrice: 49.99, isLowStock: true, isOutOfStock: false, needsReordering: true })
    const missing = await call('GET', `/api/inventory/items/NOPE-${uid()}`)
    expect(missing.statusCode).toBe(404)
    expect(missing.json().code).toBe('inventory.item.not-found')
  })

  it('when items are listed, then pages, category filter and whitelisted sorting apply; a bad sort is 400', async () => {
    const category = `Cat-${uid()}`
    await newItem(db, { category, priceCents: 300, productName: 'b' })
    await newItem(db, { category, priceCents: 100, productName: 'c' })
    await newItem(db, { category, priceCents: 200, productName: 'a' })
    const byPrice = await call('GET', `/api/inventory/items?category=${category}&sort=unitPrice,desc&size=2`)
    expect(byPrice.statusCode).toBe(200)
    expect(byPrice.json()).toMatchObject({ totalElements: 3, totalPages: 2, number: 0, size: 2, numberOfElements: 2, first: true, last: false })
    expect(byPrice.json().content.map((i: { unitPrice: number }) => i.unitPrice)).toEqual([3, 2])
    const second = await call('GET', `/api/inventory/items?category=${category}&sort=unitPrice,desc&size=2&page=1`)
    expect(second.json()).toMatchObject({ numberOfElements: 1, last: true })
    const original = await call('GET', `/api/inventory/items?category=${category}&sortBy=productName&sortDir=desc`)
    expect(original.json().content.map((i: { productName: string }) => i.productName)).toEqual(['c', 'b', 'a'])
    const byDefault = await call('GET', `/api/inventory/items?category=${category}`)
    expect(byDefault.json().content.map((i: { productName: string }) => i.productName)).toEqual(['a', 'b', 'c'])
    for (const q of ['sort=description,asc', 'sortBy=version', 'size=101', 'page=-1', 'sort=unitPrice,sideways']) {
      expect((await call('GET', `/api/inventory/items?${q}`)).statusCode, q).toBe(400)
    }
  })

  it('when available items are asked for, then only active ones with at least minQuantity', async () => {
    const category = `Avail-${uid()}`
    const many = await newItem(db, { stock: 50, category })
    const few = await newItem(db, { stock: 3, category })
    const none = await newItem(db, { stock: 0, category })
    const ids = (list: { productId: string }[]) => list.map((i) => i.productId)
    const all = ids((await call('GET', '/api/inventory/items/available')).json())
    expect(all).toEqual(expect.arrayContaining([many.productId, few.productId]))
    expect(all).not.toContain(none.productId)
    const atLeast10 = ids((await call('GET', '/api/inventory/items/available?minQuantity=10')).json())
    expect(atLeast10).toContain(many.productId)
    expect(atLeast10).not.toContain(few.productId)
    expect((await call('GET', '/api/inventory/items/available?minQuantity=abc')).statusCode).toBe(400)
  })

  it('when stats and stock health are asked for, then totals come back in the original shape', async () => {
    await newItem(db, { stock: 0 })
    const stats = (await call('GET', '/api/inventory/items/stats')).json()
    expect(stats).toEqual(expect.objectContaining({ totalItems: expect.any(Number), totalAvailableQuantity: expect.any(Number), totalReservedQuantity: expect.any(Number), outOfStockItems: expect.any(Number) }))
    expect(stats.outOfStockItems).toBeGreaterThanOrEqual(1)
    const health = (await call('GET', '/api/inventory/items/health')).json()
    expect(Object.keys(health).sort()).toEqual(['activeItems', 'discontinuedItems', 'lowStockItems', 'outOfStockItems', 'timestamp', 'totalItems'])
    const service = await call('GET', '/api/inventory/health', { as: null })
    expect(service.statusCode).toBe(200)
    expect(service.json()).toMatchObject({ inventory: 'UP', service: 'inventory-service' })
    expect((await call('GET', '/actuator/health', { as: null })).json().status).toBe('UP')
  })

  it('when the OpenAPI document is asked for, then it lists every inventory path', async () => {
    const doc = (await call('GET', '/docs/json', { as: null })).json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/api/inventory/items', '/api/inventory/items/{productId}', '/api/inventory/items/{productId}/adjustments',
      '/api/inventory/reservations', '/api/inventory/reservations/{id}', '/api/inventory/reservations/order/{orderId}',
    ]))
  })
})

describe('items: update and delete', () => {
  it('when fields are updated, then only those change (null leaves a field as it is) and the version grows', async () => {
    const p = await newItem(db, { stock: 10, priceCents: 1000, minStockLevel: 3 })
    const res = await call('PUT', `/api/inventory/items/${p.productId}`, { body: { unitPrice: 12.5, productName: 'Renamed', category: null, minStockLevel: null, isActive: null, color: 'red' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ unitPrice: 12.5, productName: 'Renamed', category: 'Test', minStockLevel: 3, isActive: true, availableQuantity: 10, version: 1 })
    const zero = await call('PUT', `/api/inventory/items/${p.productId}`, { body: { minStockLevel: 0 } })
    expect(zero.json()).toMatchObject({ minStockLevel: 0, version: 2 })
  })

  it('when optional fields are created as null, then they are stored as null', async () => {
    const res = await call('POST', '/api/inventory/items', { body: itemBody({ description: null, category: null, minStockLevel: null }) })
    expect(res.json()).toMatchObject({ description: null, category: null, minStockLevel: null, isLowStock: false })
  })

  it('when a rule is broken, then 422 (not 500); bad input is 400; an unknown item is 404', async () => {
    const p = await newItem(db, { stock: 10, minStockLevel: 5, maxStockLevel: 50 })
    const levels = await call('PUT', `/api/inventory/items/${p.productId}`, { body: { maxStockLevel: 4 } })
    expect(levels.statusCode).toBe(422)
    expect(levels.json().code).toBe('inventory.item.unprocessable')
    expect((await call('PUT', `/api/inventory/items/${p.productId}`, { body: { unitPrice: -1 } })).statusCode).toBe(400)
    expect((await call('PUT', `/api/inventory/items/${p.productId}`, { body: { minStockLevel: 'many' } })).statusCode).toBe(400)
    expect((await call('PUT', `/api/inventory/items/NOPE-${uid()}`, { body: { productName: 'x' } })).statusCode).toBe(404)
  })

  it('when a product is discontinued, then it is also inactive and cannot be reserved; making it active alone is 422', async () => {
    const p = await newItem(db, { stock: 10 })
    const res = await call('PUT', `/api/inventory/items/${p.productId}`, { body: { isDiscontinued: true } })
    expect(res.json()).toMatchObject({ isDiscontinued: true, isActive: false })
    expect((await call('PUT', `/api/inventory/items/${p.productId}`, { body: { isActive: true } })).statusCode).toBe(422)
    const hold = await call('POST', '/api/inventory/reservations', { body: { orderId: randomUUID(), items: [{ productId: p.productId, quantity: 1 }] } })
    expect(hold.json().failedItems).toEqual([{ productId: p.productId, requested: 1, available: 10, reason: 'DISCONTINUED' }])
    const back = await call('PUT', `/api/inventory/items/${p.productId}`, { body: { isDiscontinued: false } })
    expect(back.json()).toMatchObject({ isDiscontinued: false, isActive: true })
  })

  it('when availableQuantity is sent, then only an admin may change it and it is audited as a CORRECTION', async () => {
    const p = await newItem(db, { stock: 10 })
    expect((await call('PUT', `/api/inventory/items/${p.productId}`, { as: 'operator', body: { availableQuantity: 12 } })).statusCode).toBe(403)
    const res = await call('PUT', `/api/inventory/items/${p.productId}`, { as: 'admin', body: { availableQuantity: 12 } })
    expect(res.json()).toMatchObject({ availableQuantity: 12 })
    const trail = (await call('GET', `/api/inventory/items/${p.productId}/adjustments`)).json()
    expect(trail[0]).toMatchObject({ quantity: 2, reason: 'CORRECTION', actor: ADMIN_SUB, availableBefore: 10, availableAfter: 12 })
    await expectInvariant(db, p.productId)
  })

  it('when an item is deleted, then 204 and then 404; with active reservations it is 409', async () => {
    const p = await newItem(db, { stock: 10 })
    expect((await call('DELETE', `/api/inventory/items/${p.productId}`, { as: 'customer' })).statusCode).toBe(403)
    expect((await call('DELETE', `/api/inventory/items/${p.productId}`)).statusCode).toBe(204)
    expect((await call('GET', `/api/inventory/items/${p.productId}`)).statusCode).toBe(404)
    expect((await call('DELETE', `/api/inventory/items/${p.productId}`)).statusCode).toBe(404)
    const held = await newItem(db, { stock: 10 })
    await deliver(db, reserveCommand(randomUUID(), [{ productId: held.productId, quantity: 1 }]))
    const refused = await call('DELETE', `/api/inventory/items/${held.productId}`)
    expect(refused.statusCode).toBe(409)
    expect(refused.json().code).toBe('inventory.item-reserved.conflict')
  })
})

describe('items: adjustments', () => {
  it('when an admin records received and written-off stock, then available and on hand move and the actor is audited', async () => {
    const p = await newItem(db, { stock: 10, minStockLevel: 5 })
    const received = await call('POST', `/api/inventory/items/${p.productId}/adjustments`, { as: 'admin', body: { quantity: 15, reason: 'RECEIVED', note: 'PO-1' } })
    expect(received.statusCode).toBe(201)
    expect(received.json()).toMatchObject({ quantity: 15, reason: 'RECEIVED', note: 'PO-1', actor: ADMIN_SUB, availableBefore: 10, availableAfter: 25, item: { availableQuantity: 25 } })
    const off = await call('POST', `/api/inventory/items/${p.productId}/adjustments`, { as: 'admin', body: { quantity: -21, reason: 'WRITE_OFF' } })
    expect(off.json().item).toMatchObject({ availableQuantity: 4, isLowStock: true })
    expect(await events(db, p.productId, 'LOW_STOCK')).toHaveLength(1)
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 4, onHand: 4 })
    await expectInvariant(db, p.productId)
  })

  it('when an adjustment is invalid, then 400 / 422 / 409 / 403 / 404 and nothing changes', async () => {
    const p = await newItem(db, { stock: 3 })
    const url = `/api/inventory/items/${p.productId}/adjustments`
    const zero = await call('POST', url, { as: 'admin', body: { quantity: 0, reason: 'CORRECTION' } })
    expect(zero.statusCode).toBe(400)
    expect(zero.json().errors).toEqual([{ field: 'quantity', message: 'must not be 0' }])
    expect((await call('POST', url, { as: 'admin', body: { quantity: 2, reason: 'LOST' } })).statusCode).toBe(400)
    expect((await call('POST', url, { as: 'admin', body: { quantity: 2.5, reason: 'RECEIVED' } })).statusCode).toBe(400)
    expect((await call('POST', url, { as: 'admin', body: { quantity: 2, reason: 'WRITE_OFF' } })).statusCode).toBe(422)
    const negative = await call('POST', url, { as: 'admin', body: { quantity: -4, reason: 'WRITE_OFF' } })
    expect(negative.statusCode).toBe(409)
    expect(negative.json().code).toBe('inventory.stock.conflict')
    expect((await call('POST', url, { as: 'operator', body: { quantity: 1, reason: 'RECEIVED' } })).statusCode).toBe(403)
    expect((await call('POST', `/api/inventory/items/NOPE-${uid()}/adjustments`, { as: 'admin', body: { quantity: 1, reason: 'RECEIVED' } })).statusCode).toBe(404)
    expect(await stockOf(db, p.productId)).toMatchObject({ available: 3 })
  })
})

describe('reservations', () => {
  it('when an operator holds stock for an order, then 201 with the reservations; repeating it is 200 with the same ones', async () => {
    const a = await newItem(db, { stock: 10, priceCents: 2999 })
    const b = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    const body = { orderId, items: [{ productId: a.productId, quantity: 2 }, { productId: b.productId, quantity: 1 }, { productId: a.productId, quantity: 1 }] }
    const res = await call('POST', '/api/inventory/reservations', { body })
    expect(res.statusCode).toBe(201)
    const hold = res.json()
    expect(hold).toMatchObject({ orderId, status: 'RESERVED' })
    expect(hold.reservations).toHaveLength(2)
    expect(hold.reservations.find((r: { productId: string }) => r.productId === a.productId)).toMatchObject({ quantity: 3, unitPrice: 29.99, status: 'RESERVED', productName: a.productName })
    const again = await call('POST', '/api/inventory/reservations', { body })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toEqual(hold)
    expect(await stockOf(db, a.productId)).toMatchObject({ available: 7, reserved: 3 })
    expect(await events(db, orderId)).toEqual([]) // the saga did not ask: no saga replies
  })

  it('when a hold cannot be met, then 409 lists the failed items and nothing is held', async () => {
    const a = await newItem(db, { stock: 10 })
    const b = await newItem(db, { stock: 1 })
    const res = await call('POST', '/api/inventory/reservations', { body: { orderId: randomUUID(), items: [{ productId: a.productId, quantity: 2 }, { productId: b.productId, quantity: 2 }] } })
    expect(res.statusCode).toBe(409)
    expect(res.headers['content-type']).toContain('application/problem+json')
    expect(res.json()).toMatchObject({
      code: 'inventory.reservation.conflict',
      failedItems: [{ productId: b.productId, requested: 2, available: 1, reason: 'INSUFFICIENT' }],
      errors: [{ field: `items.${b.productId}`, message: 'INSUFFICIENT: requested 2, available 1' }],
    })
    expect(await stockOf(db, a.productId)).toMatchObject({ available: 10, reserved: 0 })
  })

  it('when a hold is malformed or not an operator, then 400 / 403', async () => {
    const p = await newItem(db, { stock: 10 })
    for (const body of [
      { orderId: 'not-a-uuid', items: [{ productId: p.productId, quantity: 1 }] },
      { orderId: randomUUID(), items: [] },
      { orderId: randomUUID(), items: [{ productId: p.productId, quantity: 0 }] },
      { orderId: randomUUID() },
    ]) {
      expect((await call('POST', '/api/inventory/reservations', { body })).statusCode, JSON.stringify(body)).toBe(400)
    }
    expect((await call('POST', '/api/inventory/reservations', { as: 'customer', body: { orderId: randomUUID(), items: [{ productId: p.productId, quantity: 1 }] } })).statusCode).toBe(403)
    expect((await call('GET', '/api/inventory/reservations', { as: 'customer' })).statusCode).toBe(403)
  })

  it('when reservations are read, then by id, by order, filtered pages, overdue ones and stats', async () => {
    const p = await newItem(db, { stock: 10 })
    const orderId = randomUUID()
    await deliver(db, reserveCommand(orderId, [{ productId: p.productId, quantity: 2 }]))
    const overdue = randomUUID()
    await deliver(db, reserveCommand(overdue, [{ productId: p.productId, quantity: 1 }]), handler({ now: () => new Date(Date.now() - 3_600_000) }))

    const byOrder = await call('GET', `/api/inventory/reservations/order/${orderId}`)
    expect(byOrder.json()).toEqual([expect.objectContaining({ orderId, productId: p.productId, quantity: 2, status: 'RESERVED', productName: p.productName })])
    const id = byOrder.json()[0].id
    expect((await call('GET', `/api/inventory/reservations/${id}`)).json()).toMatchObject({ id, orderId })
    expect((await call('GET', `/api/inventory/reservations/${randomUUID()}`)).statusCode).toBe(404)
    expect((await call('GET', '/api/inventory/reservations/not-a-uuid')).statusCode).toBe(400)
    expect((await call('GET', '/api/inventory/reservations/order/not-a-uuid')).statusCode).toBe(400)
    expect((await call('GET', `/api/inventory/reservations/order/${randomUUID()}`)).json()).toEqual([])
    expect((await call('GET', `/api/inventory/reservations/order/${orderId}/status/RESERVED`)).json()).toHaveLength(1)
    expect((await call('GET', `/api/inventory/reservations/order/${orderId}/status/EXPIRED`)).json()).toEqual([])
    expect((await call('GET', `/api/inventory/reservations/order/${orderId}/status/NOPE`)).statusCode).toBe(400)
    expect((await call('GET', `/api/inventory/reservations/product/${p.productId}/active`)).json().map((r: { orderId: string }) => r.orderId).sort()).toEqual([orderId, overdue].sort())

    const page = (await call('GET', `/api/inventory/reservations?productId=${p.productId}&status=RESERVED&sort=quantity,asc`)).json()
    expect(page).toMatchObject({ totalElements: 2, number: 0 })
    expect(page.content.map((r: { quantity: number }) => r.quantity)).toEqual([1, 2])
    expect((await call('GET', `/api/inventory/reservations?orderId=${orderId}`)).json().totalElements).toBe(1)
    expect((await call('GET', '/api/inventory/reservations?status=PENDING')).statusCode).toBe(400)
    expect((await call('GET', '/api/inventory/reservations?orderId=nope')).statusCode).toBe(400)

    const expired = (await call('GET', '/api/inventory/reservations/expired')).json()
    expect(expired.map((r: { orderId: string }) => r.orderId)).toContain(overdue)
    expect(expired.map((r: { orderId: string }) => r.orderId)).not.toContain(orderId)
    const stats = (await call('GET', '/api/inventory/reservations/stats')).json()
    expect(stats).toEqual(expect.objectContaining({ totalReservations: expect.any(Number), activeReservations: expect.any(Number), expiredReservations: expect.any(Number), releasedReservations: expect.any(Number) }))
    expect(stats.activeReservations).toBeGreaterThanOrEqual(2)
  })
})
