// The order saga (DESIGN §3) as one pure decision: advance(saga, event, now, config) → new state + commands.
// No I/O, no clock, no ids: the caller persists the result and enqueues the commands in one transaction.
//
// The saga tracks what is actually held — the reservation and the payment, each with its own state — rather
// than a step index, so a late, duplicate or out-of-order reply is judged against reality:
//  - a reply that confirms what we already know is a no-op;
//  - a reply for a step we stopped waiting for never moves the saga forward;
//  - a reply showing that something is held which we believed released or never made (a reservation or charge
//    replayed after compensation) leads to its compensation, never to silence.
// Compensation runs one step at a time in reverse order (refund, then release). Commands of one order share a
// Kafka key, so a RELEASE/REFUND sent while the RESERVE/PROCESS is in flight is applied after it: compensating
// "maybe" effects is safe because release and refund are idempotent on the other side.
import type { MessageData, MessageOf, Participant } from '@trackops/contracts'
import type { ChangeCause } from '../order.ts'

export type { ChangeCause }

/** The messaging path to a step's participant was unavailable (DESIGN §8): a timeout says so. */
export interface PathOutage {
  participant: Participant
  /** How long the path has been unavailable, whole seconds. */
  seconds: number
}

export type SagaStatus = 'RUNNING' | 'COMPLETED' | 'COMPENSATING' | 'COMPENSATED' | 'COMPENSATION_FAILED'
export const sagaStatuses: readonly SagaStatus[] = ['RUNNING', 'COMPLETED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED']

/** REQUESTED: the command was sent and may or may not have taken effect. */
export type ReservationState = 'NONE' | 'REQUESTED' | 'RESERVED' | 'FAILED' | 'COMMITTED' | 'RELEASING' | 'RELEASED' | 'EXPIRED'
export type PaymentState = 'NONE' | 'REQUESTED' | 'PROCESSED' | 'FAILED' | 'REFUNDING' | 'REFUNDED'

export type StepName = 'RESERVE_INVENTORY' | 'PROCESS_PAYMENT' | 'COMMIT_RESERVATION' | 'REFUND_PAYMENT' | 'RELEASE_INVENTORY'
export type StepKind = 'action' | 'compensation'
/** COMPENSATED: an action whose effect was undone. CANCELLED: an action abandoned in flight. */
export type StepStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED' | 'COMPENSATED'

export interface SagaStep {
  name: StepName
  kind: StepKind
  status: StepStatus
  /** Times the command was sent. */
  attempts: number
  startedAt: Date
  completedAt: Date | null
  error: string | null
}

export interface SagaLine {
  productId: string
  quantity: number
}

export interface Saga {
  id: string
  orderId: string
  customerId: string
  status: SagaStatus
  /** The step whose reply the saga waits for (RUNNING, COMPENSATING, COMPENSATION_FAILED); null otherwise. */
  currentStep: StepName | null
  /** When the current step is overdue; null when nothing is awaited or an operator must act. */
  stepDeadline: Date | null
  /** Sends of the current compensation step since it started (or since an operator's retry). */
  compensationAttempts: number
  reservation: ReservationState
  payment: PaymentState
  paymentId: string | null
  totalCents: number
  currency: string
  /** Kept only until PROCESS_PAYMENT is sent. */
  paymentToken: string | null
  items: SagaLine[]
  cancelReason: string | null
  cause: ChangeCause | null
  cancelledBy: string | null
  correlationId: string
  stepTimeoutSeconds: number
  createdAt: Date
  updatedAt: Date
  completedAt: Date | null
  version: number
  steps: SagaStep[]
}

export interface SagaConfig {
  stepTimeoutSeconds: number
  maxCompensationAttempts: number
}
export const defaultMaxCompensationAttempts = 5

export const sagaReplyTypes = [
  'INVENTORY_RESERVED',
  'INVENTORY_RESERVATION_FAILED',
  'INVENTORY_RELEASED',
  'RESERVATION_EXPIRED',
  'PAYMENT_PROCESSED',
  'PAYMENT_FAILED',
  'PAYMENT_REFUNDED',
] as const
export type SagaReplyType = (typeof sagaReplyTypes)[number]
export type SagaReply = MessageOf<SagaReplyType>
export const isSagaReply = (message: { type: string }): message is SagaReply => (sagaReplyTypes as readonly string[]).includes(message.type)

