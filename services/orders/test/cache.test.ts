// The order cache and the live feed against the real PostgreSQL and Redis: read-your-write, the version fence under
// late and repeated change records, /actuator/caches, single-flight, and the SSE stream with Last-Event-ID resume.
// Keys and the live channel are unique to this run, so the running stack's own consumers never touch them.
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { createHealth, createRedis } from '@trackops/runtime'
import { createVerifier, type App } from '@trackops/http'
import { createCacheRegistry } from '@trackops/cache'
import { newMessage, type RowChange } from '@trackops/messaging'
import { CdcTopics } from '@trackops/contracts'
import { testEnv } from '../../../tests/support/env.ts'
import { openSse } from '../../../tests/support/sse.ts'
import { buildApp } from '../src/http.ts'
import { createOrderCache } from '../src/order-cache.ts'
import { createOrderChangeHandler, orderChangeOfEvent, orderChangeOfRow, type OrderChange } from '../src/order-changes.ts'
import { createLiveOrders } from '../src/live-orders.ts'
import { getOrder } from '../src/order-store.ts'
import { createTestSaga, createTestDb, customer, forceStatus, insertBareOrder, legacyBody, operator } from './support.ts'

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const run = randomUUID().slice(0, 8)
const db = createTestDb()
const redis = createRedis(testEnv.redisUrl, 'orders-cache-test')
redis.on('error', () => undefined)
const keyPrefix = `test:orders-cache:${run}:`
const caches = createCacheRegistry()
const orders = createOrderCache({ redis, db, logger, ttlSeconds: 60, jitterSeconds: 5, keyPrefix })
caches.add(orders.cache)
const live = createLiveOrders({ db, redis, redisUrl: testEnv.redisUrl, logger, channel: `test:orders-live:${run}` })
const applyChange = createOrderChangeHandler({ cache: orders.cache, live })
let app: App
let base: string

beforeAll(async () => {
  app = await buildApp({ db, logger, health: createHealth(), verify: createVerifier(testEnv.jwt), saga: createTestSaga(db), now: () => new Date(), newId: randomUUID, cache: orders, caches, live })
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  await live.fanout.ready()
})
afterAll(async () => {
  await app?.close()
  await live.close()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length) await redis.del(...keys)
  await redis.quit()
  await db.destroy()
})

const get = async (url: string, auth?: string) => app.inject({ method: 'GET', url, headers: { authorization: auth ?? (await operator()) } })
const stats = () => orders.cache.stats()

async function place(customerId = randomUUID()) {
  const res = await app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await customer(customerId) }, payload: legacyBody(customerId) })
  expect(res.statusCode, res.body).toBe(201)
  return { id: res.json().id as string, customerId }
}

/**
 * A PENDING order without a saga: when the stack runs, a placed order's saga would change it under the test.
 * Only the status changes the test makes itself happen to it.
 */
async function bare(customerId = randomUUID()) {
  return { id: await insertBareOrder(db, 'PENDING', customerId), customerId }
}

/** What Debezium sends for the order row as it is now in the database (the columns the handler reads). */
async function rowChange(orderId: string, op: RowChange['op'] = 'u'): Promise<RowChange> {
  const o = await getOrder(db, orderId)
  if (!o) throw new Error(`no order ${orderId}`)
  const after = { id: o.id, customer_id: o.customerId, status: o.status, total_cents: o.totalCents, currency: o.currency, version: o.version, updated_at: o.updatedAt.toISOString() }
  return { op, before: null, after, committedAt: Date.now(), lsn: null, topic: CdcTopics.orders, key: JSON.stringify({ id: orderId }) }
}

const cachedVersion = async (orderId: string) => Number(await redis.hget(`${keyPrefix}${orderId}`, 'v'))

