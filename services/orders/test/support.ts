// Shared fixtures of the order-service component tests: the app against the real database, tokens, and data
// makers that give every test its own customers, products and orders.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import pino from 'pino'
import { sql } from 'kysely'
import { createDb, createHealth } from '@trackops/runtime'
import type { OutboxRow } from '@trackops/messaging'
import { createVerifier, type App, type Role } from '@trackops/http'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'
import { buildApp } from '../src/http.ts'
import { insertOrder, type Db } from '../src/order-store.ts'
import { openOrder, type OrderStatus } from '../src/order.ts'
import { createSaga, type SagaDeps } from '../src/saga/create-saga.ts'

export const STEP_TIMEOUT_SECONDS = 30

/** The saga as main.ts builds it, on the real clock unless a test injects one. */
export function createTestSaga(db: Db, deps: Partial<SagaDeps> = {}) {
  return createSaga({ db, logger: pino({ level: 'silent' }), now: () => new Date(), newId: randomUUID, stepTimeoutSeconds: STEP_TIMEOUT_SECONDS, ...deps })
}

export function createTestDb(max = 10): Db {
  return createDb(testEnv.componentDbs.orders, { max, applicationName: 'orders-tests' }) as Db
}

/** The app with auth on, logging into `logs` (parsed JSON lines) so tests can read audit records. */
export async function createTestApp(db: Db): Promise<{ app: App; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const app = await buildApp({
    db,
    logger: pino({ level: 'info' }, sink),
    health: createHealth(),
    verify: createVerifier(testEnv.jwt),
    saga: createTestSaga(db),
    now: () => new Date(),
    newId: randomUUID,
  })
  await app.ready()
  return { app, logs }
}

export const OPERATOR = 'operator-orders-tests'
export const bearer = async (role: Role, sub?: string) => `Bearer ${await tokenFor(role, sub)}`
export const operator = () => bearer('operator', OPERATOR)
export const customer = (id: string) => bearer('customer', id)

export const address = () => ({
  streetAddress: '12 Main Street',
  city: 'Springfield',
  state: 'Illinois',
  postalCode: '62701',
  country: 'United States',
  phoneNumber: '+1 (555) 123-4567',
})

/** A legacy body (no items, client total). */
export const legacyBody = (customerId: string, extra: Record<string, unknown> = {}) => ({
  customerId,
  address: address(),
  deliveryInstructions: 'Leave at the door, please.',
  totalAmount: 42.5,
  ...extra,
})

export async function addProduct(db: Db, p: { price: number; name?: string; active?: boolean; discontinued?: boolean } = { price: 10 }) {
  const productId = `T-${randomUUID()}`
  await db
    .insertInto('catalog_products')
    .values({
      product_id: productId,
      inventory_item_id: randomUUID(),
      product_name: p.name ?? `Test product ${productId.slice(2, 10)}`,
      unit_price_cents: Math.round(p.price * 100),
      is_active: p.active ?? true,
      is_discontinued: p.discontinued ?? false,
      version: 1,
      updated_at: new Date(),
    })
    .execute()
  return productId
}

type Enqueued = Pick<OutboxRow, 'seq' | 'id' | 'type' | 'topic' | 'aggregateid' | 'payload' | 'correlation_id'>

export async function outboxOf(db: Db, orderId: string): Promise<Enqueued[]> {
  const r = await sql<Enqueued>`SELECT seq, id, type, topic, aggregateid, payload, correlation_id FROM outbox WHERE aggregateid = ${orderId} ORDER BY seq`.execute(db)
  return r.rows
}

export const countByType = (rows: Enqueued[]) => rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.type]: (acc[r.type] ?? 0) + 1 }), {})

export async function historyCount(db: Db, orderId: string): Promise<number> {
  const r = await db.selectFrom('order_history').select((eb) => eb.fn.countAll<string>().as('n')).where('order_id', '=', orderId).executeTakeFirstOrThrow()
  return Number(r.n)
}

/** An order without a saga (as if its saga had finished or never run), in any status: a fixture, not an API path. */
export async function insertBareOrder(db: Db, status: OrderStatus, customerId: string = randomUUID()): Promise<string> {
  const id = randomUUID()
  const now = new Date()
  const order = openOrder({ id, customerId, address: { ...address() }, deliveryInstructions: null, paymentToken: null, items: [], totalCents: 1999 }, now)
  await insertOrder(db, { ...order, status }, randomUUID)
  return id
}

/** Puts an existing order into a status directly (test set-up only), bumping its version like any update. */
export async function forceStatus(db: Db, orderId: string, status: OrderStatus): Promise<void> {
  await db.updateTable('orders').set((eb) => ({ status, version: eb('version', '+', 1) })).where('id', '=', orderId).execute()
}