export type SagaCommandType = 'RESERVE_INVENTORY' | 'RELEASE_INVENTORY' | 'COMMIT_RESERVATION' | 'PROCESS_PAYMENT' | 'REFUND_PAYMENT'
export type SagaCommand = { [T in SagaCommandType]: { type: T; data: MessageData<T> } }[SagaCommandType]

export type SagaEvent =
  | { kind: 'reply'; message: SagaReply }
  /**
   * The sweeper found the current step past its deadline. outage: the messaging path to the step's participant is
   * down, for longer than deadlines are held (DESIGN §8); the cancellation says so.
   */
  | { kind: 'deadline'; outage?: PathOutage | undefined }
  /** The order is being cancelled (DELETE /api/orders/{id}, an operator, the system). */
  | { kind: 'cancel'; reason: string; cause: ChangeCause; actor?: string }
  /** An operator forces compensation of a saga stuck while running. */
  | { kind: 'compensate'; reason: string; actor?: string }
  /** An operator resumes a saga resting in COMPENSATION_FAILED (who did it goes to the audit log). */
  | { kind: 'retry' }

export type OrderChange =
  | { to: 'CONFIRMED'; cause: 'saga' }
  | { to: 'CANCELLED'; reason: string; cause: ChangeCause; actor?: string }

export type SagaOutcome = 'completed' | 'compensated' | 'compensation_failed'

export interface Transition {
  saga: Saga
  commands: SagaCommand[]
  orderChange?: OrderChange
  /** applied: persist saga and commands. ignored: nothing changes (duplicate, late, not due). rejected: the request makes no sense in this state. */
  effect: 'applied' | 'ignored' | 'rejected'
  note: string
  /** Set when this transition brought the saga to an outcome. */
  outcome?: SagaOutcome
  /** Something an operator must look at (logged as an error). */
  alert?: string
}


export interface SagaStart {
  orderId: string
  customerId: string
  items: SagaLine[]
  totalCents: number
  currency: string
  paymentToken: string
  correlationId: string
}

/** The first step: reserve the items, or go straight to payment when the order has none. */
export function openSaga(input: SagaStart, sagaId: string, now: Date, config: Pick<SagaConfig, 'stepTimeoutSeconds'>): Transition {
  const d: Saga = {
    id: sagaId,
    orderId: input.orderId,
    customerId: input.customerId,
    status: 'RUNNING',
    currentStep: null,
    stepDeadline: null,
    compensationAttempts: 0,
    reservation: 'NONE',
    payment: 'NONE',
    paymentId: null,
    totalCents: input.totalCents,
    currency: input.currency,
    paymentToken: input.paymentToken,
    items: input.items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
    cancelReason: null,
    cause: null,
    cancelledBy: null,
    correlationId: input.correlationId,
    stepTimeoutSeconds: config.stepTimeoutSeconds,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
    version: 1,
    steps: [],
  }
  if (d.items.length > 0) {
    d.reservation = 'REQUESTED'
    const command = awaitStep(d, 'RESERVE_INVENTORY', now, config)
    return { saga: d, commands: [command], effect: 'applied', note: 'saga started: reserving inventory' }
  }
  const command = requestPayment(d, now, config)
  return { saga: d, commands: [command], effect: 'applied', note: 'saga started without items: processing payment' }
}


export function advance(saga: Saga, event: SagaEvent, now: Date, config: SagaConfig): Transition {
  const d = draft(saga, now)
  switch (event.kind) {
    case 'reply':
      return onReply(saga, d, event.message, now, config)
    case 'deadline':
      return onDeadline(saga, d, event.outage, now, config)
    case 'cancel':
      return onCancel(saga, d, event, now, config)
    case 'compensate':
      if (saga.status !== 'RUNNING') return rejected(saga, `only a RUNNING saga can be forced to compensate; this one is ${saga.status}`)
      return abandonAndCompensate(d, now, config, { reason: event.reason, cause: 'operator', actor: event.actor }, 'forced compensation by an operator')
    case 'retry':
      return onRetry(saga, d, now, config)
    default:
      return unreachable(event)
  }
}