describe('reading your own write', () => {
  it('when a customer places an order, then the order is cached with its version and their next read is a hit', async () => {
    const { id, customerId } = await place()
    expect(await cachedVersion(id)).toBe(1)
    const before = stats()
    const first = await get(`/api/orders/${id}`, await customer(customerId))
    expect(first.json()).toMatchObject({ id, customerId, status: 'PENDING', version: 1 })
    expect(stats().hits).toBe(before.hits + 1)
    expect(stats().loads).toBe(before.loads)
  })

  it('when the writer changes an order, then its next read shows the change at once, from the cache', async () => {
    const { id, customerId } = await bare()
    expect((await get(`/api/orders/${id}`, await customer(customerId))).json()).toMatchObject({ status: 'PENDING', version: 1 })

    const confirmed = await app.inject({ method: 'POST', url: `/api/orders/${id}/confirm`, headers: { authorization: await operator() } })
    expect(confirmed.statusCode, confirmed.body).toBe(200)
    expect(await cachedVersion(id)).toBe(2)
    const loadsBefore = stats().loads
    const after = await get(`/api/orders/${id}`, await customer(customerId))
    expect(after.json()).toMatchObject({ status: 'CONFIRMED', version: 2 })
    expect(after.headers.etag).toBe('"2"')
    expect(stats().loads).toBe(loadsBefore) // served from the entry the writer left, not reloaded

    const items = await get(`/api/orders/${id}/items`, await customer(customerId))
    expect(items.json()).toEqual([])
  })

  it('when the writer cancels an order, then its next read shows it cancelled', async () => {
    const { id, customerId } = await bare()
    await get(`/api/orders/${id}`, await customer(customerId))
    const res = await app.inject({ method: 'DELETE', url: `/api/orders/${id}?reason=changed%20my%20mind`, headers: { authorization: await customer(customerId) } })
    expect(res.statusCode, res.body).toBe(200)
    expect(await cachedVersion(id)).toBe(2)
    expect((await get(`/api/orders/${id}`, await customer(customerId))).json()).toMatchObject({ status: 'CANCELLED', version: 2 })
  })

  it('when a customer reads an order that is cached for its owner, then 404 still', async () => {
    const { id } = await bare()
    expect((await get(`/api/orders/${id}`)).statusCode).toBe(200)
    expect((await get(`/api/orders/${id}`, await customer(randomUUID()))).statusCode).toBe(404)
  })

  it('when the cached entry is read back, then it holds no payment token', async () => {
    const { id } = await place()
    const raw = await redis.hget(`${keyPrefix}${id}`, 'd')
    expect(raw).toBeTruthy()
    expect(raw).not.toMatch(/paymentToken/)
  })
})

describe('invalidation from the change stream', () => {
  it('when a change commits without the writer warming the cache (the saga), then the cache is stale only until its change record is applied', async () => {
    const { id } = await bare()
    await get(`/api/orders/${id}`)
    await forceStatus(db, id, 'CONFIRMED') // as the saga does: committed in the consumer's transaction, no afterWrite
    expect((await get(`/api/orders/${id}`)).json().status).toBe('PENDING')

    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    const res = await get(`/api/orders/${id}`)
    expect(res.json()).toMatchObject({ status: 'CONFIRMED', version: 2 })
  })

  it('when an old change record arrives late or is replayed, then the cache does not go back to the older version', async () => {
    const { id } = await bare()
    const created = await rowChange(id, 'c') // version 1, PENDING
    await app.inject({ method: 'POST', url: `/api/orders/${id}/confirm`, headers: { authorization: await operator() } })
    const confirmed = await rowChange(id) // version 2
    await app.inject({ method: 'POST', url: `/api/orders/${id}/process`, headers: { authorization: await operator() } })
    expect(await cachedVersion(id)).toBe(3)

    const ignoredBefore = stats().staleWritesIgnored
    for (const late of [created, confirmed, confirmed]) await applyChange(orderChangeOfRow(late) as OrderChange)
    expect(stats().staleWritesIgnored).toBe(ignoredBefore + 3)
    expect(await cachedVersion(id)).toBe(3)

    const loads = stats().loads
    expect((await get(`/api/orders/${id}`)).json()).toMatchObject({ status: 'PROCESSING', version: 3 })
    expect(stats().loads).toBe(loads) // still the writer's entry: a hit

    // The record of the version the writer cached is the same state: nothing to drop either.
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    expect(await cachedVersion(id)).toBe(3)
    expect((await get(`/api/orders/${id}`)).json().status).toBe('PROCESSING')
    expect(stats().loads).toBe(loads)
  })

  it('when a slow read loaded the order before a change committed, then it cannot fill over the newer tombstone', async () => {
    const { id } = await bare()
    const stale = (await getOrder(db, id))! // what a read that started before the commit holds
    await forceStatus(db, id, 'CONFIRMED')
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange) // tombstone v2
    expect(await orders.cache.warm(id, stale, stale.version)).toBe('ignored')
    expect((await get(`/api/orders/${id}`)).json()).toMatchObject({ status: 'CONFIRMED', version: 2 })
  })

  it('when ORDER_* events arrive (outbox strategy), then they give the same changes as the row records', () => {
    const ctx = { correlationId: 'c-1' }
    const orderId = randomUUID()
    const updated = newMessage('ORDER_STATUS_UPDATED', { orderId, previousStatus: 'PENDING', newStatus: 'CONFIRMED', cause: 'saga', version: 2 } as never, ctx)
    expect(orderChangeOfEvent(updated)).toMatchObject({ orderId, version: 2, status: 'CONFIRMED', silent: false })
    const cancelled = newMessage('ORDER_CANCELLED', { orderId, previousStatus: 'CONFIRMED', reason: 'r', cause: 'operator', version: 3 } as never, ctx)
    expect(orderChangeOfEvent(cancelled)).toMatchObject({ version: 3, status: 'CANCELLED' })
    expect(orderChangeOfEvent(newMessage('ORDER_DELIVERED', { orderId, version: 6 }, ctx))).toMatchObject({ version: 6, status: 'DELIVERED' })
    expect(orderChangeOfEvent(newMessage('RELEASE_INVENTORY', { orderId, sagaId: randomUUID(), reason: 'x' } as never, ctx))).toBeNull()
  })

  it('when a row record is a delete or carries no version, then a delete fences every version and a bad record is skipped', () => {
    const id = randomUUID()
    const base = { before: null, after: null, committedAt: 1, lsn: null, topic: CdcTopics.orders, key: '' }
    expect(orderChangeOfRow({ ...base, op: 'd', before: { id } })).toMatchObject({ orderId: id, version: Number.MAX_SAFE_INTEGER, silent: true })
    expect(orderChangeOfRow({ ...base, op: 'u', after: { id, status: 'PENDING' } })).toBeNull()
    expect(orderChangeOfRow({ ...base, op: 'r', after: { id, status: 'PENDING', version: 4 } })).toMatchObject({ version: 4, silent: true })
  })
})

