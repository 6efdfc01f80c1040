// The item cache against the real PostgreSQL and Redis: read-your-write for every request-path write, warming from
// the change stream with its version fence (late and repeated row images), deletion, /actuator/caches, single-flight.
// Keys are unique to this run, so the running stack's own consumers never touch them.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { CdcTopics } from '@trackops/contracts'
import { createHealth, createRedis } from '@trackops/runtime'
import { createVerifier, type App, type Role } from '@trackops/http'
import { createCacheRegistry } from '@trackops/cache'
import type { RowChange } from '@trackops/messaging'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'
import { buildApp } from '../src/http.ts'
import { createItemCache } from '../src/item-cache.ts'
import { createItemChangeHandler, itemOfRow } from '../src/item-changes.ts'
import { findItem } from '../src/item-store.ts'
import type { Db } from '../src/inventory-db.ts'
import { deliver, logger, migrate, newItem, openDb, reserveCommand, uid } from './support.ts'

const run = randomUUID().slice(0, 8)
const keyPrefix = `test:inventory-cache:${run}:`
const redis = createRedis(testEnv.redisUrl, 'inventory-cache-test')
redis.on('error', () => undefined)
let db: Db
let app: App
let items: ReturnType<typeof createItemCache>
let applyChange: ReturnType<typeof createItemChangeHandler>
const tokens = {} as Record<Role, string>

