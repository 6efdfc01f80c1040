// The order saga's application layer, built once per process (main.ts) from its dependencies and handed to
// whoever needs it: place-order starts sagas, cancel-order cancels through them, the reply handler and the
// sweeper advance them, the saga routes read and operate them. Every change runs the pure transition (saga.ts),
// then persists the saga, enqueues its commands and changes the order, all in the caller's transaction. Replies
// run inside the consumer runner's transaction that also inserts the inbox row, so a crash anywhere redoes all
// of it or none of it; a redelivered reply is deduplicated by the inbox and a re-sent one (new id) is judged by
// the saga's state. Lock order of every writer: the order row, then the saga row.
import type { Logger } from 'pino'
import type { AnyMessage, MessageOf } from '@trackops/contracts'
import { AppError } from '@trackops/http'
import { enqueue, newMessage, type HandlerContext, type MessageContext } from '@trackops/messaging'
import type { ChangeCause, Order } from '../order.ts'
import { lockOrder, lockOrderRow, lockOrders, type Db } from '../order-store.ts'
import { applyStatusChange } from '../change-status.ts'
import { advance, defaultMaxCompensationAttempts, isSagaReply, openSaga, type Saga, type SagaConfig, type SagaEvent, type SagaStart, type SagaStatus, type Transition } from './saga.ts'
import { findSaga, insertSaga, listSagasByStatus, lockSaga, lockSagasOfOrders, orderIdOfSaga, updateSaga, type SagaKey } from './store.ts'
import { defaultPathSettings, type PathSettings } from './messaging-path.ts'
import { messagingPathComponent, pathProbes, recordProbeAck } from './probe-paths.ts'
import { createSagaSweeper } from './sweeper.ts'
import { sagaMetrics } from './metrics.ts'

/** pino's or Fastify's logger. */
export type SagaLog = Pick<Logger, 'error' | 'warn' | 'info' | 'debug'>

export interface SagaDeps {
  db: Db
  logger: Logger
  now: () => Date
  newId: () => string
  /** The one source of every step's timeout. */
  stepTimeoutSeconds: number
  maxCompensationAttempts?: number
  paths?: PathSettings
}

export type OrderChangeResult = 'changed' | 'unchanged' | 'not-found' | 'invalid-transition' | 'none'

/** What persisting a transition needs besides the transition itself. */
export interface Commit {
  tx: Db
  /** The saga as read (and locked) before the transition. */
  before: Saga
  ctx: MessageContext
  now: Date
  log: SagaLog
  /** The order row, when the caller already holds its lock and has read it; read under the lock otherwise. */
  order?: Order
}

/** The orders (by id) and their sagas (by order id) of a batch of replies, locked by `lockForReplies`. */
export interface LockedForReplies {
  orders: Map<string, Order>
  sagas: Map<string, Saga>
}

export type CancelOutcome = 'compensating' | 'cancelled' | 'already-cancelled' | 'not-cancellable'

export type OrderSaga = ReturnType<typeof createSaga>