describe('stampede protection and statistics', () => {
  it('when many requests read an uncached order at once, then the database is read once', async () => {
    const { id } = await bare()
    await redis.del(`${keyPrefix}${id}`)
    const loads = stats().loads
    const token = await operator()
    const answers = await Promise.all(Array.from({ length: 25 }, () => app.inject({ method: 'GET', url: `/api/orders/${id}`, headers: { authorization: token } })))
    expect(answers.every((a) => a.statusCode === 200)).toBe(true)
    expect(stats().loads).toBe(loads + 1)
  })

  it('when orders are read and invalidated, then /actuator/caches counts hits, misses, loads, invalidations and latency; only staff may read it', async () => {
    const read = async () => (await get('/actuator/caches')).json().caches.orders
    const before = await read()
    const { id } = await bare()
    await redis.del(`${keyPrefix}${id}`)
    await get(`/api/orders/${id}`) // miss + load
    await get(`/api/orders/${id}`) // hit
    await get(`/api/orders/${id}`) // hit
    await forceStatus(db, id, 'CONFIRMED')
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange) // invalidation
    await get(`/api/orders/${id}`) // miss + load
    const after = await read()
    expect(after.hits - before.hits).toBe(2)
    expect(after.misses - before.misses).toBe(2)
    expect(after.loads - before.loads).toBe(2)
    expect(after.invalidations - before.invalidations).toBe(1)
    expect(after.hitRatio).toBeCloseTo(after.hits / (after.hits + after.misses), 2)
    expect(after.loadLatencyMs.avg).toBeGreaterThan(0)
    expect(after.degraded).toBe(false)
    expect(after.errors).toBe(before.errors)
    expect((await get('/actuator/caches', await customer(randomUUID()))).statusCode).toBe(403)
  })

  it('when a change is applied, then its commit-to-invalidation lag is observed per cache', async () => {
    const { id } = await bare()
    await forceStatus(db, id, 'CONFIRMED')
    await applyChange({ ...(orderChangeOfRow(await rowChange(id)) as OrderChange), committedAt: Date.now() - 40 })
    const metrics = (await app.inject({ method: 'GET', url: '/actuator/prometheus' })).body
    expect(metrics).toMatch(/trackops_cache_invalidation_lag_seconds_count\{cache="orders"\} [1-9]/)
  })
})

// --- live updates ----------------------------------------------------------------------------------------------------

const subscribe = (path: string, auth: string, lastEventId?: string) => openSse(`${base}${path}`, { authorization: auth, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) })

/** An order its owner followed until its first change (confirmed) was announced; the stream is closed again. */
async function followedUntilConfirmed() {
  const { id, customerId } = await bare()
  const auth = await customer(customerId)
  const first = await subscribe(`/api/orders/${id}/events`, auth)
  await first.next()
  await app.inject({ method: 'POST', url: `/api/orders/${id}/confirm`, headers: { authorization: await operator() } })
  await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
  const seen = await first.next()
  await first.close()
  return { id, auth, seen }
}

