// The order and item caches on the running stack: read-your-write, invalidation from the change stream, the version
// fence against a late change record, Redis going away and coming back, rate limits shared by two copies of the order
// service, and the measurements the issue asks for (commit-to-invalidation lag, hit ratio under a read-heavy load).
import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CdcTopics } from '@trackops/contracts'
import { createKafkaProducer, type KafkaProducer } from '@trackops/messaging'
import { createRedis, type Redis } from '@trackops/runtime'
import { testEnv, tokenFor } from '../support/env.ts'
import { api, createProduct, eventually, freePort, orderStatus, placeOrder, startRedis, stopChild, stopRedis, waitForStatus } from '../support/stack.ts'
import { openSse } from '../support/sse.ts'

// Tokens of this file's own subjects: rate limits are per subject and window.
const operatorToken = () => tokenFor('operator', randomUUID())
const adminToken = () => tokenFor('admin', randomUUID())

let redis: Redis
let producer: KafkaProducer
beforeAll(() => {
  redis = createRedis(testEnv.redisUrl, 'e2e-cache')
  redis.on('error', () => undefined) // expected while a test stops Redis
  producer = createKafkaProducer({ brokers: testEnv.brokers, clientId: 'e2e-cache' })
})
afterAll(async () => {
  await producer?.close()
  redis?.disconnect()
})

async function confirmedOrder(productId: string) {
  const placed = await placeOrder({ items: [{ productId, quantity: 1 }] })
  await waitForStatus(placed.order.id, ['CONFIRMED'], 60_000)
  return placed
}

/** A Debezium change record as the orders / inventory CDC connectors write it (JsonConverter, no schemas). */
const debezium = (op: 'c' | 'u' | 'd', row: { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null }, db: string, table: string) =>
  JSON.stringify({ before: row.before ?? null, after: row.after ?? null, source: { ts_ms: Date.now(), lsn: 0, db, schema: 'public', table }, op, ts_ms: Date.now() })

describe('the order cache', () => {
  it('when the saga changes an order, then every reader sees it within the CDC lag; when a writer changes it, then its next read shows it at once', async () => {
    const productId = await createProduct({ stock: 20 })
    const { order, customerToken } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    // The creator's next read shows its order (cached by the writer at create time).
    const mine = await api('orders', 'GET', `/api/orders/${order.id}`, { token: customerToken })
    expect(mine.body).toMatchObject({ id: order.id, version: order.version })

    // The saga confirms in its consumer's transaction (no writer to warm the cache): CDC invalidates.
    await eventually(async () => (await api('orders', 'GET', `/api/orders/${order.id}`, { token: customerToken })).body.status === 'CONFIRMED', 60_000, 'CONFIRMED through the cache')

    const operator = await operatorToken()
    for (const [action, status] of [['process', 'PROCESSING'], ['ship', 'SHIPPED']] as const) {
      const res = await api('orders', 'POST', `/api/orders/${order.id}/${action}`, { token: operator })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      const next = await api('orders', 'GET', `/api/orders/${order.id}`, { token: operator }) // no waiting: read-your-write
      expect(next.body).toMatchObject({ status, version: res.body.version })
      expect(next.headers.get('etag')).toBe(`"${res.body.version}"`)
    }
  })

  it('when a stale change record arrives after newer ones, then the cache and the live feed do not go back', async () => {
    const productId = await createProduct({ stock: 20 })
    const { order, customerId } = await confirmedOrder(productId)
    const operator = await operatorToken()
    const processed = await api('orders', 'POST', `/api/orders/${order.id}/process`, { token: operator })
    expect(processed.status).toBe(200)
    const current = processed.body.version as number
    expect((await api('orders', 'GET', `/api/orders/${order.id}`, { token: operator })).body.status).toBe('PROCESSING')

    const stream = await openSse(`${testEnv.urls.orders}/api/orders/${order.id}/events`, { authorization: `Bearer ${operator}` })
    expect(await stream.next()).toMatchObject({ event: 'snapshot', data: { status: 'PROCESSING', version: current } })

    // A replay of the order's first row image (PENDING, version 1), then, under the same key (same partition, so
    // applied after it), a delete of a made-up order: its tombstone in Redis says the stale record was handled.
    const sentinel = randomUUID()
    const key = JSON.stringify({ id: order.id })
    await producer.send([
      { topic: CdcTopics.orders, key, headers: {}, value: debezium('u', { after: { id: order.id, customer_id: customerId, status: 'PENDING', total_cents: 1000, currency: 'USD', version: 1 } }, 'trackops_orders', 'orders') },
      { topic: CdcTopics.orders, key, headers: {}, value: debezium('d', { before: { id: sentinel } }, 'trackops_orders', 'orders') },
    ])
    await eventually(async () => (await redis.exists(`cache:orders:${sentinel}`)) === 1, 60_000, 'the orders-cache consumer to pass the stale record')

    expect(Number(await redis.hget(`cache:orders:${order.id}`, 'v'))).toBe(current)
    const res = await api('orders', 'GET', `/api/orders/${order.id}`, { token: operator })
    expect(res.body).toMatchObject({ status: 'PROCESSING', version: current })
    await expect(stream.next(500)).rejects.toThrow(/no event/) // nothing announced for the stale record
    await stream.close()
  })
})

