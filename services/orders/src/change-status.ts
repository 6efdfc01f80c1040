// Status changes. applyStatusChange is the one place an order's status changes, for every caller (HTTP,
// saga replies, timeouts): pure state machine, versioned update, history row and outbox messages, all in the
// caller's transaction, on the order row the caller has locked (lockOrder) — so a use case reads it once.
import client from 'prom-client'
import { AppError } from '@trackops/http'
import type { MessageData } from '@trackops/contracts'
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { cancelledByOf, decideTransition, type ChangeCause, type Order, type OrderStatus } from './order.ts'
import { lockOrder, updateOrderStatus, type Db } from './order-store.ts'
import { insertHistory } from './history-store.ts'

// Counted in the transaction of the change, like the saga's outcomes: a rolled-back batch that is retried counts twice.
const statusChanges =
  (client.register.getSingleMetric('trackops_order_status_changes_total') as client.Counter | undefined) ??
  new client.Counter({ name: 'trackops_order_status_changes_total', help: 'Order status changes, by the status entered (placing an order is trackops_orders_placed_total).', labelNames: ['status'] })

export type StatusChangeResult = { outcome: 'changed' | 'unchanged'; order: Order } | { outcome: 'invalid-transition'; from: OrderStatus }

export interface StatusChange {
  to: OrderStatus
  cause: ChangeCause
  reason?: string
  actor?: string
  ctx: MessageContext
  now: Date
}

/** Idempotent: asking for the status the order already has writes nothing and answers 'unchanged'. `order` is locked by the caller. */
export async function applyStatusChange(tx: Db, order: Order, change: StatusChange): Promise<StatusChangeResult> {
  const decision = decideTransition(order.status, change.to)
  switch (decision.kind) {
    case 'same':
      return { outcome: 'unchanged', order }
    case 'refused':
      return { outcome: 'invalid-transition', from: order.status }
    case 'allowed':
      break
  }
  const cancellation = change.to === 'CANCELLED' ? { reason: change.reason ?? 'cancelled', by: cancelledByOf(change.cause, change.actor) } : undefined
  const updated = await updateOrderStatus(tx, { id: order.id, expectedVersion: order.version, status: change.to, now: change.now, ...(cancellation ? { cancellation } : {}) })
  // The row is locked: a version mismatch here means something bypassed the lock, which must never happen.
  if (!updated) throw new Error(`order ${order.id} changed under its row lock`)
  const changed: Order = {
    ...order,
    status: change.to,
    ...(cancellation ? { cancellationReason: cancellation.reason, cancelledBy: cancellation.by } : {}),
    version: updated.version,
    updatedAt: updated.updatedAt,
  }
  await insertHistory(tx, {
    orderId: order.id,
    from: order.status,
    to: change.to,
    cause: change.cause,
    reason: change.reason ?? null,
    actor: change.actor ?? null,
    correlationId: change.ctx.correlationId,
    orderVersion: changed.version,
    at: change.now,
  })
  statusChanges.inc({ status: change.to })
  const base = { orderId: order.id, version: changed.version }
  // The casts work around @trackops/contracts typing its status/cause unions as `never` (Type.Union over a
  // mapped array); the runtime schemas are right and newMessage validates against them.
  const updatedData = { ...base, previousStatus: order.status, newStatus: change.to, cause: change.cause } as MessageData<'ORDER_STATUS_UPDATED'>
  await enqueue(tx, newMessage('ORDER_STATUS_UPDATED', updatedData, change.ctx, change.now))
  if (change.to === 'CANCELLED') {
    const cancelledData = { ...base, previousStatus: order.status, reason: change.reason ?? 'cancelled', cause: change.cause } as MessageData<'ORDER_CANCELLED'>
    await enqueue(tx, newMessage('ORDER_CANCELLED', cancelledData, change.ctx, change.now))
  }
  if (change.to === 'DELIVERED') await enqueue(tx, newMessage('ORDER_DELIVERED', base, change.ctx, change.now))
  return { outcome: 'changed', order: changed }
}

/**
 * An operator's status change (PUT /status and the confirm/process/ship/deliver shortcuts). With
 * `expectedVersion` (If-Match) the change applies only to the version the caller saw; otherwise the row lock
 * serialises concurrent changes and the state machine judges each against the status it finds.
 */
export async function changeStatus(
  deps: { db: Db; now: () => Date },
  input: { orderId: string; to: OrderStatus; expectedVersion?: number; cause: ChangeCause; reason?: string; actor?: string; ctx: MessageContext },
): Promise<{ order: Order; changed: boolean }> {
  return deps.db.transaction().execute(async (tx) => {
    const current = await lockOrder(tx, input.orderId)
    if (!current) throw orderNotFound(input.orderId)
    if (input.expectedVersion !== undefined && current.version !== input.expectedVersion) {
      throw new AppError('order.conflict', `The order changed since version ${input.expectedVersion}: it is now ${current.status} at version ${current.version}. Read it again before changing it.`)
    }
    const result = await applyStatusChange(tx, current, { ...input, now: deps.now() })
    switch (result.outcome) {
      case 'invalid-transition': {
        const decision = decideTransition(result.from, input.to)
        throw new AppError('order.invalid-transition', decision.kind === 'refused' ? decision.reason : `${result.from} → ${input.to} is not allowed.`)
      }
      case 'changed':
      case 'unchanged':
        return { order: result.order, changed: result.outcome === 'changed' }
    }
  })
}

export const orderNotFound = (id: string) => new AppError('order.not-found', `Order ${id} was not found.`)
