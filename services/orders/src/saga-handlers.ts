// The saga's I/O around the pure transition (saga.ts): lock, decide, persist the saga, enqueue its commands and
// change the order, all in the caller's transaction. Replies run inside the consumer runner's transaction that
// also inserts the inbox row, so a crash anywhere redoes all of it or none of it; a redelivered reply is
// deduplicated by the inbox and a re-sent one (new id) is judged by the saga's state.
import { randomUUID } from 'node:crypto'
import client from 'prom-client'
import type { Logger } from 'pino'
import type { AnyMessage } from '@trackops/contracts'
import { enqueue, newMessage, type HandlerContext, type MessageContext, type Tx } from '@trackops/messaging'
import { advance, defaultMaxCompensationAttempts, isSagaReply, openSaga, type Saga, type SagaConfig, type SagaEvent, type Transition } from './saga.ts'
import { insertSaga, lockSaga, orderIdOfSaga, updateSaga } from './saga-store.ts'
import { applyStatusChange, orderNotFound, type ChangeCause } from './change-status.ts'
import { lockOrder, lockOrderRow } from './order-store.ts'

// --- metrics --------------------------------------------------------------------------------------------------------

const counter = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })
const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
  (client.register.getSingleMetric(name) as client.Histogram | undefined) ?? new client.Histogram({ name, help, labelNames, buckets })

const slow = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600]

export const sagaMetrics = {
  outcomes: counter('trackops_saga_outcomes_total', 'Sagas reaching an outcome: completed, compensated, compensation_failed.', ['outcome']),
  compensationFailed: counter('trackops_saga_compensation_failed_total', 'Compensations that exhausted their attempts; the saga waits for an operator (POST /api/sagas/{id}/retry).', []),
  stepSeconds: histogram('trackops_saga_step_duration_seconds', 'From a saga step\'s command to its reply.', ['step'], slow),
  sagaSeconds: histogram('trackops_saga_duration_seconds', 'From the start of a saga to its outcome.', ['outcome'], slow),
}

// --- shared plumbing ------------------------------------------------------------------------------------------------

/** pino's or Fastify's logger. */
export type SagaLog = Pick<Logger, 'error' | 'warn' | 'info' | 'debug'>

export type SagaDeps = { stepTimeoutSeconds: number; maxCompensationAttempts?: number }
export const sagaConfig = (deps: SagaDeps): SagaConfig => ({
  stepTimeoutSeconds: deps.stepTimeoutSeconds,
  maxCompensationAttempts: deps.maxCompensationAttempts ?? defaultMaxCompensationAttempts,
})

export type OrderChangeResult = 'changed' | 'unchanged' | 'not-found' | 'invalid-transition' | 'none'

/**
 * Persists an applied transition: the saga row and steps, its commands in the outbox, then the order change.
 * When confirming finds the order already cancelled (by a path that bypassed the saga), the charge and the
 * reservation are compensated instead of being left behind.
 */
export async function commitTransition(tx: Tx, before: Saga, t: Transition, ctx: MessageContext, now: Date, log: SagaLog | undefined, config: SagaConfig): Promise<{ saga: Saga; orderChange: OrderChangeResult }> {
  if (t.effect !== 'applied') return { saga: before, orderChange: 'none' }
  const version = await updateSaga(tx, before, t.saga)
  const saga = { ...t.saga, version }
  for (const command of t.commands) await enqueue(tx, newMessage(command.type, command.data, ctx, now))
  observe(before, t, now)
  if (t.alert) log?.error({ sagaId: saga.id, orderId: saga.orderId, step: saga.currentStep, attempts: saga.compensationAttempts, alert: t.alert }, `saga needs an operator: ${t.alert}`)
  if (!t.orderChange) return { saga, orderChange: 'none' }

  const change = t.orderChange
  const result = await applyStatusChange(tx, {
    orderId: saga.orderId,
    to: change.to,
    cause: change.cause,
    ...(change.to === 'CANCELLED' ? { reason: change.reason, ...(change.actor ? { actor: change.actor } : {}) } : {}),
    ctx,
    now,
  })
  if (change.to === 'CONFIRMED' && (result.outcome === 'not-found' || (result.outcome === 'invalid-transition' && result.from === 'CANCELLED'))) {
    log?.warn({ sagaId: saga.id, orderId: saga.orderId, outcome: result.outcome }, 'payment processed for an order that is gone or cancelled: compensating')
    const undo = advance(saga, { kind: 'cancel', reason: 'the order was cancelled before its payment completed', cause: 'system' }, now, config)
    const after = await commitTransition(tx, saga, undo, ctx, now, log, config)
    return { saga: after.saga, orderChange: result.outcome }
  }
  if (result.outcome === 'not-found' || result.outcome === 'invalid-transition') {
    log?.error({ sagaId: saga.id, orderId: saga.orderId, to: change.to, outcome: result.outcome, from: 'from' in result ? result.from : undefined }, 'saga could not change the order status')
  }
  return { saga, orderChange: result.outcome }
}

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

