// Committed changes of orders, from either source — the raw CDC topic (debezium strategy) or the ORDER_* domain
// events (outbox strategy) — applied to the order cache (a tombstone with the row's version) and the live feed.
import type { Logger } from 'pino'
import type { AnyMessage } from '@trackops/contracts'
import type { RowChange } from '@trackops/messaging'
import { observeInvalidationLag, type EntityCache } from '@trackops/cache'
import { isOrderStatus, type OrderStatus } from './order.ts'
import type { CachedOrder } from './order-cache.ts'

/** One committed change of an order, from either source. status is null when unknown (a deleted row). */
export interface OrderChange {
  orderId: string
  version: number
  status: OrderStatus | null
  /** Commit time (Debezium source.ts_ms) or, for domain events, the time the change was made (ms). */
  committedAt: number
  /** A snapshot read or a deletion, not a status change to announce. */
  silent: boolean
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null)
const integer = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : null)

/** A Debezium record of trackops_orders.public.orders → the change; null when it names no order. */
export function orderChangeOfRow(change: RowChange): OrderChange | null {
  if (change.op === 'd') {
    // Without REPLICA IDENTITY FULL a delete carries only the key. Order ids are never reused, so a tombstone
    // above any version keeps the deleted order out of the cache until it expires.
    const orderId = text(change.before?.id)
    const version = integer(change.before?.version)
    return orderId ? { orderId, version: version === null ? Number.MAX_SAFE_INTEGER : version + 1, status: null, committedAt: change.committedAt, silent: true } : null
  }
  const orderId = text(change.after?.id)
  const version = integer(change.after?.version)
  if (!orderId || version === null) return null
  const status = change.after?.status
  return { orderId, version, status: isOrderStatus(status) ? status : null, committedAt: change.committedAt, silent: change.op === 'r' }
}

/** An ORDER_* event of orders.events (outbox strategy) → the change; null for any other message. */
export function orderChangeOfEvent(message: AnyMessage): OrderChange | null {
  const committedAt = Date.parse(message.occurredAt)
  const change = (orderId: string, version: number, status: OrderStatus | null) => ({ orderId, version, status, committedAt: Number.isNaN(committedAt) ? Date.now() : committedAt, silent: false })
  switch (message.type) {
    case 'ORDER_CREATED':
      return change(message.data.orderId, message.data.version, 'PENDING')
    case 'ORDER_STATUS_UPDATED':
      return change(message.data.orderId, message.data.version, message.data.newStatus as OrderStatus)
    case 'ORDER_CANCELLED':
      return change(message.data.orderId, message.data.version, 'CANCELLED')
    case 'ORDER_DELIVERED':
      return change(message.data.orderId, message.data.version, 'DELIVERED')
    default:
      return null
  }
}

const MAX_ANNOUNCING = 10_000
/**
 * Changes older than this are not announced: they are history, not live updates. A consumer group that starts
 * from the beginning of its topic (the first deployment, a strategy switch) would otherwise replay every past
 * change to every connected client. Clients always start from (and resync to) the current state anyway.
 */
const LIVE_MAX_AGE_MS = 10 * 60_000

/**
 * Applies one committed change: a tombstone with its version (a late or repeated change is refused by the fence),
 * then the live feed. Idempotent, so the at-least-once delivery of either source is harmless.
 *
 * Records of a partition are applied one after another, so the announcement (a history read and two Redis calls)
 * does not hold up the invalidations behind it: announcements run in order per order, beside the stream, and
 * only a backlog of MAX_ANNOUNCING orders makes the stream wait. An announcement that fails is logged and lost
 * for live listeners only (the change is in the database; a reconnecting client gets the current state).
 */
export function createOrderChangeHandler(deps: { cache: EntityCache<CachedOrder>; live?: { publishChange(change: OrderChange): Promise<unknown> }; logger?: Logger }) {
  const announcing = new Map<string, Promise<void>>()
  function announce(change: OrderChange): Promise<void> {
    const live = deps.live as NonNullable<typeof deps.live>
    const next = (announcing.get(change.orderId) ?? Promise.resolve())
      .then(() => live.publishChange(change))
      .then(
        () => undefined,
        (error: unknown) => deps.logger?.warn({ err: error, orderId: change.orderId, version: change.version }, 'live update not announced'),
      )
      .finally(() => {
        if (announcing.get(change.orderId) === next) announcing.delete(change.orderId)
      })
    announcing.set(change.orderId, next)
    return next
  }
  return Object.assign(
    async (change: OrderChange): Promise<void> => {
      const outcome = await deps.cache.invalidate(change.orderId, change.version)
      observeInvalidationLag(deps.cache.name, change.committedAt, outcome)
      if (!deps.live || change.silent || !change.status || Date.now() - change.committedAt > LIVE_MAX_AGE_MS) return
      const announced = announce(change)
      if (announcing.size > MAX_ANNOUNCING) await announced
    },
    {
      /** Resolves once every announcement under way is done (tests, shutdown). */
      drain: async () => {
        while (announcing.size > 0) await Promise.all([...announcing.values()])
      },
    },
  )
}