function onReply(saga: Saga, d: Saga, m: SagaReply, now: Date, config: SagaConfig): Transition {
  const compensating = d.status === 'COMPENSATING' || d.status === 'COMPENSATION_FAILED'
  switch (m.type) {
    case 'INVENTORY_RESERVED':
      switch (saga.reservation) {
        case 'REQUESTED':
          if (saga.status === 'RUNNING' && saga.currentStep === 'RESERVE_INVENTORY') {
            d.reservation = 'RESERVED'
            endStep(d, 'RESERVE_INVENTORY', 'COMPLETED', now)
            return applied(d, [requestPayment(d, now, config)], 'inventory reserved: processing payment')
          }
          // Compensation decided before the reply; the release already on its way (or the next step) covers it.
          d.reservation = 'RESERVED'
          return applied(d, [], 'inventory reserved after the saga stopped waiting for it; it will be released')
        case 'RESERVED':
        case 'COMMITTED':
          return ignored(saga, 'duplicate INVENTORY_RESERVED')
        case 'RELEASING':
          return ignored(saga, 'late INVENTORY_RESERVED: the release sent after it returns the stock')
        case 'NONE':
        case 'FAILED':
        case 'RELEASED':
        case 'EXPIRED':
          return reservationResurfaced(saga, d, now)
        default:
          return unreachable(saga.reservation)
      }

    case 'INVENTORY_RESERVATION_FAILED':
      switch (saga.reservation) {
        case 'REQUESTED':
          d.reservation = 'FAILED'
          if (saga.status === 'RUNNING' && saga.currentStep === 'RESERVE_INVENTORY') {
            const reason = describeShortage(m.data.failedItems)
            endStep(d, 'RESERVE_INVENTORY', 'FAILED', now, reason)
            return compensate(d, now, config, { reason, cause: 'saga' }, 'inventory reservation failed')
          }
          return applied(d, [], 'inventory reservation failed after the saga stopped waiting for it')
        case 'RELEASING':
          // Nothing was ever reserved: the release in flight is a no-op on the inventory side.
          d.reservation = 'FAILED'
          return releaseSettled(d, now, config, 'nothing was reserved')
        case 'NONE':
        case 'RESERVED':
        case 'FAILED':
        case 'COMMITTED':
        case 'RELEASED':
        case 'EXPIRED':
          return ignored(saga, `INVENTORY_RESERVATION_FAILED ignored: reservation is ${saga.reservation}`)
        default:
          return unreachable(saga.reservation)
      }

    case 'INVENTORY_RELEASED':
      if (saga.reservation !== 'RELEASING') return ignored(saga, `INVENTORY_RELEASED ignored: reservation is ${saga.reservation}`)
      d.reservation = 'RELEASED'
      return releaseSettled(d, now, config, null)

    case 'RESERVATION_EXPIRED':
      switch (saga.reservation) {
        case 'REQUESTED':
        case 'RESERVED':
          d.reservation = 'EXPIRED'
          if (saga.status === 'RUNNING') {
            // The reservation is lost before payment was confirmed: undo what may have been charged and cancel.
            markStepError(d, 'RESERVE_INVENTORY', `reservation expired at ${m.data.expiredAt}`)
            const as = saga.currentStep === 'RESERVE_INVENTORY' ? 'FAILED' : 'CANCELLED'
            return abandonAndCompensate(d, now, config, { reason: 'reservation expired', cause: 'saga' }, 'reservation expired before payment was confirmed', as)
          }
          return applied(d, [], 'reservation expired; nothing left to release')
        case 'COMMITTED':
          d.reservation = 'EXPIRED'
          if (saga.status === 'COMPLETED') {
            const alert = `the reservation of a confirmed order expired at ${m.data.expiredAt} before its commit; its stock must be re-checked`
            markStepError(d, 'COMMIT_RESERVATION', alert)
            return { ...applied(d, [], 'reservation expired after confirmation'), alert }
          }
          return applied(d, [], 'reservation expired; nothing left to release')
        case 'RELEASING':
          d.reservation = 'EXPIRED'
          return releaseSettled(d, now, config, 'the reservation had expired')
        case 'NONE':
        case 'FAILED':
        case 'RELEASED':
        case 'EXPIRED':
          return ignored(saga, `RESERVATION_EXPIRED ignored: reservation is ${saga.reservation}`)
        default:
          return unreachable(saga.reservation)
      }

    case 'PAYMENT_PROCESSED':
      switch (saga.payment) {
        case 'REQUESTED':
          d.payment = 'PROCESSED'
          d.paymentId = m.data.paymentId
          if (saga.status === 'RUNNING' && saga.currentStep === 'PROCESS_PAYMENT') return confirm(d, now)
          return applied(d, [], 'payment processed after the saga stopped waiting for it; it will be refunded')
        case 'PROCESSED':
          return ignored(saga, 'duplicate PAYMENT_PROCESSED')
        case 'REFUNDING':
          if (saga.paymentId !== null) return ignored(saga, 'late PAYMENT_PROCESSED: the refund sent after it returns the money')
          d.paymentId = m.data.paymentId
          return applied(d, [], 'late PAYMENT_PROCESSED: the refund sent after it returns the money (payment id recorded)')
        case 'NONE':
        case 'FAILED':
        case 'REFUNDED':
          return chargeResurfaced(saga, d, m.data.paymentId, now, compensating)
        default:
          return unreachable(saga.payment)
      }

    case 'PAYMENT_FAILED':
      switch (saga.payment) {
        case 'REQUESTED':
          d.payment = 'FAILED'
          if (saga.status === 'RUNNING' && saga.currentStep === 'PROCESS_PAYMENT') {
            endStep(d, 'PROCESS_PAYMENT', 'FAILED', now, `${m.data.code}: ${m.data.reason}`)
            return compensate(d, now, config, { reason: `Payment failed: ${m.data.reason}`, cause: 'saga' }, 'payment failed')
          }
          return applied(d, [], 'payment failed after the saga stopped waiting for it')
        case 'REFUNDING':
          // Never charged: the refund in flight answers with amount 0.
          d.payment = 'FAILED'
          return refundSettled(d, now, config, 'there was no charge')
        case 'NONE':
        case 'PROCESSED':
        case 'FAILED':
        case 'REFUNDED':
          return ignored(saga, `PAYMENT_FAILED ignored: payment is ${saga.payment}`)
        default:
          return unreachable(saga.payment)
      }

    case 'PAYMENT_REFUNDED':
      if (saga.payment !== 'REFUNDING') return ignored(saga, `PAYMENT_REFUNDED ignored: payment is ${saga.payment}`)
      d.payment = 'REFUNDED'
      if (m.data.paymentId) d.paymentId = m.data.paymentId
      return refundSettled(d, now, config, m.data.amountCents === 0 ? 'there was no charge' : null)

    default:
      return unreachable(m)
  }
}

