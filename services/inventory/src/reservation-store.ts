// SQL for reservations: an order's claim and outcome (order_reservations) and its lines (inventory_reservations).
// Functions taking `tx` must run inside the caller's transaction.
import { sql, type Selectable } from 'kysely'
import type { FailedItem, ReservationStatus } from './stock.ts'
import type { Db, InventoryDb } from './inventory-db.ts'

export interface OrderReservation {
  orderId: string
  sagaId: string | null
  source: 'saga' | 'operator'
  correlationId: string
  outcome: 'RESERVED' | 'FAILED'
  failedItems: FailedItem[]
  expiresAt: Date | null
  createdAt: Date
}
const orderReservationOf = (r: Selectable<InventoryDb['order_reservations']>): OrderReservation => ({
  orderId: r.order_id,
  sagaId: r.saga_id,
  source: r.source,
  correlationId: r.correlation_id,
  outcome: r.outcome,
  failedItems: r.failed_items,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
})

/**
 * Claims the order: true when this transaction created its row. A concurrent claim for the same order waits
 * here until the first commits (then gets false and replays its outcome) or rolls back (then claims it).
 */
export async function claimOrder(
  tx: Db,
  o: { orderId: string; sagaId: string | null; source: 'saga' | 'operator'; requestedBy: string | null; correlationId: string; expiresAt: Date },
  now: Date,
): Promise<boolean> {
  const row = await tx
    .insertInto('order_reservations')
    .values({ order_id: o.orderId, saga_id: o.sagaId, source: o.source, requested_by: o.requestedBy, correlation_id: o.correlationId, outcome: 'RESERVED', failed_items: '[]', expires_at: o.expiresAt, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column('order_id').doNothing())
    .returning('order_id')
    .executeTakeFirst()
  return row !== undefined
}

export async function markOrderFailed(tx: Db, orderId: string, failedItems: FailedItem[], now: Date) {
  await tx
    .updateTable('order_reservations')
    .set({ outcome: 'FAILED', failed_items: JSON.stringify(failedItems), expires_at: null, updated_at: now })
    .where('order_id', '=', orderId)
    .execute()
}

export async function findOrderReservation(db: Db, orderId: string): Promise<OrderReservation | null> {
  const row = await db.selectFrom('order_reservations').selectAll().where('order_id', '=', orderId).executeTakeFirst()
  return row ? orderReservationOf(row) : null
}

/** Locks the order's row: commit, release and expiry of one order run one at a time. */
export async function lockOrder(tx: Db, orderId: string, opts: { skipLocked?: boolean } = {}): Promise<OrderReservation | null> {
  const r = await sql<Selectable<InventoryDb['order_reservations']>>`
    SELECT * FROM order_reservations WHERE order_id = ${orderId}
    FOR UPDATE ${opts.skipLocked ? sql`SKIP LOCKED` : sql``}`.execute(tx)
  const row = r.rows[0]
  return row ? orderReservationOf(row) : null
}

export interface Reservation {
  id: string
  orderId: string
  productId: string
  productName: string
  unitPriceCents: number
  quantity: number
  status: ReservationStatus
  reservedAt: Date
  expiresAt: Date
  releasedAt: Date | null
  committedAt: Date | null
  createdAt: Date
  updatedAt: Date
  version: number
}
const reservationOf = (r: Selectable<InventoryDb['inventory_reservations']>): Reservation => ({
  id: r.id,
  orderId: r.order_id,
  productId: r.product_id,
  productName: r.product_name,
  unitPriceCents: Number(r.unit_price_cents),
  quantity: r.quantity,
  status: r.status,
  reservedAt: r.reserved_at,
  expiresAt: r.expires_at,
  releasedAt: r.released_at,
  committedAt: r.committed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  version: Number(r.version),
})

export async function insertReservations(
  tx: Db,
  rows: { id: string; orderId: string; productId: string; productName: string; unitPriceCents: number; quantity: number; expiresAt: Date }[],
  now: Date,
): Promise<Reservation[]> {
  if (rows.length === 0) return []
  const inserted = await tx
    .insertInto('inventory_reservations')
    .values(rows.map((r) => ({
      id: r.id,
      order_id: r.orderId,
      product_id: r.productId,
      product_name: r.productName,
      unit_price_cents: r.unitPriceCents,
      quantity: r.quantity,
      status: 'RESERVED' as const,
      reserved_at: now,
      expires_at: r.expiresAt,
      created_at: now,
      updated_at: now,
    })))
    .returningAll()
    .execute()
  return inserted.map(reservationOf).sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0))
}

