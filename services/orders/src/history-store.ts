// SQL for an order's history: one row per status change, written in the transaction of the change.
import type { Selectable } from 'kysely'
import type { ChangeCause, OrderStatus } from './order.ts'
import type { Db, OrderHistoryTable } from './order-store.ts'
import { heldWrites } from './held-writes.ts'

export interface HistoryEntry {
  orderId: string
  from: OrderStatus | null
  to: OrderStatus
  cause: ChangeCause
  reason: string | null
  actor: string | null
  correlationId: string
  orderVersion: number
  at: Date
}

export async function insertHistory(tx: Db, e: HistoryEntry): Promise<void> {
  const row = {
    order_id: e.orderId,
    from_status: e.from,
    to_status: e.to,
    cause: e.cause,
    reason: e.reason,
    actor: e.actor,
    correlation_id: e.correlationId,
    order_version: e.orderVersion,
    occurred_at: e.at,
  }
  const held = heldWrites(tx)
  if (held) held.history(row)
  else await tx.insertInto('order_history').values(row).execute()
}

const historyEntryOf = (r: Selectable<OrderHistoryTable>): HistoryEntry => ({
  orderId: r.order_id,
  from: r.from_status,
  to: r.to_status,
  cause: r.cause,
  reason: r.reason,
  actor: r.actor,
  correlationId: r.correlation_id,
  orderVersion: Number(r.order_version),
  at: r.occurred_at,
})

export async function listHistory(db: Db, orderId: string): Promise<HistoryEntry[]> {
  const rows = await db.selectFrom('order_history').selectAll().where('order_id', '=', orderId).orderBy('id').execute()
  return rows.map(historyEntryOf)
}

/** The entry written with this version of the order, or, without a version, the latest one; null if none. */
export async function findHistoryEntry(db: Db, orderId: string, version?: number): Promise<HistoryEntry | null> {
  let q = db.selectFrom('order_history').selectAll().where('order_id', '=', orderId)
  if (version !== undefined) q = q.where('order_version', '=', version)
  const row = await q.orderBy('id', 'desc').limit(1).executeTakeFirst()
  return row ? historyEntryOf(row) : null
}
