// Commands from the saga on inventory.commands (consumer group inventory-commands). Each runs inside the
// runner's transaction that also records the message id in the inbox, so a redelivered message is skipped;
// a different message for the same order is made harmless by the use cases themselves (once per order).
import { answerPathProbe, inRecordSpan, PermanentError, type BatchHandler, type MessageHandler } from '@trackops/messaging'
import { reserveStock, type ReserveDeps } from './reserve-stock.ts'
import { releaseStock } from './release-stock.ts'
import { commitReservation } from './commit-reservation.ts'
import { inventoryMetrics } from './metrics.ts'
import { holdStock, lockItems, writeHeldStock } from './item-store.ts'
import type { InventoryDb } from './inventory-db.ts'

export const commandsGroup = 'inventory-commands'

export function createCommandHandler(deps: ReserveDeps): MessageHandler<InventoryDb> {
  return async (tx, message, ctx) => {
    switch (message.type) {
      case 'RESERVE_INVENTORY': {
        const { orderId, sagaId, items } = message.data
        const r = await reserveStock(tx, deps, { orderId, sagaId, requestedBy: null, items }, ctx)
        inventoryMetrics.reservations.inc({ outcome: r.replayed ? 'REPLAYED' : r.outcome, source: 'saga' })
        if (r.outcome === 'FAILED') ctx.log.debug({ orderId, failedItems: r.failedItems, replayed: r.replayed }, 'reservation failed')
        else ctx.log.debug({ orderId, lines: r.reservations.length, replayed: r.replayed }, 'stock reserved')
        return
      }
      case 'RELEASE_INVENTORY': {
        const { orderId, sagaId, reason } = message.data
        const r = await releaseStock(tx, deps, { orderId, sagaId, reason }, ctx)
        for (const l of r.released) inventoryMetrics.released.inc({ kind: 'reserved' }, l.quantity)
        for (const l of r.restocked) inventoryMetrics.released.inc({ kind: 'restocked' }, l.quantity)
        ctx.log.debug({ orderId, released: r.released, restocked: r.restocked, reason }, 'stock released')
        return
      }
      case 'COMMIT_RESERVATION': {
        const { orderId } = message.data
        const r = await commitReservation(tx, deps, orderId)
        inventoryMetrics.commits.inc({ outcome: r.outcome })
        if (r.outcome === 'COMMITTED') ctx.log.debug({ orderId, lines: r.reservations.length }, 'reservation committed')
        else if (r.outcome === 'ALREADY_COMMITTED') ctx.log.debug({ orderId }, 'reservation already committed')
        else ctx.log.warn({ orderId, outcome: r.outcome, reason: r.outcome === 'REFUSED' ? r.reason : 'no reservation for this order' }, 'commit refused; stock unchanged')
        return
      }
      case 'PATH_PROBE':
        // The order service checking that its commands reach us and our answers reach it (its saga deadlines hold while they do not).
        return answerPathProbe(tx, message, 'inventory', ctx, deps.now())
      default:
        throw new PermanentError(`${commandsGroup} does not handle ${message.type} messages`)
    }
  }
}

/**
 * A batch of commands in one transaction: the products its reservations ask for are locked up front in one statement
 * (in product order), every command is applied in turn against the stock the ones before it left in memory, and each
 * product's movements are written at the end in one row update — one statement for the batch. A flash sale (every
 * order on one product) then costs one update of that row per batch, not one per order.
 */
export function createCommandBatchHandler(deps: ReserveDeps): BatchHandler<InventoryDb> {
  const handle = createCommandHandler(deps)
  return async (tx, items) => {
    holdStock(tx)
    await lockItems(tx, items.flatMap(({ message }) => (message.type === 'RESERVE_INVENTORY' ? message.data.items.map((i) => i.productId) : [])))
    for (const item of items) await inRecordSpan(item, () => handle(tx, item.message, item.ctx))
    await writeHeldStock(tx)
  }
}
