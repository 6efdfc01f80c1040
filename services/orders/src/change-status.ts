// Status changes. applyStatusChange is the one place an order's status changes, for every caller (HTTP,
// saga replies, timeouts): row lock, pure state machine, versioned update, history row and outbox messages,
// all in the caller's transaction.
import { AppError } from '@trackops/http'
import type { MessageData } from '@trackops/contracts'
import { enqueue, newMessage, type MessageContext, type Tx } from '@trackops/messaging'
import { decideTransition, type Order, type OrderStatus } from './order.ts'
import { insertHistory, lockOrder, updateOrderStatus, type Db } from './order-store.ts'

export type ChangeCause = 'customer' | 'operator' | 'saga' | 'timeout' | 'system'

/**
 * Who cancelled an order, as its representation says (cancelledBy): the subject of the customer or operator who
 * asked, `saga` when the saga cancelled it on its own (a reservation or payment failed, a step timed out), `system`
 * for anything else without a person behind it.
 */
export function cancelledByOf(cause: ChangeCause, actor: string | undefined): string {
  if (actor) return actor
  switch (cause) {
    case 'saga':
    case 'timeout':
      return 'saga'
    case 'system':
      return 'system'
    case 'customer':
    case 'operator':
      return cause
  }
}

export type StatusChangeResult =
  | { outcome: 'changed' | 'unchanged'; order: Order }
  | { outcome: 'not-found' }
  | { outcome: 'invalid-transition'; from: OrderStatus }

/** Idempotent: asking for the status the order already has writes nothing and answers 'unchanged'. */
export async function applyStatusChange(
  tx: Tx,
  input: { orderId: string; to: OrderStatus; cause: ChangeCause; reason?: string; actor?: string; ctx: MessageContext; now: Date },
): Promise<StatusChangeResult> {
  const order = await lockOrder(tx, input.orderId)
  if (!order) return { outcome: 'not-found' }
  const decision = decideTransition(order.status, input.to)
  switch (decision.kind) {
    case 'same':
      return { outcome: 'unchanged', order }
    case 'refused':
      return { outcome: 'invalid-transition', from: order.status }
    case 'allowed':
      break
  }
  const cancellation = input.to === 'CANCELLED' ? { reason: input.reason ?? 'cancelled', by: cancelledByOf(input.cause, input.actor) } : undefined
  const updated = await updateOrderStatus(tx, { id: order.id, expectedVersion: order.version, status: input.to, now: input.now, ...(cancellation ? { cancellation } : {}) })
  // The row is locked: a version mismatch here means something bypassed the lock, which must never happen.
  if (!updated) throw new Error(`order ${order.id} changed under its row lock`)
  const changed: Order = {
    ...order,
    status: input.to,
    ...(cancellation ? { cancellationReason: cancellation.reason, cancelledBy: cancellation.by } : {}),
    version: updated.version,
    updatedAt: updated.updatedAt,
  }
  await insertHistory(tx, {
    orderId: order.id,
    from: order.status,
    to: input.to,
    cause: input.cause,
    reason: input.reason ?? null,
    actor: input.actor ?? null,
    correlationId: input.ctx.correlationId,
    orderVersion: changed.version,
    at: input.now,
  })
  const base = { orderId: order.id, version: changed.version }
  // The casts work around @trackops/contracts typing its status/cause unions as `never` (Type.Union over a
  // mapped array); the runtime schemas are right and newMessage validates against them.
  const updatedData = { ...base, previousStatus: order.status, newStatus: input.to, cause: input.cause } as MessageData<'ORDER_STATUS_UPDATED'>
  await enqueue(tx, newMessage('ORDER_STATUS_UPDATED', updatedData, input.ctx, input.now))
  if (input.to === 'CANCELLED') {
    const cancelledData = { ...base, previousStatus: order.status, reason: input.reason ?? 'cancelled', cause: input.cause } as MessageData<'ORDER_CANCELLED'>
    await enqueue(tx, newMessage('ORDER_CANCELLED', cancelledData, input.ctx, input.now))
  }
  if (input.to === 'DELIVERED') await enqueue(tx, newMessage('ORDER_DELIVERED', base, input.ctx, input.now))
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
    if (input.expectedVersion !== undefined) {
      const current = await lockOrder(tx, input.orderId)
      if (current && current.version !== input.expectedVersion) {
        throw new AppError('order.conflict', `The order changed since version ${input.expectedVersion}: it is now ${current.status} at version ${current.version}. Read it again before changing it.`)
      }
    }
    const result = await applyStatusChange(tx, { ...input, now: deps.now() })
    switch (result.outcome) {
      case 'not-found':
        throw orderNotFound(input.orderId)
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