describe('the item cache', () => {
  it('when the saga moves stock, then the item is current within the CDC lag, warmed from the row image; a stale row image changes nothing', async () => {
    const productId = await createProduct({ stock: 30 })
    const operator = await operatorToken()
    const before = await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: operator })
    expect(before.body).toMatchObject({ availableQuantity: 30, reservedQuantity: 0 })
    const stale = before.body

    await confirmedOrder(productId) // reserved, then committed: stock moved by the consumer, not a request
    const after = await eventually(async () => {
      const r = await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: operator })
      return r.body.soldQuantity === 1 ? r.body : undefined
    }, 60_000, 'the committed sale through the cache')
    expect(after).toMatchObject({ availableQuantity: 29, reservedQuantity: 0, soldQuantity: 1, onHandQuantity: 29 })
    expect(after.version).toBeGreaterThan(stale.version)

    // The row image of the item as it was (version 0, nothing sold), delivered late; then a sentinel delete.
    const sentinel = `E2E-SENTINEL-${randomUUID().slice(0, 8)}`
    const key = JSON.stringify({ id: stale.id })
    const row = {
      id: stale.id, product_id: productId, product_name: stale.productName, description: null, available_quantity: 30, reserved_quantity: 0,
      unit_price: String(stale.unitPrice), category: stale.category, min_stock_level: stale.minStockLevel, max_stock_level: null, reorder_quantity: null,
      is_active: true, is_discontinued: false, created_at: stale.createdAt, updated_at: stale.updatedAt, version: stale.version, sold_quantity: 0, on_hand_quantity: 30,
    }
    await producer.send([
      { topic: CdcTopics.inventoryItems, key, headers: {}, value: debezium('u', { after: row }, 'trackops_inventory', 'inventory_items') },
      { topic: CdcTopics.inventoryItems, key, headers: {}, value: debezium('d', { before: { id: randomUUID(), product_id: sentinel, version: 0 } }, 'trackops_inventory', 'inventory_items') },
    ])
    await eventually(async () => (await redis.exists(`cache:inventory-items:${sentinel}`)) === 1, 60_000, 'the inventory-cache consumer to pass the stale record')
    const now = await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: operator })
    expect(now.body).toEqual(after)
  })
})

// --- Redis outage ------------------------------------------------------------------------------------------------

describe('when Redis stops and starts again', () => {
  afterAll(async () => {
    await startRedis()
  })

  it('then no answer changes: reads and writes go to PostgreSQL, the cache reports DEGRADED, and it recovers by itself', async () => {
    const productId = await createProduct({ stock: 40 })
    const { order } = await confirmedOrder(productId)
    const operator = await operatorToken()
    const admin = await adminToken()
    const readOrder = async () => (await api('orders', 'GET', `/api/orders/${order.id}`, { token: operator })).body
    const readItem = async () => (await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: operator })).body
    const cacheHealth = async (service: 'orders' | 'inventory') => (await api(service, 'GET', '/actuator/health')).body.components.cache.status
    const orderBefore = await readOrder()
    const itemBefore = await eventually(async () => {
      const item = await readItem()
      return item.soldQuantity === 1 ? item : undefined
    }, 60_000, 'the sale to reach the item cache')

    try {
      await stopRedis()
      expect(await readOrder()).toEqual(orderBefore)
      expect(await readItem()).toEqual(itemBefore)
      expect(await cacheHealth('orders')).toBe('DEGRADED')
      expect(await cacheHealth('inventory')).toBe('DEGRADED')
      expect((await api('orders', 'GET', '/actuator/health')).status).toBe(200) // not a required component

      // Writes and the writer's next read work without Redis (rate limiting fails open).
      const processed = await api('orders', 'POST', `/api/orders/${order.id}/process`, { token: operator })
      expect(processed.status).toBe(200)
      expect(await readOrder()).toMatchObject({ status: 'PROCESSING', version: processed.body.version })
      const adjusted = await api('inventory', 'POST', `/api/inventory/items/${productId}/adjustments`, { token: admin, body: { quantity: 5, reason: 'RECEIVED' } })
      expect(adjusted.status).toBe(201)
      expect(await readItem()).toMatchObject({ availableQuantity: itemBefore.availableQuantity + 5, version: adjusted.body.item.version })
    } finally {
      await startRedis()
    }

    const orderNow = await readOrder()
    expect(orderNow).toMatchObject({ status: 'PROCESSING' })
    expect((await readItem()).availableQuantity).toBe(itemBefore.availableQuantity + 5)
    await eventually(async () => (await cacheHealth('orders')) === 'UP' && (await cacheHealth('inventory')) === 'UP', 30_000, 'the caches to report UP again')

    // Cached again: a write after the outage is read back at once, and reads are hits.
    const shipped = await api('orders', 'POST', `/api/orders/${order.id}/ship`, { token: operator })
    expect(shipped.status).toBe(200)
    expect(await readOrder()).toMatchObject({ status: 'SHIPPED', version: shipped.body.version })
    // This file's own client reconnects on its own back-off, which the services' caches reporting UP says nothing about.
    await eventually(() => redis.status === 'ready', 20_000, "the test's Redis connection to be back")
    expect(Number(await redis.hget(`cache:orders:${order.id}`, 'v'))).toBe(shipped.body.version)
    const caches = await api('orders', 'GET', '/actuator/caches', { token: operator })
    expect(caches.body.caches.orders.degraded).toBe(false)
  }, 120_000)
})

