// Component-test helpers against the real inventory database (testEnv.componentDbs.inventory). Every test makes its own
// products and orders with unique ids and never assumes counts of shared tables.
import { randomUUID } from 'node:crypto'
import { expect } from 'vitest'
import { sql } from 'kysely'
import pino from 'pino'
import { runner } from 'node-pg-migrate'
import type { AnyMessage, MessageData, MessageType } from '@trackops/contracts'
import { createDb } from '@trackops/runtime'
import { messagingMigrationsDir, newMessage, type HandlerContext, type MessageHandler } from '@trackops/messaging'
import { testEnv } from '../../../tests/support/env.ts'
import { commandsGroup, createCommandHandler } from '../src/handlers.ts'
import { createItem } from '../src/manage-items.ts'
import type { Item } from '../src/item-store.ts'
import type { Db, InventoryDb } from '../src/inventory-db.ts'

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
export const TTL_SECONDS = 1800

/** Applies the messaging and inventory migrations (a no-op when `npm run migrate` already did). */
export async function migrate() {
  const common = { databaseUrl: testEnv.componentDbs.inventory, direction: 'up' as const, count: Infinity, log: () => undefined, checkOrder: true }
  await runner({ ...common, dir: messagingMigrationsDir, migrationsTable: 'pgmigrations_messaging' })
  await runner({ ...common, dir: new URL('../migrations', import.meta.url).pathname, migrationsTable: 'pgmigrations' })
}

export const openDb = (max = 10) => createDb<InventoryDb>(testEnv.componentDbs.inventory, { max, applicationName: 'inventory-test' })

export const uid = () => randomUUID().slice(0, 8).toUpperCase()

export async function newItem(db: Db, o: Partial<{ productId: string; productName: string; stock: number; priceCents: number; category: string; minStockLevel: number | null; maxStockLevel: number | null; reorderQuantity: number | null }> = {}): Promise<Item> {
  const productId = o.productId ?? `T-${uid()}`
  const outcome = await createItem(db, { now: () => new Date(), newId: randomUUID }, {
      productId,
      productName: o.productName ?? `Test product ${productId}`,
      description: null,
      availableQuantity: o.stock ?? 10,
      unitPriceCents: o.priceCents ?? 1999,
      category: o.category ?? 'Test',
      minStockLevel: o.minStockLevel ?? null,
      maxStockLevel: o.maxStockLevel ?? null,
      reorderQuantity: o.reorderQuantity ?? null,
    }, 'test')
  if (!outcome.ok) throw new Error(outcome.message)
  return outcome.item
}

export async function setFlags(db: Db, productId: string, flags: { is_active?: boolean; is_discontinued?: boolean }) {
  await db.updateTable('inventory_items').set(flags).where('product_id', '=', productId).execute()
}

export const command = <T extends MessageType>(type: T, data: MessageData<T>) =>
  newMessage(type, data, { correlationId: `test-${randomUUID()}` })

export const reserveCommand = (orderId: string, items: { productId: string; quantity: number }[], sagaId = randomUUID()) =>
  command('RESERVE_INVENTORY', { orderId, sagaId, items })

const contextOf = (message: AnyMessage): HandlerContext => ({
  correlationId: message.correlationId,
  causationId: message.id,
  log: logger,
  headers: {},
  recordTimestamp: Date.now(),
})

export const handler = (deps: Partial<{ now: () => Date; ttlSeconds: number }> = {}): MessageHandler<InventoryDb> =>
  createCommandHandler({ now: deps.now ?? (() => new Date()), newId: randomUUID, ttlSeconds: deps.ttlSeconds ?? TTL_SECONDS })

/**
 * What the consumer runner does with one record: inbox insert and handler in one transaction (see
 * packages/messaging/src/consumer.ts applyInTx). False when the message id was already processed.
 */
export async function deliver(db: Db, message: AnyMessage, handle: MessageHandler<InventoryDb> = handler()): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const inserted = await sql`
      INSERT INTO processed_events (message_id, consumer_group, message_type, topic, partition, "offset")
      VALUES (${message.id}, ${commandsGroup}, ${message.type}, 'inventory.commands', 0, 0)
      ON CONFLICT DO NOTHING RETURNING 1`.execute(tx)
    if (inserted.rows.length === 0) return false
    await handle(tx, message, contextOf(message))
    return true
  })
}

/** Messages written to the outbox for an aggregate (order id, or product id for LOW_STOCK), oldest first. */
export async function events(db: Db, aggregateId: string, type?: MessageType): Promise<AnyMessage[]> {
  const rows = await sql<{ payload: string }>`
    SELECT payload FROM outbox WHERE aggregateid = ${aggregateId} ${type ? sql`AND type = ${type}` : sql``} ORDER BY seq`.execute(db)
  return rows.rows.map((r) => JSON.parse(r.payload) as AnyMessage)
}

export async function stockOf(db: Db, productId: string) {
  return db
    .selectFrom('inventory_items')
    .select(['id', 'available_quantity as available', 'reserved_quantity as reserved', 'sold_quantity as sold', 'on_hand_quantity as onHand'])
    .where('product_id', '=', productId)
    .executeTakeFirstOrThrow()
}

export async function reservationsOf(db: Db, orderId: string) {
  return db.selectFrom('inventory_reservations').selectAll().where('order_id', '=', orderId).orderBy('product_id').execute()
}

/**
 * The stock invariants of one product: on hand = available + reserved; reserved = the RESERVED lines; sold =
 * the COMMITTED lines; the audit trail explains everything that was ever on hand (available + reserved + sold);
 * nothing negative.
 */
export async function expectInvariant(db: Db, productId: string) {
  const s = await stockOf(db, productId)
  const lines = await sql<{ status: string; q: number }>`
    SELECT status, sum(quantity)::int AS q FROM inventory_reservations WHERE product_id = ${productId} GROUP BY status`.execute(db)
  const by = Object.fromEntries(lines.rows.map((r) => [r.status, r.q]))
  const ledger = await sql<{ total: number }>`SELECT coalesce(sum(quantity), 0)::int AS total FROM inventory_adjustments WHERE item_id = ${s.id}`.execute(db)
  expect(s.available).toBeGreaterThanOrEqual(0)
  expect(s.reserved).toBeGreaterThanOrEqual(0)
  expect(s.sold).toBeGreaterThanOrEqual(0)
  expect(s.onHand).toBe(s.available + s.reserved)
  expect(s.reserved).toBe(by.RESERVED ?? 0)
  expect(s.sold).toBe(by.COMMITTED ?? 0)
  expect(ledger.rows[0]?.total).toBe(s.available + s.reserved + s.sold)
  return s
}
