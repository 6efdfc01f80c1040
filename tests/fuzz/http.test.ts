// Every hostile input is a 4xx (issue #14): each HTTP service's OpenAPI operations, fuzzed through app.inject
// against real PostgreSQL (databases of the suite's own, see databases.ts), with an admin token so every
// request gets past authentication to validation and beyond. Per request: never a 5xx, errors are problem+json
// (validation errors with their `errors` list), a body over 64 KiB is 413, and a rejected request leaves the
// service's database exactly as it was. Deterministic: FUZZ_SEED (default 14) seeds every generated value.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { sql, type Kysely } from 'kysely'
import { createApp, createVerifier, type App } from '@trackops/http'
import { createHealth } from '@trackops/runtime'
import { newMessage, type KafkaAdmin, type KafkaProducer } from '@trackops/messaging'
import { testEnv, tokenFor } from '../support/env.ts'
import { createFuzzDatabases, digester, dropFuzzDatabases, fuzzDbs, openFuzzDb } from './databases.ts'
import { fuzz, operationsOf, type FuzzTarget, type Hints, type Operation, type Report } from './engine.ts'
import { buildApp as buildOrders } from '../../services/orders/src/http.ts'
import { createSaga } from '../../services/orders/src/saga/create-saga.ts'
import { buildApp as buildInventory } from '../../services/inventory/src/http.ts'
import { buildApp as buildPayments } from '../../services/payments/src/http.ts'
import { buildApp as buildRelay } from '../../services/relay/src/http.ts'
import { createSources, type Source } from '../../services/relay/src/sources.ts'
import { createPaymentHandler } from '../../services/payments/src/handlers.ts'
import type { PaymentsDb } from '../../services/payments/src/payment-store.ts'
import type { OrdersDb } from '../../services/orders/src/order-store.ts'
import type { InventoryDb } from '../../services/inventory/src/inventory-db.ts'
import { createResilientGateway } from '../../services/payments/src/resilient-gateway.ts'
import { createSandboxGateway } from '../../services/payments/src/sandbox-gateway.ts'
import { registerOps } from '../../console/src/server/ops.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 14)
const ADMIN = '00000000-0000-4000-8000-00000000f022'
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

let dbs: { orders: Kysely<OrdersDb>; inventory: Kysely<InventoryDb>; payments: Kysely<PaymentsDb> }
let sources: Source[]
let token: string
const apps: App[] = []
const reports: Record<string, Report> = {}

beforeAll(async () => {
  await createFuzzDatabases()
  dbs = { orders: openFuzzDb<OrdersDb>('orders'), inventory: openFuzzDb<InventoryDb>('inventory'), payments: openFuzzDb<PaymentsDb>('payments') }
  sources = createSources(fuzzDbs.relay)
  token = await tokenFor('admin', ADMIN)
}, 120_000)

afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.close()))
  await Promise.allSettled([...Object.values(dbs ?? {}).map((db) => db.destroy()), ...(sources ?? []).map((s) => s.db.destroy())])
  await dropFuzzDatabases()
  const lines = Object.entries(reports).map(([service, r]) =>
    `${service.padEnd(9)} ${String(r.requests).padStart(6)} requests  ${Object.entries(r.statuses).map(([s, n]) => `${s}×${n}`).join(' ')}`)
  console.log(`HTTP fuzz (seed ${SEED}):\n${lines.join('\n')}`)
})

const verify = () => createVerifier(testEnv.jwt)

async function run(service: string, app: App, target: Omit<FuzzTarget, 'app' | 'token'>, only?: (op: Operation) => boolean) {
  const ops = operationsOf(app.swagger() as unknown as Parameters<typeof operationsOf>[0]).filter(only ?? (() => true))
  expect(ops.length, `${service} has operations`).toBeGreaterThan(0)
  const report = await fuzz({ ...target, app, token }, ops, SEED)
  reports[service] = report
  expect(report.failures.slice(0, 40), `${report.failures.length} failures`).toEqual([])
  return report
}