function onDeadline(saga: Saga, d: Saga, outage: PathOutage | undefined, now: Date, config: SagaConfig): Transition {
  if (!saga.stepDeadline || saga.stepDeadline.getTime() > now.getTime()) return ignored(saga, 'no step is overdue')
  const pathNote = outage ? `the messaging path to ${outage.participant} was unavailable for ${outage.seconds} s` : null
  switch (saga.status) {
    case 'RUNNING': {
      const step = saga.currentStep ?? 'RESERVE_INVENTORY'
      const what = step === 'PROCESS_PAYMENT' ? 'payment' : 'inventory reservation'
      const reason = pathNote ? `${what} timed out: ${pathNote}` : `${what} timed out`
      return abandonAndCompensate(d, now, config, { reason, cause: 'timeout' }, `${step} timed out`, 'TIMED_OUT')
    }
    case 'COMPENSATING': {
      const step = saga.currentStep
      if (step !== 'REFUND_PAYMENT' && step !== 'RELEASE_INVENTORY') return ignored(saga, 'no compensation step is awaited')
      if (saga.compensationAttempts >= config.maxCompensationAttempts) {
        const alert = `${step} unanswered after ${saga.compensationAttempts} attempts: compensation failed; an operator must retry it`
        d.status = 'COMPENSATION_FAILED'
        d.stepDeadline = null
        markStep(d, step, 'FAILED', `no reply after ${saga.compensationAttempts} attempts`)
        return { saga: d, commands: [], effect: 'applied', note: alert, outcome: 'compensation_failed', alert }
      }
      d.compensationAttempts = saga.compensationAttempts + 1
      d.stepDeadline = addSeconds(now, backoffSeconds(config.stepTimeoutSeconds, d.compensationAttempts))
      const command = resendStep(d, step, `no reply before ${saga.stepDeadline.toISOString()}${pathNote ? ` (${pathNote})` : ''}; re-sent (attempt ${d.compensationAttempts})`, now)
      return applied(d, [command], `${step} re-sent (attempt ${d.compensationAttempts} of ${config.maxCompensationAttempts})`)
    }
    case 'COMPLETED':
    case 'COMPENSATED':
    case 'COMPENSATION_FAILED':
      return ignored(saga, `a ${saga.status} saga has no deadline`)
    default:
      return unreachable(saga.status)
  }
}