beforeAll(async () => {
  await migrate()
  db = openDb(10)
  const caches = createCacheRegistry()
  items = createItemCache({ redis, db, logger, ttlSeconds: 60, jitterSeconds: 5, keyPrefix })
  caches.add(items.cache)
  applyChange = createItemChangeHandler({ cache: items.cache, logger })
  app = await buildApp({ db, logger, health: createHealth(), verify: createVerifier(testEnv.jwt), reservationTtlSeconds: 1800, cache: items, caches })
  await app.ready()
  for (const role of ['customer', 'operator', 'admin'] as const) tokens[role] = await tokenFor(role)
})
afterAll(async () => {
  await app?.close()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length) await redis.del(...keys)
  await redis.quit()
  await db?.destroy()
})

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, as: Role = 'operator', body?: object) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${tokens[as]}` }, ...(body && { payload: body }) })
const read = async (productId: string) => (await call('GET', `/api/inventory/items/${productId}`)).json()
const stats = () => items.cache.stats()
const cachedVersion = async (productId: string) => {
  const v = await redis.hget(`${keyPrefix}${productId}`, 'v')
  return v === null ? null : Number(v)
}

/** The item row as Debezium sends it (numeric as text, timestamps as ISO strings, bigint as a number). */
async function rowImage(productId: string): Promise<Record<string, unknown>> {
  const r = await sql<Record<string, unknown>>`SELECT * FROM inventory_items WHERE product_id = ${productId}`.execute(db)
  const row = r.rows[0]
  if (!row) throw new Error(`no item ${productId}`)
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString().replace('Z', '123Z') : v]))
}

const change = (op: RowChange['op'], after: Record<string, unknown> | null, before: Record<string, unknown> | null = null): RowChange => ({
  op,
  before,
  after,
  committedAt: Date.now(),
  lsn: null,
  topic: CdcTopics.inventoryItems,
  key: JSON.stringify({ id: after?.id ?? before?.id }),
})

describe('reading your own write', () => {
  it('when an item is created, adjusted and changed through the API, then each next read shows the write at once, from the cache', async () => {
    const productId = `C-${uid()}${uid()}`
    const created = await call('POST', '/api/inventory/items', 'operator', { productId, productName: 'Cached thing', availableQuantity: 10, unitPrice: 5 })
    expect(created.statusCode, created.body).toBe(201)
    expect(await cachedVersion(productId)).toBe(0)
    const loads = stats().loads
    expect(await read(productId)).toMatchObject({ availableQuantity: 10, version: 0 })

    expect((await call('POST', `/api/inventory/items/${productId}/adjustments`, 'admin', { quantity: 5, reason: 'RECEIVED' })).statusCode).toBe(201)
    expect(await read(productId)).toMatchObject({ availableQuantity: 15, onHandQuantity: 15, version: 1 })

    expect((await call('PUT', `/api/inventory/items/${productId}`, 'operator', { unitPrice: 7.5 })).statusCode).toBe(200)
    expect(await read(productId)).toMatchObject({ unitPrice: 7.5, version: 2 })

    const hold = await call('POST', '/api/inventory/reservations', 'operator', { orderId: randomUUID(), items: [{ productId, quantity: 4 }] })
    expect(hold.statusCode, hold.body).toBe(201)
    expect(await read(productId)).toMatchObject({ availableQuantity: 11, reservedQuantity: 4, version: 3 })

    expect(stats().loads).toBe(loads) // every read was served from what the writer left
  })

  it('when an item is deleted, then it is gone at once; created again, it is read from the database until its tombstone expires', async () => {
    const item = await newItem(db, { stock: 3 })
    await read(item.productId)
    expect((await call('DELETE', `/api/inventory/items/${item.productId}`)).statusCode).toBe(204)
    expect(await cachedVersion(item.productId)).toBe(item.version + 1)
    expect((await call('GET', `/api/inventory/items/${item.productId}`)).statusCode).toBe(404)

    const again = await call('POST', '/api/inventory/items', 'operator', { productId: item.productId, productName: 'Back again', availableQuantity: 9, unitPrice: 3 })
    expect(again.statusCode).toBe(201)
    expect(await read(item.productId)).toMatchObject({ productName: 'Back again', availableQuantity: 9 })
  })
})

describe('warming from the change stream', () => {
  it('when stock moves outside the request path (the saga), then the cache is stale only until the row image is applied, which warms it', async () => {
    const item = await newItem(db, { stock: 10 })
    expect(await read(item.productId)).toMatchObject({ availableQuantity: 10, reservedQuantity: 0 })
    expect(await deliver(db, reserveCommand(randomUUID(), [{ productId: item.productId, quantity: 3 }]))).toBe(true)
    expect(await read(item.productId)).toMatchObject({ availableQuantity: 10 }) // not yet told

    await applyChange(change('u', await rowImage(item.productId)))
    const loads = stats().loads
    expect(await read(item.productId)).toMatchObject({ availableQuantity: 7, reservedQuantity: 3, version: 1 })
    expect(stats().loads).toBe(loads) // warmed with the row image: no reload
  })

  it('when an old row image arrives late or twice, then the cache keeps the newer item', async () => {
    const item = await newItem(db, { stock: 10 })
    const v0 = await rowImage(item.productId)
    expect((await call('POST', `/api/inventory/items/${item.productId}/adjustments`, 'admin', { quantity: -2, reason: 'WRITE_OFF' })).statusCode).toBe(201)
    const v1 = await rowImage(item.productId)
    expect((await call('POST', `/api/inventory/items/${item.productId}/adjustments`, 'admin', { quantity: -3, reason: 'WRITE_OFF' })).statusCode).toBe(201)

    const ignored = stats().staleWritesIgnored
    for (const late of [v0, v1, v0]) await applyChange(change('u', late))
    expect(stats().staleWritesIgnored).toBe(ignored + 3)
    expect(await cachedVersion(item.productId)).toBe(2)
    expect(await read(item.productId)).toMatchObject({ availableQuantity: 5, version: 2 })
  })

  it('when a row image is read, then it equals the item the database gives; an unreadable image invalidates instead', async () => {
    const item = await newItem(db, { stock: 4, minStockLevel: 2, reorderQuantity: 8, priceCents: 12345 })
    const image = await rowImage(item.productId)
    const fromImage = itemOfRow(image)
    const fromDb = await findItem(db, item.productId)
    expect(fromImage).toEqual(fromDb)

    await read(item.productId)
    await applyChange(change('u', { ...image, unit_price: 'not a price', version: 7 }))
    expect(await cachedVersion(item.productId)).toBe(7)
    expect(await redis.hget(`${keyPrefix}${item.productId}`, 'd')).toBeNull()
    expect(await read(item.productId)).toMatchObject({ unitPrice: 123.45, version: 0 })
  })

  it('when a delete carries only the row id, then it is skipped; with the product id, it leaves a tombstone', async () => {
    const item = await newItem(db, { stock: 1 })
    await read(item.productId)
    await applyChange(change('d', null, { id: item.id }))
    expect(await cachedVersion(item.productId)).toBe(0)
    await applyChange(change('d', null, { id: item.id, product_id: item.productId, version: 0 }))
    expect(await cachedVersion(item.productId)).toBe(1)
  })
})

describe('stampede protection and statistics', () => {
  it('when many requests read an uncached item at once, then the database is read once', async () => {
    const item = await newItem(db, { stock: 2 })
    const loads = stats().loads
    const answers = await Promise.all(Array.from({ length: 25 }, () => call('GET', `/api/inventory/items/${item.productId}`)))
    expect(answers.every((a) => a.statusCode === 200)).toBe(true)
    expect(stats().loads).toBe(loads + 1)
  })

  it('when items are read and changed, then /actuator/caches counts them; only staff may read it', async () => {
    const snapshot = async () => (await call('GET', '/actuator/caches')).json().caches['inventory-items']
    const before = await snapshot()
    const item = await newItem(db, { stock: 2 })
    await read(item.productId) // miss
    await read(item.productId) // hit
    await items.cache.invalidate(item.productId, 1)
    await read(item.productId) // miss
    const after = await snapshot()
    expect(after.hits - before.hits).toBe(1)
    expect(after.misses - before.misses).toBe(2)
    expect(after.loads - before.loads).toBe(2)
    expect(after.invalidations - before.invalidations).toBe(1)
    expect(after.loadLatencyMs.p99).toBeGreaterThan(0)
    expect(after).toMatchObject({ degraded: false, pendingInvalidations: 0 })
    expect((await call('GET', '/actuator/caches', 'customer')).statusCode).toBe(403)
  })
})