export async function reservationsOfOrder(db: Db, orderId: string): Promise<Reservation[]> {
  const rows = await sql<Selectable<InventoryDb['inventory_reservations']>>`
    SELECT * FROM inventory_reservations WHERE order_id = ${orderId} ORDER BY product_id COLLATE "C"`.execute(db)
  return rows.rows.map(reservationOf)
}

export async function setReservationStatus(tx: Db, ids: string[], status: ReservationStatus, now: Date) {
  if (ids.length === 0) return
  await tx
    .updateTable('inventory_reservations')
    .set({
      status,
      updated_at: now,
      version: sql`version + 1`,
      ...(status === 'COMMITTED' && { committed_at: now }),
      ...((status === 'RELEASED' || status === 'EXPIRED') && { released_at: now }),
    })
    .where('id', 'in', ids)
    .execute()
}

export async function findReservation(db: Db, id: string): Promise<Reservation | null> {
  const row = await db.selectFrom('inventory_reservations').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? reservationOf(row) : null
}

export async function hasActiveReservations(tx: Db, productId: string): Promise<boolean> {
  const row = await tx.selectFrom('inventory_reservations').select('id').where('product_id', '=', productId).where('status', '=', 'RESERVED').limit(1).executeTakeFirst()
  return row !== undefined
}

export const reservationSortColumns = { createdAt: 'created_at', expiresAt: 'expires_at', reservedAt: 'reserved_at', quantity: 'quantity' } as const
export type ReservationSort = keyof typeof reservationSortColumns

export async function listReservations(
  db: Db,
  q: { page: number; size: number; status?: ReservationStatus; orderId?: string; productId?: string; sort: ReservationSort; dir: 'asc' | 'desc' },
) {
  let query = db.selectFrom('inventory_reservations')
  if (q.status) query = query.where('status', '=', q.status)
  if (q.orderId) query = query.where('order_id', '=', q.orderId)
  if (q.productId) query = query.where('product_id', '=', q.productId)
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy(reservationSortColumns[q.sort], q.dir).orderBy('id').limit(q.size).offset(q.page * q.size).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ])
  return { reservations: rows.map(reservationOf), total: Number(total.n) }
}

/** RESERVED and past their expiry, not yet swept. */
export async function overdueReservations(db: Db, now: Date, limit: number): Promise<Reservation[]> {
  const rows = await db.selectFrom('inventory_reservations').selectAll().where('status', '=', 'RESERVED').where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute()
  return rows.map(reservationOf)
}

/** Orders with a RESERVED line past its expiry, oldest first (candidates for the sweeper; locked one by one). */
export async function overdueOrderIds(db: Db, now: Date, limit: number): Promise<string[]> {
  const r = await sql<{ order_id: string }>`
    SELECT order_id FROM inventory_reservations WHERE status = 'RESERVED' AND expires_at <= ${now}
    GROUP BY order_id ORDER BY min(expires_at) LIMIT ${limit}`.execute(db)
  return r.rows.map((x) => x.order_id)
}

export async function reservationStats(db: Db, now: Date) {
  const r = await sql<Record<string, number>>`
    SELECT count(*)::int AS "totalReservations",
           count(*) FILTER (WHERE status = 'RESERVED')::int AS "activeReservations",
           count(*) FILTER (WHERE status = 'RESERVED' AND expires_at <= ${now})::int AS "overdueReservations",
           count(*) FILTER (WHERE status = 'EXPIRED')::int AS "expiredReservations",
           count(*) FILTER (WHERE status = 'RELEASED')::int AS "releasedReservations",
           count(*) FILTER (WHERE status = 'COMMITTED')::int AS "committedReservations",
           coalesce(sum(quantity) FILTER (WHERE status = 'RESERVED'), 0)::int AS "reservedQuantity"
    FROM inventory_reservations`.execute(db)
  return r.rows[0] as Record<
    'totalReservations' | 'activeReservations' | 'overdueReservations' | 'expiredReservations' | 'releasedReservations' | 'committedReservations' | 'reservedQuantity',
    number
  >
}