// --- rate limits across copies -----------------------------------------------------------------------------------

describe('rate limits with two copies of the order service', () => {
  const copies: ChildProcess[] = []
  const ports: number[] = []
  const LIMIT = 10

  beforeAll(async () => {
    ports.push(await freePort(), await freePort())
    for (const port of ports) {
      const child = spawn('node_modules/.bin/node', ['--env-file-if-exists=.env', 'services/orders/src/main.ts'], {
        env: {
          ...process.env,
          ORDERS_PORT: String(port),
          RATE_LIMIT_ENABLED: 'true',
          RATE_LIMIT_READ_PER_WINDOW: String(LIMIT),
          RATE_LIMIT_WINDOW_SECONDS: '3600',
          LOG_LEVEL: 'warn',
          // HTTP only: the copies stay out of the running service's consumer groups.
          KAFKA_BROKERS: '127.0.0.1:1',
        },
        stdio: 'ignore',
      })
      copies.push(child)
    }
    for (const port of ports) {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/actuator/health/liveness`)).ok, 60_000, `the copy on ${port}`)
    }
  }, 90_000)

  afterAll(async () => {
    await Promise.all(copies.map((child) => stopChild(child)))
  }, 30_000)

  it('when one client alternates between the copies, then they share one limit: 429 with Retry-After once it is used up on either', async () => {
    // Windows are aligned to the clock: start well inside one.
    const windowMs = 3_600_000
    if (windowMs - (Date.now() % windowMs) < 20_000) await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 500))
    const token = await tokenFor('operator', randomUUID())
    const id = randomUUID()
    const answers: Response[] = []
    for (let i = 0; i < LIMIT + 2; i++) {
      answers.push(await fetch(`http://127.0.0.1:${ports[i % 2]}/api/orders/${id}`, { headers: { authorization: `Bearer ${token}` } }))
    }
    expect(answers.slice(0, LIMIT).map((a) => a.status)).toEqual(Array(LIMIT).fill(404))
    expect(answers.slice(0, LIMIT).map((a) => Number(a.headers.get('x-ratelimit-remaining')))).toEqual(Array.from({ length: LIMIT }, (_, i) => LIMIT - 1 - i))
    for (const refused of answers.slice(LIMIT)) {
      expect(refused.status).toBe(429)
      expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(refused.headers.get('x-ratelimit-limit')).toBe(String(LIMIT))
      expect((await refused.json()).code).toBe('request.rate-limited')
    }
    // Another client is not affected.
    const other = await fetch(`http://127.0.0.1:${ports[0]}/api/orders/${id}`, { headers: { authorization: `Bearer ${await tokenFor('operator', randomUUID())}` } })
    expect(other.status).toBe(404)
  })
})

// --- measurements ------------------------------------------------------------------------------------------------

/** Cumulative buckets of one histogram series from a Prometheus text page. */
function histogram(page: string, name: string, labels: string): { buckets: [number, number][]; sum: number; count: number } {
  const buckets: [number, number][] = []
  let sum = 0
  let count = 0
  for (const line of page.split('\n')) {
    if (!line.startsWith(name) || !line.includes(labels)) continue
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    if (line.startsWith(`${name}_bucket`)) {
      const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf'
      buckets.push([le === '+Inf' ? Infinity : Number(le), value])
    } else if (line.startsWith(`${name}_sum`)) sum = value
    else if (line.startsWith(`${name}_count`)) count = value
  }
  return { buckets, sum, count }
}