export function createSaga(deps: SagaDeps) {
  const config: SagaConfig = { stepTimeoutSeconds: deps.stepTimeoutSeconds, maxCompensationAttempts: deps.maxCompensationAttempts ?? defaultMaxCompensationAttempts }
  const paths = deps.paths ?? defaultPathSettings
  const { db, logger } = deps

  /**
   * Persists an applied transition: the saga row and steps, its commands in the outbox, then the order change.
   * When confirming finds the order already cancelled (by a path that bypassed the saga), the charge and the
   * reservation are compensated instead of being left behind.
   */
  async function commitTransition(t: Transition, c: Commit): Promise<{ saga: Saga; order: Order | null; orderChange: OrderChangeResult }> {
    if (t.effect !== 'applied') return { saga: c.before, order: c.order ?? null, orderChange: 'none' }
    const version = await updateSaga(c.tx, c.before, t.saga)
    const saga = { ...t.saga, version }
    for (const command of t.commands) await enqueue(c.tx, newMessage(command.type, command.data, c.ctx, c.now))
    observe(c.before, t, c.now)
    if (t.alert) c.log.error({ sagaId: saga.id, orderId: saga.orderId, step: saga.currentStep, attempts: saga.compensationAttempts, alert: t.alert }, `saga needs an operator: ${t.alert}`)
    if (!t.orderChange) return { saga, order: c.order ?? null, orderChange: 'none' }

    const change = t.orderChange
    const order = c.order ?? (await lockOrder(c.tx, saga.orderId))
    const result = order
      ? await applyStatusChange(c.tx, order, {
          to: change.to,
          cause: change.cause,
          ...(change.to === 'CANCELLED' ? { reason: change.reason, ...(change.actor ? { actor: change.actor } : {}) } : {}),
          ctx: c.ctx,
          now: c.now,
        })
      : ({ outcome: 'not-found' } as const)
    const current = 'order' in result ? result.order : order
    if (change.to === 'CONFIRMED' && (result.outcome === 'not-found' || (result.outcome === 'invalid-transition' && result.from === 'CANCELLED'))) {
      c.log.warn({ sagaId: saga.id, orderId: saga.orderId, outcome: result.outcome }, 'payment processed for an order that is gone or cancelled: compensating')
      const undo = advance(saga, { kind: 'cancel', reason: 'the order was cancelled before its payment completed', cause: 'system' }, c.now, config)
      const after = await commitTransition(undo, { ...c, before: saga, ...(current ? { order: current } : {}) })
      return { saga: after.saga, order: after.order, orderChange: result.outcome }
    }
    if (result.outcome === 'not-found' || result.outcome === 'invalid-transition') {
      c.log.error({ sagaId: saga.id, orderId: saga.orderId, to: change.to, outcome: result.outcome, from: 'from' in result ? result.from : undefined }, 'saga could not change the order status')
    }
    return { saga, order: current, orderChange: result.outcome }
  }

  /**
   * Locks the order row, then the saga row, and applies one event. Returns null when there is no such saga (or
   * the saga id and order id disagree). An ignored or rejected event writes nothing. With `locked` (a batch of
   * replies, locked and read up front) the order and saga come from there, and their new state goes back there.
   */
  async function applyEvent(tx: Db, target: { sagaId?: string; orderId?: string }, event: SagaEvent, c: { ctx: MessageContext; now: Date; log: SagaLog }, locked?: LockedForReplies) {
    const held = target.orderId ? locked?.orders.get(target.orderId) : undefined
    let before: Saga | null
    if (held) {
      before = locked?.sagas.get(held.id) ?? null
    } else {
      let orderId = target.orderId
      if (target.sagaId) {
        const ofSaga = await orderIdOfSaga(tx, target.sagaId)
        if (!ofSaga || (orderId && ofSaga !== orderId)) return null
        orderId = ofSaga
      }
      if (!orderId) return null
      await lockOrderRow(tx, orderId)
      before = await lockSaga(tx, { orderId })
    }
    if (!before || (target.sagaId && before.id !== target.sagaId)) return null
    const transition = advance(before, event, c.now, config)
    const after = await commitTransition(transition, { tx, before, ...c, ...(held ? { order: held } : {}) })
    if (held && locked) {
      locked.sagas.set(held.id, after.saga)
      if (after.order) locked.orders.set(held.id, after.order)
    }
    return { before, transition, ...after }
  }

  return {
    config,
    paths,

    /** Starts the saga of a new order in the transaction that inserts it: the first command commits with the order. */
    async start(tx: Db, input: Omit<SagaStart, 'correlationId'>, ctx: MessageContext, now: Date): Promise<void> {
      const t = openSaga({ ...input, correlationId: ctx.correlationId }, deps.newId(), now, config)
      await insertSaga(tx, t.saga)
      for (const command of t.commands) await enqueue(tx, newMessage(command.type, command.data, ctx, now))
    },

    /**
     * Cancels an order through its saga; `order` is locked and read by the caller. 'compensating': undo commands
     * were enqueued (or are already under way) and the order becomes CANCELLED when they are answered.
     * 'cancelled': nothing was held, the order is CANCELLED now. Returns the order as it is now.
     */
    async cancel(tx: Db, order: Order, input: { reason: string; cause: ChangeCause; actor?: string | undefined }, ctx: MessageContext, now: Date): Promise<{ outcome: CancelOutcome; order: Order }> {
      if (order.status === 'CANCELLED') return { outcome: 'already-cancelled', order }
      if (order.status === 'DELIVERED') return { outcome: 'not-cancellable', order }
      const why = { reason: input.reason, ...(input.actor ? { actor: input.actor } : {}) }
      const before = await lockSaga(tx, { orderId: order.id })
      if (before) {
        const after = await commitTransition(advance(before, { kind: 'cancel', cause: input.cause, ...why }, now, config), { tx, before, ctx, now, log: logger, order })
        const current = after.order ?? order
        if (after.saga.status === 'COMPENSATING' || after.saga.status === 'COMPENSATION_FAILED') return { outcome: 'compensating', order: current }
        if (after.orderChange === 'changed') return { outcome: 'cancelled', order: current }
        if (after.orderChange === 'unchanged') return { outcome: 'already-cancelled', order: current }
      }
      // No saga, or one with nothing left to undo: the order is cancelled at once.
      const result = await applyStatusChange(tx, order, { to: 'CANCELLED', cause: input.cause, ...why, ctx, now })
      switch (result.outcome) {
        case 'changed':
          return { outcome: 'cancelled', order: result.order }
        case 'unchanged':
          return { outcome: 'already-cancelled', order: result.order }
        case 'invalid-transition':
          return { outcome: 'not-cancellable', order }
      }
    },

    /**
     * Locks the orders a batch of replies is about (in id order), then their sagas, and reads them in four
     * statements, instead of three or four per reply: hand the result to each `handleReply` of the batch.
     */
    async lockForReplies(tx: Db, orderIds: string[]): Promise<LockedForReplies> {
      const orders = await lockOrders(tx, orderIds)
      return { orders, sagas: await lockSagasOfOrders(tx, [...orders.keys()]) }
    },

    /** A reply from inventory or payments. Other message types are not the saga's business and are ignored. */
    async handleReply(tx: Db, message: AnyMessage, ctx: HandlerContext, locked?: LockedForReplies): Promise<void> {
      if (!isSagaReply(message)) return
      const data = message.data as { orderId: string; sagaId?: string }
      const applied = await applyEvent(tx, { sagaId: data.sagaId, orderId: data.orderId }, { kind: 'reply', message }, { ctx, now: deps.now(), log: ctx.log }, locked)
      if (!applied) {
        ctx.log.warn({ orderId: data.orderId, sagaId: data.sagaId, type: message.type }, 'saga reply for an unknown saga ignored')
        return
      }
      const { transition: t, saga } = applied
      ctx.log.debug({ sagaId: saga.id, orderId: saga.orderId, type: message.type, effect: t.effect, status: saga.status, step: saga.currentStep }, `saga: ${t.note}`)
    },

    /** PATH_PROBE_ACK, in the saga consumer's transaction. */
    recordProbeAck: (tx: Db, message: MessageOf<'PATH_PROBE_ACK'>) => recordProbeAck(tx, message, deps.now()),

    /** An operator's event (retry, forced compensation) in its own transaction; 409 when the saga's state gives it no meaning. */
    async operate(sagaId: string, event: Extract<SagaEvent, { kind: 'retry' | 'compensate' }>, c: { ctx: MessageContext; log: SagaLog }): Promise<{ saga: Saga; note: string }> {
      const action = event.kind
      return db.transaction().execute(async (tx) => {
        const r = await applyEvent(tx, { sagaId }, event, { ...c, now: deps.now() })
        if (!r) throw sagaNotFound(`with id ${sagaId}`)
        if (r.transition.effect !== 'applied') throw new AppError('saga.conflict', `Cannot ${action} this saga: ${r.transition.note}.`)
        return { saga: r.saga, note: r.transition.note }
      })
    },

    find: (key: SagaKey) => findSaga(db, key),
    listByStatus: (status: SagaStatus, page: number, size: number) => listSagasByStatus(db, status, page, size),

    /** Deadlines: a sweeper over this saga (several may run side by side, in one process or many). */
    createSweeper: () => createSagaSweeper({ db, logger, now: deps.now, paths, deadline: (tx, before, outage, now) => {
      const t = advance(before, { kind: 'deadline', outage }, now, config)
      return t.effect === 'applied' ? commitTransition(t, { tx, before, ctx: { correlationId: before.correlationId }, now, log: logger.child({ component: 'saga-sweeper' }) }).then(() => t) : Promise.resolve(t)
    } }),

    /** The periodic job that probes the messaging path to each participant. */
    probeJob: () => pathProbes({ db, settings: paths, now: deps.now, newId: deps.newId }),
    /** The `messagingPath` health component. */
    pathHealth: () => messagingPathComponent(db, paths, deps.now),
  }
}

export const sagaNotFound = (what: string) => new AppError('saga.not-found', `No saga ${what}.`)

function observe(before: Saga, t: Transition, now: Date) {
  for (const step of t.saga.steps) {
    const old = before.steps.find((s) => s.name === step.name)
    const finished = step.completedAt && (!old?.completedAt || old.completedAt.getTime() !== step.completedAt.getTime())
    if (finished && step.status === 'COMPLETED' && step.completedAt) {
      sagaMetrics.stepSeconds.observe({ step: step.name }, Math.max(0, step.completedAt.getTime() - step.startedAt.getTime()) / 1000)
    }
  }
  if (t.outcome) {
    sagaMetrics.outcomes.inc({ outcome: t.outcome })
    sagaMetrics.sagaSeconds.observe({ outcome: t.outcome }, Math.max(0, now.getTime() - t.saga.createdAt.getTime()) / 1000)
    if (t.outcome === 'compensation_failed') sagaMetrics.compensationFailed.inc()
  }
}