describe('live updates (SSE)', () => {
  it('when the owner follows an order, then the current status comes first and every committed change follows, with the previous status and reason', async () => {
    const { id, customerId } = await bare()
    const stream = await subscribe(`/api/orders/${id}/events`, await customer(customerId))
    expect(stream.res.status).toBe(200)
    expect(stream.res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(stream.res.headers.get('cache-control')).toBe('no-cache')
    expect(stream.res.headers.get('x-accel-buffering')).toBe('no')
    expect(stream.res.headers.get('x-correlation-id')).toBeTruthy()
    expect(await stream.next()).toMatchObject({ event: 'snapshot', data: { orderId: id, status: 'PENDING', previousStatus: null, version: 1 } })

    await app.inject({ method: 'POST', url: `/api/orders/${id}/confirm`, headers: { authorization: await operator() } })
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    const confirmed = await stream.next()
    expect(confirmed).toMatchObject({ event: 'status', data: { orderId: id, status: 'CONFIRMED', previousStatus: 'PENDING', cause: 'operator', version: 2 } })
    expect(confirmed.id).toMatch(/^\d+-\d+$/)

    // A replayed record is not announced twice.
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    await app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: await operator() }, payload: { newStatus: 'PROCESSING' } })
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    expect(await stream.next()).toMatchObject({ event: 'status', data: { status: 'PROCESSING', previousStatus: 'CONFIRMED', version: 3 } })
    expect((await live.fanout.recentEvents(id)).events.map((e) => e.event.version)).toEqual([2, 3])
    await stream.close()
  })

  it('when a client reconnects with Last-Event-ID, then it receives exactly what it missed; with an unknown id, a fresh snapshot', async () => {
    const { id, auth, seen } = await followedUntilConfirmed()

    for (const next of ['process', 'ship']) {
      await app.inject({ method: 'POST', url: `/api/orders/${id}/${next}`, headers: { authorization: await operator() } })
      await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    }
    // The live update is published after the cache invalidation, without holding it up (a client resuming before
    // it is would get the newest state as a snapshot instead): this client reconnects once both were announced.
    await applyChange.drain()
    const resumed = await subscribe(`/api/orders/${id}/events`, auth, seen.id)
    expect(await resumed.next()).toMatchObject({ event: 'status', data: { status: 'PROCESSING', previousStatus: 'CONFIRMED', version: 3 } })
    expect(await resumed.next()).toMatchObject({ event: 'status', data: { status: 'SHIPPED', previousStatus: 'PROCESSING', version: 4 } })
    await resumed.close()

    const unknown = await subscribe(`/api/orders/${id}/events`, auth, '1-0')
    expect(await unknown.next()).toMatchObject({ event: 'snapshot', data: { status: 'SHIPPED', previousStatus: 'PROCESSING', version: 4 } })
    await unknown.close()
  })

  it('when a change was committed but its announcement was lost, then a client resuming with Last-Event-ID gets it as a snapshot', async () => {
    const { id, auth, seen } = await followedUntilConfirmed()
    await applyChange.drain()

    // Committed, but never announced (as when Redis failed or the process died between commit and announcement).
    await app.inject({ method: 'POST', url: `/api/orders/${id}/process`, headers: { authorization: await operator() } })
    const resumed = await subscribe(`/api/orders/${id}/events`, auth, seen.id)
    expect(await resumed.next()).toMatchObject({ event: 'snapshot', data: { status: 'PROCESSING', version: 3 } })
    await resumed.close()

    // Resuming from the same id again: the unannounced change is still sent (as a snapshot), then the next change
    // arrives as a status event.
    const current = await subscribe(`/api/orders/${id}/events`, auth, seen.id)
    await app.inject({ method: 'POST', url: `/api/orders/${id}/ship`, headers: { authorization: await operator() } })
    await applyChange(orderChangeOfRow(await rowChange(id)) as OrderChange)
    expect(await current.next()).toMatchObject({ event: 'snapshot', data: { status: 'PROCESSING', version: 3 } })
    expect(await current.next()).toMatchObject({ event: 'status', data: { status: 'SHIPPED', version: 4 } })
    await current.close()
  })

  it("when a customer asks for someone else's order stream, then 404; the all-orders stream is for staff only", async () => {
    const { id } = await bare()
    const stranger = await fetch(`${base}/api/orders/${id}/events`, { headers: { authorization: await customer(randomUUID()) } })
    expect(stranger.status).toBe(404)
    expect((await fetch(`${base}/api/orders/events`, { headers: { authorization: await customer(randomUUID()) } })).status).toBe(403)
    expect((await fetch(`${base}/api/orders/${id}/events`)).status).toBe(401)
  })

  it('when an operator follows all orders, then changes of any order arrive', async () => {
    const stream = await subscribe('/api/orders/events', await operator())
    const { id } = await bare()
    await applyChange(orderChangeOfRow(await rowChange(id, 'c')) as OrderChange)
    expect(await stream.next()).toMatchObject({ event: 'status', data: { orderId: id, status: 'PENDING', previousStatus: null, version: 1 } })
    await stream.close()
  })
})