/** histogram_quantile over the difference of two scrapes. */
function quantile(q: number, before: ReturnType<typeof histogram>, after: ReturnType<typeof histogram>): number {
  const delta = after.buckets.map(([le, n], i) => [le, n - (before.buckets[i]?.[1] ?? 0)] as [number, number])
  const total = delta.at(-1)?.[1] ?? 0
  const rank = q * total
  let lower = 0
  let below = 0
  for (const [le, n] of delta) {
    if (n >= rank) return le === Infinity ? lower : lower + ((le - lower) * (rank - below)) / Math.max(1, n - below)
    lower = le
    below = n
  }
  return lower
}

describe('measurements', () => {
  it('when ~200 status changes commit and 5,000 reads hit 50 orders, then the invalidation lag and the hit ratio are reported', async () => {
    const lagSeries = () => api('orders', 'GET', '/actuator/prometheus').then((r) => histogram(String(r.body), 'trackops_cache_invalidation_lag_seconds', 'cache="orders"'))
    const summary = (before: ReturnType<typeof histogram>, after: ReturnType<typeof histogram>) => ({
      changes: after.count - before.count,
      medianMs: Math.round(quantile(0.5, before, after) * 1000),
      p99Ms: Math.round(quantile(0.99, before, after) * 1000),
      meanMs: Math.round(((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000),
    })
    const stats = async () => (await api('orders', 'GET', '/actuator/caches', { token: await operatorToken() })).body.caches.orders
    const productId = await createProduct({ stock: 500 })

    // A burst: 67 orders placed at once, each confirmed by its saga (two changes per order within a second or two).
    const burstBefore = await lagSeries()
    const orders = await Promise.all(Array.from({ length: 67 }, () => placeOrder({ items: [{ productId, quantity: 1 }] })))
    // One poller walking the pending orders, not 67 polling side by side: that would load the two cores the sagas need.
    const pending = new Set(orders.map((o) => o.order.id))
    await eventually(async () => {
      for (const id of [...pending]) {
        const status = await orderStatus(id)
        if (status === 'CANCELLED') throw new Error(`order ${id} was cancelled`)
        if (status === 'CONFIRMED') pending.delete(id)
      }
      return pending.size === 0
    }, 120_000, 'every order of the burst to be CONFIRMED')
    await eventually(async () => (await lagSeries()).count - burstBefore.count >= 2 * orders.length, 60_000, 'the burst to be invalidated')
    const burst = summary(burstBefore, await lagSeries())

    // Steady: 201 operator changes, one after another.
    const steadyBefore = await lagSeries()
    const operator = await operatorToken()
    for (const action of ['process', 'ship', 'deliver']) {
      for (const o of orders) {
        const res = await api('orders', 'POST', `/api/orders/${o.order.id}/${action}`, { token: operator })
        expect(res.status).toBe(200)
      }
    }
    await eventually(async () => (await lagSeries()).count - steadyBefore.count >= 3 * orders.length, 60_000, 'every change to be invalidated')
    const steady = summary(steadyBefore, await lagSeries())

    const readOrders = orders.slice(0, 50)
    const before = await stats()
    const readers = await Promise.all(Array.from({ length: 50 }, () => operatorToken()))
    let next = 0
    await Promise.all(
      readers.map(async (token) => {
        while (next < 5_000) {
          const o = readOrders[next++ % readOrders.length]!
          const res = await api('orders', 'GET', `/api/orders/${o.order.id}`, { token })
          expect(res.status).toBe(200)
        }
      }),
    )
    const after = await stats()
    const hits = after.hits - before.hits
    const misses = after.misses - before.misses
    const hitRatio = Math.round((hits / (hits + misses)) * 1000) / 1000
    for (const [name, lag] of [['steady (one change at a time)', steady], ['burst (67 orders placed at once, saga-confirmed)', burst]] as const) {
      console.log(`[measurement] commit-to-invalidation lag, ${name}: ${lag.changes} changes, median ≈ ${lag.medianMs} ms, p99 ≈ ${lag.p99Ms} ms, mean ${lag.meanMs} ms`)
    }
    console.log(`[measurement] ${hits + misses} GETs over 50 orders (50 clients): hit ratio ${hitRatio} (${hits} hits, ${misses} misses), load p99 ${after.loadLatencyMs.p99} ms`)

    expect(steady.changes).toBeGreaterThanOrEqual(201)
    expect(hits + misses).toBeGreaterThanOrEqual(5_000)
    expect(hitRatio).toBeGreaterThan(0.9)
  }, 300_000)
})