/**
 * Locks the order row, then the saga row (the lock order of every writer), and applies one event. Returns null
 * when there is no such saga (or the saga id and order id disagree). An ignored or rejected event writes nothing.
 */
export async function applySagaEvent(
  tx: Tx,
  target: { sagaId?: string; orderId?: string },
  event: SagaEvent,
  ctx: MessageContext,
  now: Date,
  log: SagaLog | undefined,
  config: SagaConfig | ((saga: Saga) => SagaConfig),
): Promise<{ before: Saga; transition: Transition; saga: Saga; orderChange: OrderChangeResult } | null> {
  let orderId = target.orderId
  if (target.sagaId) {
    const ofSaga = await orderIdOfSaga(tx, target.sagaId)
    if (!ofSaga || (orderId && ofSaga !== orderId)) return null
    orderId = ofSaga
  }
  if (!orderId) return null
  await lockOrderRow(tx, orderId)
  const before = await lockSaga(tx, { orderId })
  if (!before || (target.sagaId && before.id !== target.sagaId)) return null
  const cfg = typeof config === 'function' ? config(before) : config
  const transition = advance(before, event, now, cfg)
  const after = await commitTransition(tx, before, transition, ctx, now, log, cfg)
  return { before, transition, ...after }
}

// --- the entry points other files call ------------------------------------------------------------------------------

/** Starts the saga of a new order in the transaction that inserts it: the first command commits with the order. */
export async function startSaga(
  tx: Tx,
  input: { orderId: string; customerId: string; items: { productId: string; quantity: number }[]; totalCents: number; currency: string; paymentToken: string },
  ctx: MessageContext,
  now: Date,
  deps: { stepTimeoutSeconds: number },
): Promise<void> {
  const t = openSaga({ ...input, correlationId: ctx.correlationId }, randomUUID(), now, deps)
  if (!(await insertSaga(tx, t.saga))) return // the order already has its saga
  for (const command of t.commands) await enqueue(tx, newMessage(command.type, command.data, ctx, now))
}

/**
 * Cancels an order through its saga. 'compensating': undo commands were enqueued (or are already under way) and
 * the order becomes CANCELLED when they are answered. 'cancelled': nothing was held, the order is CANCELLED now.
 */
export async function requestCancellation(
  tx: Tx,
  input: { orderId: string; reason: string; cause: ChangeCause; actor?: string },
  ctx: MessageContext,
  now: Date,
  deps?: SagaDeps,
): Promise<'compensating' | 'cancelled' | 'already-cancelled' | 'not-cancellable'> {
  const order = await lockOrder(tx, input.orderId)
  if (!order) throw orderNotFound(input.orderId)
  if (order.status === 'CANCELLED') return 'already-cancelled'
  if (order.status === 'DELIVERED') return 'not-cancellable'
  const applied = await applySagaEvent(
    tx,
    { orderId: input.orderId },
    { kind: 'cancel', reason: input.reason, cause: input.cause, ...(input.actor ? { actor: input.actor } : {}) },
    ctx,
    now,
    undefined,
    (saga) => sagaConfig(deps ?? { stepTimeoutSeconds: saga.stepTimeoutSeconds }),
  )
  if (applied) {
    const status = applied.saga.status
    if (status === 'COMPENSATING' || status === 'COMPENSATION_FAILED') return 'compensating'
    if (applied.orderChange === 'changed') return 'cancelled'
    if (applied.orderChange === 'unchanged') return 'already-cancelled'
  }
  // No saga, or one with nothing left to undo: the order is cancelled at once.
  const result = await applyStatusChange(tx, { orderId: input.orderId, to: 'CANCELLED', cause: input.cause, reason: input.reason, ...(input.actor ? { actor: input.actor } : {}), ctx, now })
  switch (result.outcome) {
    case 'changed':
      return 'cancelled'
    case 'unchanged':
      return 'already-cancelled'
    case 'invalid-transition':
      return 'not-cancellable'
    case 'not-found':
      throw orderNotFound(input.orderId)
    default: {
      const unexpected: never = result
      throw new Error(`unexpected status change result ${JSON.stringify(unexpected)}`)
    }
  }
}

/** A reply from inventory or payments. Other message types are not the saga's business and are ignored. */
export async function handleSagaReply(tx: Tx, message: AnyMessage, ctx: HandlerContext, deps: SagaDeps & { now?: () => Date }): Promise<void> {
  if (!isSagaReply(message)) return
  const now = deps.now?.() ?? new Date()
  const data = message.data as { orderId: string; sagaId?: string }
  const applied = await applySagaEvent(tx, { sagaId: data.sagaId, orderId: data.orderId }, { kind: 'reply', message }, ctx, now, ctx.log, sagaConfig(deps))
  if (!applied) {
    ctx.log.warn({ orderId: data.orderId, sagaId: data.sagaId, type: message.type }, 'saga reply for an unknown saga ignored')
    return
  }
  const { transition: t, saga } = applied
  ctx.log[t.effect === 'applied' ? 'info' : 'debug']({ sagaId: saga.id, orderId: saga.orderId, type: message.type, effect: t.effect, status: saga.status, step: saga.currentStep }, `saga: ${t.note}`)
}
