// SQL for orders and their lines, and OrdersDb, the type of the whole orders database. Reads of one order go
// through getOrder, the single place a cache can wrap. Their history is in history-store.ts, idempotency keys in
// idempotency-store.ts.
import { type ColumnType, type Generated, type Kysely, type Selectable } from 'kysely'
import type { Participant } from '@trackops/contracts'
import type { MessagingTables } from '@trackops/messaging'
import type { ChangeCause, Order, OrderItem, OrderStatus } from './order.ts'
import type { PaymentState, ReservationState, SagaLine, SagaStatus, StepKind, StepName, StepStatus } from './saga/saga.ts'
import { heldWrites } from './held-writes.ts'

type Timestamp = ColumnType<Date, Date, Date>

export interface OrdersTable {
  id: string
  customer_id: string
  status: OrderStatus
  total_cents: number
  currency: string
  street_address: string
  city: string
  state: string | null
  postal_code: string
  country: string
  phone_number: string | null
  delivery_instructions: string | null
  payment_token: string | null
  /** Set with the status change to CANCELLED (migration 0004). */
  cancellation_reason: string | null
  cancelled_by: string | null
  created_at: Timestamp
  updated_at: Timestamp
  version: number
}

export interface OrderItemsTable {
  id: string
  order_id: string
  line_no: number
  product_id: string
  product_name: string
  quantity: number
  unit_price_cents: number
  total_cents: number
}

export interface OrderHistoryTable {
  id: Generated<number>
  order_id: string
  from_status: OrderStatus | null
  to_status: OrderStatus
  cause: ChangeCause
  reason: string | null
  actor: string | null
  correlation_id: string
  order_version: number
  occurred_at: Timestamp
}

export interface IdempotencyKeysTable {
  idempotency_key: string
  customer_id: string
  request_hash: string
  order_id: string
  created_at: Timestamp
}

export interface CatalogProductsTable {
  product_id: string
  inventory_item_id: string | null
  product_name: string
  unit_price_cents: number
  is_active: boolean
  is_discontinued: boolean
  version: number
  updated_at: Timestamp
}

/** bigint columns: written as numbers, read back as strings by node-postgres. */
type Int8 = ColumnType<string, number, number>

export interface SagaInstancesTable {
  id: string
  order_id: string
  customer_id: string
  status: SagaStatus
  current_step: StepName | null
  step_deadline: Date | null
  compensation_attempts: number
  reservation_status: ReservationState
  payment_status: PaymentState
  payment_id: string | null
  total_cents: Int8
  currency: string
  payment_token: string | null
  /** jsonb: written as JSON text. */
  items: ColumnType<SagaLine[], string, string>
  cancel_reason: string | null
  cause: ChangeCause | null
  cancelled_by: string | null
  correlation_id: string
  step_timeout_seconds: number
  created_at: Timestamp
  updated_at: Timestamp
  completed_at: Date | null
  version: Int8
}

export interface SagaStepsTable {
  id: Generated<string>
  saga_id: string
  name: StepName
  kind: StepKind
  status: StepStatus
  attempts: number
  started_at: Timestamp
  completed_at: Date | null
  error: string | null
}

export interface MessagingPathsTable {
  participant: Participant
  probing_since: Date | null
  probe_sent_at: Date | null
  answered_sent_at: Date | null
  answered_at: Date | null
  down_since: Date | null
  last_outage_seconds: number | null
  last_recovered_at: Date | null
}

/** The orders database: the service's tables and the messaging tables every service database carries. */
export interface OrdersDb extends MessagingTables {
  orders: OrdersTable
  order_items: OrderItemsTable
  order_history: OrderHistoryTable
  idempotency_keys: IdempotencyKeysTable
  catalog_products: CatalogProductsTable
  saga_instances: SagaInstancesTable
  saga_steps: SagaStepsTable
  messaging_paths: MessagingPathsTable
}

export type Db = Kysely<OrdersDb>

type OrderRow = Selectable<OrdersTable>

const toOrder = (row: OrderRow, items: OrderItem[]): Order => ({
  id: row.id,
  customerId: row.customer_id,
  status: row.status,
  totalCents: row.total_cents,
  currency: row.currency,
  address: {
    streetAddress: row.street_address,
    city: row.city,
    state: row.state,
    postalCode: row.postal_code,
    country: row.country,
    phoneNumber: row.phone_number,
  },
  deliveryInstructions: row.delivery_instructions,
  paymentToken: row.payment_token,
  items,
  cancellationReason: row.cancellation_reason,
  cancelledBy: row.cancelled_by,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  version: row.version,
})