function onCancel(saga: Saga, d: Saga, e: Extract<SagaEvent, { kind: 'cancel' }>, now: Date, config: SagaConfig): Transition {
  const why = { reason: e.reason, cause: e.cause, actor: e.actor }
  switch (saga.status) {
    case 'RUNNING':
      return abandonAndCompensate(d, now, config, why, 'cancelled while running')
    case 'COMPLETED':
      return compensate(d, now, config, why, 'cancelled after completion')
    case 'COMPENSATING':
    case 'COMPENSATION_FAILED':
      return ignored(saga, 'already compensating')
    case 'COMPENSATED':
      return ignored(saga, 'already compensated: nothing to undo')
    default:
      return unreachable(saga.status)
  }
}

function onRetry(saga: Saga, d: Saga, now: Date, config: SagaConfig): Transition {
  const step = saga.currentStep
  if (saga.status !== 'COMPENSATION_FAILED' || (step !== 'REFUND_PAYMENT' && step !== 'RELEASE_INVENTORY')) {
    return rejected(saga, `only a COMPENSATION_FAILED saga can be retried; this one is ${saga.status}`)
  }
  d.status = 'COMPENSATING'
  d.compensationAttempts = 1
  d.stepDeadline = addSeconds(now, config.stepTimeoutSeconds)
  const command = resendStep(d, step, null, now)
  return applied(d, [command], `${step} re-sent by an operator`)
}


function requestPayment(d: Saga, now: Date, config: Pick<SagaConfig, 'stepTimeoutSeconds'>): SagaCommand {
  if (d.paymentToken === null) throw new Error(`saga ${d.id}: payment requested twice (the token is gone)`)
  d.payment = 'REQUESTED'
  const command = awaitStep(d, 'PROCESS_PAYMENT', now, config)
  d.paymentToken = null
  return command
}

function confirm(d: Saga, now: Date): Transition {
  endStep(d, 'PROCESS_PAYMENT', 'COMPLETED', now)
  const commands: SagaCommand[] = []
  if (d.reservation === 'RESERVED') {
    // Fire and forget: no reply exists for a commit; an uncommitted reservation would expire (handled above).
    d.reservation = 'COMMITTED'
    startStep(d, 'COMMIT_RESERVATION', 'action', now)
    endStep(d, 'COMMIT_RESERVATION', 'COMPLETED', now)
    commands.push(commandFor(d, 'COMMIT_RESERVATION'))
  }
  d.status = 'COMPLETED'
  d.currentStep = null
  d.stepDeadline = null
  d.completedAt = now
  return { saga: d, commands, orderChange: { to: 'CONFIRMED', cause: 'saga' }, effect: 'applied', note: 'payment processed: order confirmed', outcome: 'completed' }
}


interface Why {
  reason: string
  cause: ChangeCause
  actor?: string | undefined
}

/** The action in flight is given up (its effect may still happen, and is compensated anyway). */
function abandonAndCompensate(d: Saga, now: Date, config: SagaConfig, why: Why, note: string, as: StepStatus = 'CANCELLED'): Transition {
  const step = d.currentStep
  if (d.status === 'RUNNING' && step) {
    const running = d.steps.find((s) => s.name === step && s.status === 'RUNNING')
    if (running) endStep(d, step, as, now, as === 'TIMED_OUT' ? `no reply before ${d.stepDeadline?.toISOString()}` : why.reason)
  }
  return compensate(d, now, config, why, note)
}

function compensate(d: Saga, now: Date, config: SagaConfig, why: Why, note: string): Transition {
  d.status = 'COMPENSATING'
  d.cancelReason = why.reason
  d.cause = why.cause
  d.cancelledBy = why.actor ?? null
  d.completedAt = null
  return continueCompensation(d, now, config, note)
}