async function injectJson(app: App, method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload !== undefined ? { payload: payload as object } : {}) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`)
  return res.json()
}

describe('inventory', () => {
  it('when every operation gets hostile values, then no answer is a 5xx and no rejected request writes', async () => {
    const app = await buildInventory({ db: dbs.inventory, logger, health: createHealth(), verify: verify(), reservationTtlSeconds: 1800 })
    apps.push(app)
    await app.ready()
    let n = 0
    const newItem = async () => (await injectJson(app, 'POST', '/api/inventory/items', { productId: `FZ-${++n}`, productName: 'Fuzz item', availableQuantity: 1000, unitPrice: 2.5 })).productId as string
    const reserved = await injectJson(app, 'POST', '/api/inventory/reservations', { orderId: randomUUID(), items: [{ productId: await newItem(), quantity: 1 }] })
    let productId = ''
    const hints: Hints = (op, name) => {
      if (name === 'productId') return productId
      if (name === 'orderId' && op.method === 'GET') return reserved.orderId
      if (name === 'id') return reserved.reservations[0].id
      return undefined
    }
    const report = await run('inventory', app, { hints, digest: digester(dbs.inventory), beforeOperation: async () => void (productId = await newItem()) })
    expect(report.requests).toBeGreaterThan(1000)
  })
})

describe('orders', () => {
  it('when every operation gets hostile values, then no answer is a 5xx and no rejected request writes', async () => {
    const db = dbs.orders
    const clock = { now: () => new Date(), newId: randomUUID }
    const app = await buildOrders({ db, logger, health: createHealth(), verify: verify(), saga: createSaga({ db, logger, ...clock, stepTimeoutSeconds: 30 }), ...clock })
    apps.push(app)
    await app.ready()
    const product = `FZ-${randomUUID()}`
    await sql`INSERT INTO catalog_products (product_id, inventory_item_id, product_name, unit_price_cents, is_active, is_discontinued, version, updated_at)
              VALUES (${product}, ${randomUUID()}, 'Fuzz product', 1000, true, false, 1, now())`.execute(db)
    const items = [{ productId: product, quantity: 1 }]
    const address = { streetAddress: '12 Main Street', city: 'Springfield', postalCode: '62701', country: 'United States' }
    let order = { id: '', customerId: '', sagaId: '' }
    const newOrder = async () => {
      const placed = await injectJson(app, 'POST', '/api/orders', { customerId: randomUUID(), address, items })
      const saga = await injectJson(app, 'GET', `/api/sagas/order/${placed.id}`)
      order = { id: placed.id, customerId: placed.customerId, sagaId: saga.id }
    }
    const hints: Hints = (op, name) => {
      if (name === 'items') return items
      if (name === 'address') return address
      if (name === 'status' && op.path.startsWith('/api/orders')) return 'PENDING'
      if (name === 'newStatus') return 'CONFIRMED'
      if (name === 'id' || name === 'orderId') return order.id
      if (name === 'customerId' && op.method === 'GET') return order.customerId
      if (name === 'sagaId') return order.sagaId
      return undefined
    }
    const report = await run('orders', app, { hints, digest: digester(db), beforeOperation: newOrder })
    expect(report.requests).toBeGreaterThan(1000)
  })
})

describe('payments', () => {
  it('when every operation gets hostile values, then no answer is a 5xx and no rejected request writes', async () => {
    const db = dbs.payments
    const app = await buildPayments({ db, logger, health: createHealth(), verify: verify() })
    apps.push(app)
    await app.ready()
    const gateway = createResilientGateway(createSandboxGateway(db), { timeoutMs: 2_000, breakerName: 'fuzz' })
    const handle = createPaymentHandler({ gateway, now: () => new Date(), newId: randomUUID })
    const command = newMessage('PROCESS_PAYMENT', { orderId: randomUUID(), sagaId: randomUUID(), customerId: randomUUID(), amountCents: 4_250, currency: 'USD', paymentToken: 'tok_visa' }, { correlationId: `fuzz-${randomUUID()}` })
    await db.transaction().execute((tx) => handle(tx, command, { correlationId: command.correlationId, causationId: command.id, log: logger, headers: {}, recordTimestamp: Date.now() }))
    const payment = await injectJson(app, 'GET', `/api/payments/order/${command.data.orderId}`)
    const hints: Hints = (_op, name) => (name === 'id' ? payment.id : name === 'orderId' ? command.data.orderId : undefined)
    const report = await run('payments', app, { hints, digest: digester(db) })
    expect(report.requests).toBeGreaterThan(100)
  })
})

describe('relay', () => {
  it('when every operation gets hostile values, then no answer is a 5xx and no rejected request writes', async () => {
    // A stand-in for Kafka that acknowledges everything: publishing on request is then a real write to the outbox.
    const producer: KafkaProducer = { send: async () => undefined, close: async () => undefined }
    const app = await buildRelay({ sources, strategy: 'outbox', producer, logger, health: createHealth(), verify: verify(), batchSize: 50 })
    apps.push(app)
    await app.ready()
    const event = newMessage('PAYMENT_PROCESSED', { orderId: randomUUID(), sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 100 }, { correlationId: `fuzz-${randomUUID()}` })
    const letter = { id: '', key: '', offset: 0 }
    const insertEvent = () => sql`
      INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
      VALUES (${event.id}, 'trackops.fuzz.events', ${event.aggregateType}, ${event.data.orderId}, ${event.type}, ${JSON.stringify(event)}, ${event.correlationId},
              '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')
      ON CONFLICT (id) DO NOTHING`.execute(dbs.payments)
    const newLetter = async () => {
      letter.id = randomUUID()
      letter.key = randomUUID()
      await sql`
        INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers, message_id, message_type, error, attempts, status)
        VALUES (${letter.id}, 'fuzz-group', 'trackops.fuzz.events', 0, ${++letter.offset}, ${letter.key}, ${JSON.stringify(event)}, '{}', ${event.id}, ${event.type}, 'Error: fuzz', 3, 'DEAD')`.execute(dbs.orders)
    }
    await insertEvent()
    const hints: Hints = (op, name) => {
      if (name === 'id') return op.path.startsWith('/api/dlq') ? letter.id : event.id
      if (name === 'aggregateId') return event.data.orderId
      if (name === 'eventType') return event.type
      if (name === 'key') return letter.key
      return undefined
    }
    const digests = [digester(dbs.orders), digester(dbs.inventory), digester(dbs.payments)]
    const digest = async () => (await Promise.all(digests.map((d) => d()))).join(' | ')
    const report = await run('relay', app, { hints, digest, beforeOperation: async () => (await newLetter(), void (await insertEvent())) })
    expect(report.requests).toBeGreaterThan(1000)
  })
})

describe('console', () => {
  it('when its operations that take input get hostile values, then no answer is a 5xx and only a valid connector name reaches Kafka Connect', async () => {
    // A stand-in Kafka Connect that knows one connector and records every request it gets.
    const seen: string[] = []
    let restarts = 0
    const connect = http.createServer((req, res) => {
      seen.push(req.url ?? '')
      const known = /^\/connectors\/trackops-orders-outbox\/restart\?/.test(req.url ?? '')
      if (known) restarts++
      res.writeHead(known ? 202 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(known ? { state: 'RESTARTING' } : { error_code: 404, message: 'not found' }))
    })
    await new Promise<void>((resolve) => connect.listen(0, '127.0.0.1', resolve))
    try {
      const health = createHealth()
      const app = await createApp({ name: 'console', title: 'TrackOps console', description: 'fuzz', logger, health, verify: verify() })
      apps.push(app)
      const unused = () => Promise.reject(new Error('Kafka is not part of this test'))
      const admin = { describeCluster: unused, topicEndOffsets: unused, listGroups: unused, groupLag: unused, close: async () => undefined } as unknown as KafkaAdmin
      registerOps(app, { services: [], connectUrl: `http://127.0.0.1:${(connect.address() as AddressInfo).port}`, admin, health })
      await app.ready()
      const hints: Hints = (_op, name) => (name === 'name' ? 'trackops-orders-outbox' : undefined)
      const takesInput = (op: Operation) => op.path.startsWith('/api/') && (op.params.length > 0 || op.body !== null)
      const report = await run('console', app, { hints, digest: async () => String(restarts) }, takesInput)
      expect(report.requests).toBeGreaterThan(50)
      // Whatever the name, Kafka Connect is asked about one connector: never a path outside /connectors/{name}.
      expect(seen.filter((url) => !/^\/connectors\/[A-Za-z0-9][A-Za-z0-9._-]*\/restart\?/.test(url))).toEqual([])
    } finally {
      await new Promise((resolve) => connect.close(resolve))
    }
  })
})