export async function insertOrder(tx: Db, order: Order, newId: () => string): Promise<void> {
  await tx
    .insertInto('orders')
    .values({
      id: order.id,
      customer_id: order.customerId,
      status: order.status,
      total_cents: order.totalCents,
      currency: order.currency,
      street_address: order.address.streetAddress,
      city: order.address.city,
      state: order.address.state,
      postal_code: order.address.postalCode,
      country: order.address.country,
      phone_number: order.address.phoneNumber,
      delivery_instructions: order.deliveryInstructions,
      payment_token: order.paymentToken,
      cancellation_reason: order.cancellationReason,
      cancelled_by: order.cancelledBy,
      created_at: order.createdAt,
      updated_at: order.updatedAt,
      version: order.version,
    })
    .execute()
  if (order.items.length === 0) return
  await tx
    .insertInto('order_items')
    .values(
      order.items.map((item, i) => ({
        id: newId(),
        order_id: order.id,
        line_no: i + 1,
        product_id: item.productId,
        product_name: item.productName,
        quantity: item.quantity,
        unit_price_cents: item.unitPriceCents,
        total_cents: item.totalCents,
      })),
    )
    .execute()
}

async function itemsOf(db: Db, orderIds: string[]): Promise<Map<string, OrderItem[]>> {
  const byOrder = new Map<string, OrderItem[]>(orderIds.map((id) => [id, []]))
  if (orderIds.length === 0) return byOrder
  const rows = await db.selectFrom('order_items').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').orderBy('line_no').execute()
  for (const r of rows) {
    byOrder.get(r.order_id)?.push({ productId: r.product_id, productName: r.product_name, quantity: r.quantity, unitPriceCents: r.unit_price_cents, totalCents: r.total_cents })
  }
  return byOrder
}

/** The order with its lines, or null. Every read of one order goes through here. */
export async function getOrder(db: Db, id: string): Promise<Order | null> {
  const row = await db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) return null
  return toOrder(row, (await itemsOf(db, [id])).get(id) ?? [])
}

/** Takes the order's row lock without reading it (its items neither); false when there is no such order. */
export async function lockOrderRow(tx: Db, id: string): Promise<boolean> {
  return (await tx.selectFrom('orders').select('id').where('id', '=', id).forUpdate().executeTakeFirst()) !== undefined
}

/** Locks the order row until the transaction ends; null when there is no such order. */
export async function lockOrder(tx: Db, id: string): Promise<Order | null> {
  const row = await tx.selectFrom('orders').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  if (!row) return null
  return toOrder(row, (await itemsOf(tx, [id])).get(id) ?? [])
}

/** Locks the rows of several orders in id order (the order every writer takes them in) and reads them with their items. */
export async function lockOrders(tx: Db, ids: string[]): Promise<Map<string, Order>> {
  if (ids.length === 0) return new Map()
  const rows = await tx.selectFrom('orders').selectAll().where('id', 'in', [...new Set(ids)]).orderBy('id').forUpdate().execute()
  const items = await itemsOf(tx, rows.map((r) => r.id))
  return new Map(rows.map((r) => [r.id, toOrder(r, items.get(r.id) ?? [])]))
}

/**
 * Guarded by the version the caller read: a concurrent change makes it return null instead of overwriting.
 * A change to CANCELLED records why and by whom in the same row, so every read of the order (cache included) has them.
 */
export async function updateOrderStatus(
  tx: Db,
  input: { id: string; expectedVersion: number; status: OrderStatus; now: Date; cancellation?: { reason: string; by: string } },
): Promise<{ version: number; updatedAt: Date } | null> {
  const cancellation = input.status === 'CANCELLED' && input.cancellation ? { cancellation_reason: input.cancellation.reason, cancelled_by: input.cancellation.by } : {}
  const held = heldWrites(tx)
  if (held) return { version: held.order(input.id, input.expectedVersion, { status: input.status, updated_at: input.now, ...cancellation }), updatedAt: input.now }
  const row = await tx
    .updateTable('orders')
    .set((eb) => ({ status: input.status, updated_at: input.now, version: eb('version', '+', 1), ...cancellation }))
    .where('id', '=', input.id)
    .where('version', '=', input.expectedVersion)
    .returning(['version', 'updated_at'])
    .executeTakeFirst()
  return row ? { version: row.version, updatedAt: row.updated_at } : null
}

/** The columns a list of orders can be sorted by. */
export const sortColumns = { createdAt: 'created_at', updatedAt: 'updated_at', totalAmount: 'total_cents', status: 'status' } as const
export type SortField = keyof typeof sortColumns

export interface ListQuery {
  filter: { status?: OrderStatus; customerId?: string }
  page: number
  size: number
  sort: { field: SortField; direction: 'asc' | 'desc' }
}

export async function listOrders(db: Db, q: ListQuery): Promise<{ orders: Order[]; total: number }> {
  let base = db.selectFrom('orders')
  if (q.filter.status) base = base.where('status', '=', q.filter.status)
  if (q.filter.customerId) base = base.where('customer_id', '=', q.filter.customerId)
  const [rows, count] = await Promise.all([
    base
      .selectAll()
      .orderBy(sortColumns[q.sort.field], q.sort.direction)
      .orderBy('id', q.sort.direction) // a total order, so pages never overlap or skip rows
      .limit(q.size)
      .offset(q.page * q.size)
      .execute(),
    base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ])
  const items = await itemsOf(db, rows.map((r) => r.id))
  return { orders: rows.map((r) => toOrder(r, items.get(r.id) ?? [])), total: Number(count.n) }
}