/** Starts the next compensation in reverse order (refund, then release), or ends the saga COMPENSATED. */
function continueCompensation(d: Saga, now: Date, config: SagaConfig, note: string): Transition {
  const next: 'REFUND_PAYMENT' | 'RELEASE_INVENTORY' | null =
    d.payment === 'REQUESTED' || d.payment === 'PROCESSED' ? 'REFUND_PAYMENT'
    : d.reservation === 'REQUESTED' || d.reservation === 'RESERVED' || d.reservation === 'COMMITTED' ? 'RELEASE_INVENTORY'
    : null
  if (next) {
    if (next === 'REFUND_PAYMENT') d.payment = 'REFUNDING'
    else d.reservation = 'RELEASING'
    d.status = 'COMPENSATING'
    d.compensationAttempts = 1
    const command = awaitStep(d, next, now, config)
    return applied(d, [command], `${note}: ${next}`)
  }
  d.status = 'COMPENSATED'
  d.currentStep = null
  d.stepDeadline = null
  d.compensationAttempts = 0
  d.completedAt = now
  const orderChange: OrderChange = { to: 'CANCELLED', reason: d.cancelReason ?? 'compensated', cause: d.cause ?? 'saga', ...(d.cancelledBy ? { actor: d.cancelledBy } : {}) }
  return { saga: d, commands: [], orderChange, effect: 'applied', note: `${note}: compensated, order cancelled`, outcome: 'compensated' }
}

/** The release was answered (or made unnecessary): move on when it was the step being awaited. */
function releaseSettled(d: Saga, now: Date, config: SagaConfig, remark: string | null): Transition {
  endStep(d, 'RELEASE_INVENTORY', 'COMPLETED', now, remark)
  for (const name of ['RESERVE_INVENTORY', 'COMMIT_RESERVATION'] as const) compensated(d, name)
  if ((d.status === 'COMPENSATING' || d.status === 'COMPENSATION_FAILED') && d.currentStep === 'RELEASE_INVENTORY') {
    return continueCompensation(d, now, config, 'inventory released')
  }
  return applied(d, [], 'inventory released')
}

function refundSettled(d: Saga, now: Date, config: SagaConfig, remark: string | null): Transition {
  endStep(d, 'REFUND_PAYMENT', 'COMPLETED', now, remark)
  compensated(d, 'PROCESS_PAYMENT')
  if ((d.status === 'COMPENSATING' || d.status === 'COMPENSATION_FAILED') && d.currentStep === 'REFUND_PAYMENT') {
    return continueCompensation(d, now, config, 'payment refunded')
  }
  return applied(d, [], 'payment refunded')
}

/** A reservation shows up that the saga had released, lost or never made: it must not stay held. */
function reservationResurfaced(saga: Saga, d: Saga, now: Date): Transition {
  switch (saga.status) {
    case 'RUNNING':
    case 'COMPLETED':
      return ignored(saga, `unexpected INVENTORY_RESERVED: reservation is ${saga.reservation}`)
    case 'COMPENSATING':
    case 'COMPENSATION_FAILED':
      // Released by the compensation sequence once the step being awaited is answered.
      d.reservation = 'RESERVED'
      return applied(d, [], 'late INVENTORY_RESERVED: it will be released')
    case 'COMPENSATED':
      // The saga is over; release right away. No deadline: the inventory's reservation expiry is the backstop.
      d.reservation = 'RELEASING'
      return applied(d, [resendStep(d, 'RELEASE_INVENTORY', 'a reservation appeared after compensation; released again', now)], 'late INVENTORY_RESERVED after compensation: released')
    default:
      return unreachable(saga.status)
  }
}

function chargeResurfaced(saga: Saga, d: Saga, paymentId: string, now: Date, compensating: boolean): Transition {
  if (compensating) {
    d.payment = 'PROCESSED'
    d.paymentId = paymentId
    return applied(d, [], 'late PAYMENT_PROCESSED: it will be refunded')
  }
  if (saga.status === 'COMPENSATED') {
    d.payment = 'REFUNDING'
    d.paymentId = paymentId
    return applied(d, [resendStep(d, 'REFUND_PAYMENT', 'a charge appeared after compensation; refunded again', now)], 'late PAYMENT_PROCESSED after compensation: refunded')
  }
  return ignored(saga, `unexpected PAYMENT_PROCESSED: payment is ${saga.payment}`)
}


const stepKind: Record<StepName, StepKind> = {
  RESERVE_INVENTORY: 'action',
  PROCESS_PAYMENT: 'action',
  COMMIT_RESERVATION: 'action',
  REFUND_PAYMENT: 'compensation',
  RELEASE_INVENTORY: 'compensation',
}

/** Sends the step's command and waits for its reply until the deadline. */
function awaitStep(d: Saga, name: StepName, now: Date, config: Pick<SagaConfig, 'stepTimeoutSeconds'>): SagaCommand {
  d.currentStep = name
  d.stepDeadline = addSeconds(now, config.stepTimeoutSeconds)
  startStep(d, name, stepKind[name], now)
  return commandFor(d, name)
}

/** Sends a step's command again: the same step row, one more attempt. */
function resendStep(d: Saga, name: 'REFUND_PAYMENT' | 'RELEASE_INVENTORY', error: string | null, now: Date): SagaCommand {
  const step = d.steps.find((s) => s.name === name)
  if (step) {
    step.status = 'RUNNING'
    step.attempts += 1
    step.completedAt = null
    step.error = error
  } else {
    d.steps.push({ name, kind: 'compensation', status: 'RUNNING', attempts: 1, startedAt: now, completedAt: null, error })
  }
  return commandFor(d, name)
}

function startStep(d: Saga, name: StepName, kind: StepKind, now: Date) {
  const existing = d.steps.find((s) => s.name === name)
  if (existing) {
    existing.status = 'RUNNING'
    existing.attempts += 1
    existing.startedAt = now
    existing.completedAt = null
    existing.error = null
  } else {
    d.steps.push({ name, kind, status: 'RUNNING', attempts: 1, startedAt: now, completedAt: null, error: null })
  }
}

function endStep(d: Saga, name: StepName, status: StepStatus, now: Date, error: string | null = null) {
  const step = d.steps.find((s) => s.name === name)
  if (!step) return
  step.status = status
  step.completedAt = now
  step.error = error
}

function markStep(d: Saga, name: StepName, status: StepStatus, error: string) {
  const step = d.steps.find((s) => s.name === name)
  if (!step) return
  step.status = status
  step.error = error
}

function markStepError(d: Saga, name: StepName, error: string) {
  const step = d.steps.find((s) => s.name === name)
  if (step) step.error = error
}

function compensated(d: Saga, name: StepName) {
  const step = d.steps.find((s) => s.name === name)
  if (step && step.status === 'COMPLETED') step.status = 'COMPENSATED'
}

function commandFor(d: Saga, name: StepName): SagaCommand {
  const ref = { orderId: d.orderId, sagaId: d.id }
  switch (name) {
    case 'RESERVE_INVENTORY':
      return { type: 'RESERVE_INVENTORY', data: { ...ref, items: d.items.map((i) => ({ productId: i.productId, quantity: i.quantity })) } }
    case 'PROCESS_PAYMENT':
      return {
        type: 'PROCESS_PAYMENT',
        data: { ...ref, customerId: d.customerId, amountCents: d.totalCents, currency: d.currency, paymentToken: d.paymentToken ?? '' },
      }
    case 'COMMIT_RESERVATION':
      return { type: 'COMMIT_RESERVATION', data: ref }
    case 'REFUND_PAYMENT':
      return { type: 'REFUND_PAYMENT', data: { ...ref, reason: d.cancelReason ?? 'compensation' } }
    case 'RELEASE_INVENTORY':
      return { type: 'RELEASE_INVENTORY', data: { ...ref, reason: d.cancelReason ?? 'compensation' } }
    default:
      return unreachable(name)
  }
}


/** A copy the transition may change freely: the caller's saga is never touched. */
function draft(saga: Saga, now: Date): Saga {
  return { ...saga, items: saga.items.map((i) => ({ ...i })), steps: saga.steps.map((s) => ({ ...s })), updatedAt: now }
}

const applied = (d: Saga, commands: SagaCommand[], note: string): Transition => ({ saga: d, commands, effect: 'applied', note })
const ignored = (saga: Saga, note: string): Transition => ({ saga, commands: [], effect: 'ignored', note })
const rejected = (saga: Saga, note: string): Transition => ({ saga, commands: [], effect: 'rejected', note })

export const addSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000)

/** Attempt n of a compensation waits timeout × 2^(n-1). */
export const backoffSeconds = (stepTimeoutSeconds: number, attempt: number) => stepTimeoutSeconds * 2 ** Math.max(0, attempt - 1)

function describeShortage(items: readonly { productId: string; requested: number; available: number; reason: string }[]): string {
  if (items.length === 0) return 'Inventory reservation failed'
  const parts = items.map((i) =>
    i.reason === 'INSUFFICIENT' ? `${i.productId} (requested ${i.requested}, available ${i.available})` : `${i.productId} (${i.reason.toLowerCase()})`,
  )
  return `Insufficient inventory: ${parts.join(', ')}`
}

function unreachable(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`)
}
