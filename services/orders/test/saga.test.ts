// The saga's pure transition: every (state, event) pair, then the paths through it, late and duplicate replies,
// backoff and operator actions. No database, no clock.
import { describe, expect, it } from 'vitest'
import { newMessage } from '@trackops/messaging'
import type { MessageData } from '@trackops/contracts'
import { advance, backoffSeconds, openSaga, type Saga, type SagaConfig, type SagaEvent, type SagaReplyType, type Transition } from '../src/saga/saga.ts'

const SAGA = '5a6a0000-0000-4000-8000-000000000001'
const ORDER = '0d0e0000-0000-4000-8000-000000000002'
const CUSTOMER = 'c0570000-0000-4000-8000-000000000003'
const PAYMENT = '9a900000-0000-4000-8000-000000000004'
const T0 = new Date('2030-01-01T00:00:00.000Z')
const config: SagaConfig = { stepTimeoutSeconds: 30, maxCompensationAttempts: 3 }
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
const ctx = { correlationId: 'saga-unit' }
const ref = { orderId: ORDER, sagaId: SAGA }

// --- events ---------------------------------------------------------------------------------------------------------

const reply = <T extends SagaReplyType>(type: T, data: MessageData<T>): SagaEvent => ({ kind: 'reply', message: newMessage(type, data, ctx, T0) } as SagaEvent)
const failedItems = [{ productId: 'P-1', requested: 3, available: 1, reason: 'INSUFFICIENT' }, { productId: 'P-2', requested: 1, available: 0, reason: 'DISCONTINUED' }]
const replies = {
  INVENTORY_RESERVED: () => reply('INVENTORY_RESERVED', { ...ref, items: [{ productId: 'P-1', productName: 'One', quantity: 2, unitPriceCents: 500 }], expiresAt: at(900).toISOString() }),
  INVENTORY_RESERVATION_FAILED: () => reply('INVENTORY_RESERVATION_FAILED', { ...ref, failedItems } as unknown as MessageData<'INVENTORY_RESERVATION_FAILED'>),
  INVENTORY_RELEASED: () => reply('INVENTORY_RELEASED', { ...ref, items: [{ productId: 'P-1', quantity: 2 }], reason: 'released' }),
  RESERVATION_EXPIRED: () => reply('RESERVATION_EXPIRED', { orderId: ORDER, items: [{ productId: 'P-1', quantity: 2 }], expiredAt: at(900).toISOString() }),
  PAYMENT_PROCESSED: () => reply('PAYMENT_PROCESSED', { ...ref, paymentId: PAYMENT, amountCents: 1000 }),
  PAYMENT_FAILED: () => reply('PAYMENT_FAILED', { ...ref, reason: 'card declined', code: 'card_declined' }),
  PAYMENT_REFUNDED: () => reply('PAYMENT_REFUNDED', { ...ref, paymentId: PAYMENT, amountCents: 1000 }),
} satisfies Record<SagaReplyType, () => SagaEvent>
const deadline: SagaEvent = { kind: 'deadline' }
const cancel: SagaEvent = { kind: 'cancel', reason: 'customer changed their mind', cause: 'customer', actor: CUSTOMER }
const compensate: SagaEvent = { kind: 'compensate', reason: 'stuck', actor: 'admin-1' }
const retry: SagaEvent = { kind: 'retry' }

// --- states, reached through the transition itself --------------------------------------------------------------------

let clock = 0
const tick = () => at(++clock)

function started(items = [{ productId: 'P-1', quantity: 2 }]): Saga {
  clock = 0
  return openSaga({ orderId: ORDER, customerId: CUSTOMER, items, totalCents: 1000, currency: 'USD', paymentToken: 'tok_visa', correlationId: 'c-1' }, SAGA, T0, config).saga
}

/** Applies events in order; each must be applied (a path that silently stops is a broken fixture). */
function drive(saga: Saga, ...events: (SagaEvent | 'overdue')[]): Saga {
  let s = saga
  for (const e of events) {
    const now = e === 'overdue' ? new Date((s.stepDeadline ?? T0).getTime() + 1) : tick()
    if (e === 'overdue') clock = Math.ceil((now.getTime() - T0.getTime()) / 1000)
    const t = advance(s, e === 'overdue' ? deadline : e, now, config)
    if (t.effect !== 'applied') throw new Error(`fixture step not applied: ${t.note}`)
    s = t.saga
  }
  return s
}

const states: Record<string, () => Saga> = {
  'RUNNING at RESERVE_INVENTORY': () => started(),
  'RUNNING at PROCESS_PAYMENT': () => drive(started(), replies.INVENTORY_RESERVED()),
  'RUNNING at PROCESS_PAYMENT without items': () => started([]),
  COMPLETED: () => drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED()),
  'COMPENSATING at RELEASE_INVENTORY (payment failed)': () => drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_FAILED()),
  'COMPENSATING at RELEASE_INVENTORY (cancelled while reserving)': () => drive(started(), cancel),
  'COMPENSATING at REFUND_PAYMENT (payment timed out)': () => drive(started(), replies.INVENTORY_RESERVED(), 'overdue'),
  'COMPENSATING at REFUND_PAYMENT (cancelled after confirmation)': () => drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED(), cancel),
  'COMPENSATION_FAILED at RELEASE_INVENTORY': () => drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_FAILED(), 'overdue', 'overdue', 'overdue'),
  'COMPENSATION_FAILED at REFUND_PAYMENT': () => drive(started(), replies.INVENTORY_RESERVED(), 'overdue', 'overdue', 'overdue', 'overdue'),
  'COMPENSATED (out of stock)': () => drive(started(), replies.INVENTORY_RESERVATION_FAILED()),
  'COMPENSATED (payment failed)': () => drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_FAILED(), replies.INVENTORY_RELEASED()),
  'COMPENSATED (cancelled after confirmation)': () =>
    drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED(), cancel, replies.PAYMENT_REFUNDED(), replies.INVENTORY_RELEASED()),
}

// --- the matrix ---------------------------------------------------------------------------------------------------------

type Ev = SagaReplyType | 'deadline' | 'not-due' | 'cancel' | 'compensate' | 'retry'
/** [effect, status after, command types, order change] — '-' means ignored/rejected with nothing. */
type Expect = ['applied', string, string[], ('CONFIRMED' | 'CANCELLED')?] | ['ignored'] | ['rejected']
const I: Expect = ['ignored']
const R: Expect = ['rejected']

const matrix: Record<string, Record<Ev, Expect>> = {
  'RUNNING at RESERVE_INVENTORY': {
    INVENTORY_RESERVED: ['applied', 'RUNNING', ['PROCESS_PAYMENT']],
    INVENTORY_RESERVATION_FAILED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    PAYMENT_PROCESSED: I,
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    'not-due': I,
    cancel: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    compensate: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    retry: R,
  },
  'RUNNING at PROCESS_PAYMENT': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    PAYMENT_PROCESSED: ['applied', 'COMPLETED', ['COMMIT_RESERVATION'], 'CONFIRMED'],
    PAYMENT_FAILED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    PAYMENT_REFUNDED: I,
    deadline: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    'not-due': I,
    cancel: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    compensate: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    retry: R,
  },
  'RUNNING at PROCESS_PAYMENT without items': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: I,
    PAYMENT_PROCESSED: ['applied', 'COMPLETED', [], 'CONFIRMED'],
    PAYMENT_FAILED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    PAYMENT_REFUNDED: I,
    deadline: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    'not-due': I,
    cancel: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    compensate: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    retry: R,
  },
  COMPLETED: {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPLETED', []],
    PAYMENT_PROCESSED: I,
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: I,
    'not-due': I,
    cancel: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    compensate: R,
    retry: R,
  },
  'COMPENSATING at RELEASE_INVENTORY (payment failed)': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    INVENTORY_RELEASED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    RESERVATION_EXPIRED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    PAYMENT_PROCESSED: ['applied', 'COMPENSATING', []],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATING at RELEASE_INVENTORY (cancelled while reserving)': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    INVENTORY_RELEASED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    RESERVATION_EXPIRED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    PAYMENT_PROCESSED: ['applied', 'COMPENSATING', []],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATING at REFUND_PAYMENT (payment timed out)': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPENSATING', []],
    PAYMENT_PROCESSED: ['applied', 'COMPENSATING', []],
    PAYMENT_FAILED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    PAYMENT_REFUNDED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    deadline: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATING at REFUND_PAYMENT (cancelled after confirmation)': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPENSATING', []],
    PAYMENT_PROCESSED: I,
    PAYMENT_FAILED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    PAYMENT_REFUNDED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    deadline: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATION_FAILED at RELEASE_INVENTORY': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    INVENTORY_RELEASED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    RESERVATION_EXPIRED: ['applied', 'COMPENSATED', [], 'CANCELLED'],
    PAYMENT_PROCESSED: ['applied', 'COMPENSATION_FAILED', []],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: I,
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
  },
  'COMPENSATION_FAILED at REFUND_PAYMENT': {
    INVENTORY_RESERVED: I,
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: ['applied', 'COMPENSATION_FAILED', []],
    PAYMENT_PROCESSED: ['applied', 'COMPENSATION_FAILED', []],
    PAYMENT_FAILED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    PAYMENT_REFUNDED: ['applied', 'COMPENSATING', ['RELEASE_INVENTORY']],
    deadline: I,
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: ['applied', 'COMPENSATING', ['REFUND_PAYMENT']],
  },
  'COMPENSATED (out of stock)': {
    INVENTORY_RESERVED: ['applied', 'COMPENSATED', ['RELEASE_INVENTORY']],
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: I,
    PAYMENT_PROCESSED: ['applied', 'COMPENSATED', ['REFUND_PAYMENT']],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: I,
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATED (payment failed)': {
    INVENTORY_RESERVED: ['applied', 'COMPENSATED', ['RELEASE_INVENTORY']],
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: I,
    PAYMENT_PROCESSED: ['applied', 'COMPENSATED', ['REFUND_PAYMENT']],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: I,
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
  'COMPENSATED (cancelled after confirmation)': {
    INVENTORY_RESERVED: ['applied', 'COMPENSATED', ['RELEASE_INVENTORY']],
    INVENTORY_RESERVATION_FAILED: I,
    INVENTORY_RELEASED: I,
    RESERVATION_EXPIRED: I,
    PAYMENT_PROCESSED: ['applied', 'COMPENSATED', ['REFUND_PAYMENT']],
    PAYMENT_FAILED: I,
    PAYMENT_REFUNDED: I,
    deadline: I,
    'not-due': I,
    cancel: I,
    compensate: R,
    retry: R,
  },
}

function eventFor(ev: Ev, saga: Saga): { event: SagaEvent; now: Date } {
  const due = new Date((saga.stepDeadline ?? at(3600)).getTime() + 1)
  switch (ev) {
    case 'deadline':
      return { event: deadline, now: due }
    case 'not-due':
      return { event: deadline, now: saga.updatedAt }
    case 'cancel':
      return { event: cancel, now: at(5000) }
    case 'compensate':
      return { event: compensate, now: at(5000) }
    case 'retry':
      return { event: retry, now: at(5000) }
    default:
      return { event: replies[ev](), now: at(5000) }
  }
}

/** Deep-freezes a saga so a transition that mutates its input throws. */
function frozen(saga: Saga): Saga {
  for (const step of saga.steps) Object.freeze(step)
  for (const item of saga.items) Object.freeze(item)
  Object.freeze(saga.steps)
  Object.freeze(saga.items)
  return Object.freeze(saga)
}

describe('advance: every state × every event', () => {
  for (const [state, row] of Object.entries(matrix)) {
    describe(`given a saga ${state}`, () => {
      it('then the fixture is in that state', () => {
        expect(state.startsWith(states[state]!().status)).toBe(true)
      })
      for (const [ev, expected] of Object.entries(row) as [Ev, Expect][]) {
        it(`when ${ev}, then ${expected[0]}${expected[0] === 'applied' ? ` → ${expected[1]} [${expected[2].join(', ')}]${expected[3] ? ` order ${expected[3]}` : ''}` : ''}`, () => {
          const before = states[state]!()
          const snapshot = structuredClone(before)
          const { event, now } = eventFor(ev, before)
          const t = advance(frozen(before), event, now, config)
          expect(before).toEqual(snapshot) // the input is never changed
          expect(t.effect, t.note).toBe(expected[0])
          if (expected[0] !== 'applied') {
            expect(t.saga).toBe(before)
            expect(t.commands).toEqual([])
            expect(t.orderChange).toBeUndefined()
            return
          }
          expect(t.saga.status).toBe(expected[1])
          expect(t.commands.map((c) => c.type)).toEqual(expected[2])
          expect(t.orderChange?.to).toBe(expected[3])
          expect(t.saga.updatedAt).toEqual(now)
          // Every command is addressed to this saga and order.
          for (const c of t.commands) expect(c.data).toMatchObject({ orderId: ORDER, sagaId: SAGA })
          // A saga waiting for a reply has a deadline; one at rest has none.
          const waiting = t.saga.status === 'RUNNING' || t.saga.status === 'COMPENSATING'
          expect(t.saga.stepDeadline !== null).toBe(waiting)
        })
      }
    })
  }
})

// --- paths ----------------------------------------------------------------------------------------------------------------

const stepsOf = (s: Saga) => Object.fromEntries(s.steps.map((x) => [x.name, `${x.status}/${x.attempts}`]))

describe('advance: paths through the saga', () => {
  it('when the order has items, then the saga starts by reserving them with a deadline', () => {
    const t = openSaga({ orderId: ORDER, customerId: CUSTOMER, items: [{ productId: 'P-1', quantity: 2 }], totalCents: 1000, currency: 'USD', paymentToken: 'tok_visa', correlationId: 'c-1' }, SAGA, T0, config)
    expect(t.commands).toEqual([{ type: 'RESERVE_INVENTORY', data: { ...ref, items: [{ productId: 'P-1', quantity: 2 }] } }])
    expect(t.saga).toMatchObject({ status: 'RUNNING', currentStep: 'RESERVE_INVENTORY', reservation: 'REQUESTED', payment: 'NONE', stepDeadline: at(30) })
  })

  it('when the order has no items, then the saga goes straight to payment and forgets the token once sent', () => {
    const t = openSaga({ orderId: ORDER, customerId: CUSTOMER, items: [], totalCents: 4250, currency: 'USD', paymentToken: 'tok_visa', correlationId: 'c-1' }, SAGA, T0, config)
    expect(t.commands).toEqual([{ type: 'PROCESS_PAYMENT', data: { ...ref, customerId: CUSTOMER, amountCents: 4250, currency: 'USD', paymentToken: 'tok_visa' } }])
    expect(t.saga).toMatchObject({ currentStep: 'PROCESS_PAYMENT', reservation: 'NONE', payment: 'REQUESTED', paymentToken: null })
  })

  it('when reserved and paid, then the order is confirmed, the reservation committed and the saga completed', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED())
    const t = advance(s, replies.PAYMENT_PROCESSED(), at(10), config)
    expect(t).toMatchObject({ outcome: 'completed', orderChange: { to: 'CONFIRMED', cause: 'saga' } })
    expect(t.commands).toEqual([{ type: 'COMMIT_RESERVATION', data: ref }])
    expect(t.saga).toMatchObject({ status: 'COMPLETED', currentStep: null, stepDeadline: null, reservation: 'COMMITTED', payment: 'PROCESSED', paymentId: PAYMENT, completedAt: at(10) })
    expect(stepsOf(t.saga)).toEqual({ RESERVE_INVENTORY: 'COMPLETED/1', PROCESS_PAYMENT: 'COMPLETED/1', COMMIT_RESERVATION: 'COMPLETED/1' })
  })

  it('when PAYMENT_PROCESSED arrives again after completion, then nothing happens', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED())
    const t = advance(s, replies.PAYMENT_PROCESSED(), at(20), config)
    expect(t.effect).toBe('ignored')
    expect(t.saga).toBe(s)
  })

  it('when stock is short, then the order is cancelled with the failed items as reason and nothing is compensated', () => {
    const t = advance(started(), replies.INVENTORY_RESERVATION_FAILED(), at(1), config)
    expect(t.commands).toEqual([])
    expect(t.outcome).toBe('compensated')
    expect(t.orderChange).toEqual({ to: 'CANCELLED', cause: 'saga', reason: 'Insufficient inventory: P-1 (requested 3, available 1), P-2 (discontinued)' })
    expect(t.saga.steps.find((x) => x.name === 'RESERVE_INVENTORY')).toMatchObject({ status: 'FAILED', error: t.orderChange && 'reason' in t.orderChange ? t.orderChange.reason : '' })
  })

  it('when the payment is declined, then the stock is released and the order cancelled with the reason once released', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED())
    const t1 = advance(s, replies.PAYMENT_FAILED(), at(10), config)
    expect(t1.commands).toEqual([{ type: 'RELEASE_INVENTORY', data: { ...ref, reason: 'Payment failed: card declined' } }])
    expect(t1.orderChange).toBeUndefined()
    expect(t1.saga.steps.find((x) => x.name === 'PROCESS_PAYMENT')).toMatchObject({ status: 'FAILED', error: 'card_declined: card declined' })
    const t2 = advance(t1.saga, replies.INVENTORY_RELEASED(), at(11), config)
    expect(t2.orderChange).toEqual({ to: 'CANCELLED', cause: 'saga', reason: 'Payment failed: card declined' })
    expect(stepsOf(t2.saga)).toEqual({ RESERVE_INVENTORY: 'COMPENSATED/1', PROCESS_PAYMENT: 'FAILED/1', RELEASE_INVENTORY: 'COMPLETED/1' })
  })

  it('when the payment step times out, then refund (maybe charged) comes before release (reverse order), cause timeout', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED())
    const t1 = advance(s, deadline, at(100), config)
    expect(t1.commands.map((c) => c.type)).toEqual(['REFUND_PAYMENT'])
    expect(t1.saga.steps.find((x) => x.name === 'PROCESS_PAYMENT')?.status).toBe('TIMED_OUT')
    const t2 = advance(t1.saga, replies.PAYMENT_REFUNDED(), at(101), config)
    expect(t2.commands.map((c) => c.type)).toEqual(['RELEASE_INVENTORY'])
    const t3 = advance(t2.saga, replies.INVENTORY_RELEASED(), at(102), config)
    expect(t3.orderChange).toEqual({ to: 'CANCELLED', cause: 'timeout', reason: 'payment timed out' })
    expect(t3.saga.status).toBe('COMPENSATED')
  })

  it('when the reservation step times out, then the reservation that may exist is released anyway', () => {
    const t = advance(started(), deadline, at(31), config)
    expect(t.commands).toEqual([{ type: 'RELEASE_INVENTORY', data: { ...ref, reason: 'inventory reservation timed out' } }])
    expect(t.saga.cause).toBe('timeout')
  })

  it('when INVENTORY_RESERVED arrives after compensation started, then no payment is requested and the release in flight covers it', () => {
    const s = drive(started(), 'overdue')
    const t = advance(s, replies.INVENTORY_RESERVED(), at(40), config)
    expect(t.effect).toBe('ignored')
    expect(t.commands).toEqual([])
    const done = drive(s, replies.INVENTORY_RELEASED())
    expect(done.status).toBe('COMPENSATED')
  })

  it('when INVENTORY_RESERVED arrives after the release completed, then it is released again (never left held)', () => {
    const s = drive(started(), cancel, replies.INVENTORY_RELEASED())
    expect(s.status).toBe('COMPENSATED')
    const t = advance(s, replies.INVENTORY_RESERVED(), at(50), config)
    expect(t.commands.map((c) => c.type)).toEqual(['RELEASE_INVENTORY'])
    expect(t.orderChange).toBeUndefined()
    expect(t.saga.steps.find((x) => x.name === 'RELEASE_INVENTORY')?.attempts).toBe(2)
    // Its answer closes the loop without touching the order again.
    const t2 = advance(t.saga, replies.INVENTORY_RELEASED(), at(51), config)
    expect(t2).toMatchObject({ effect: 'applied', commands: [] })
    expect(t2.orderChange).toBeUndefined()
    expect(t2.saga).toMatchObject({ status: 'COMPENSATED', reservation: 'RELEASED' })
  })

  it('when a charge appears while the release is awaited, then it is refunded after the release', () => {
    const s = drive(started(), cancel, replies.PAYMENT_PROCESSED())
    const t = advance(s, replies.INVENTORY_RELEASED(), at(60), config)
    expect(t.commands.map((c) => c.type)).toEqual(['REFUND_PAYMENT'])
    const done = advance(t.saga, replies.PAYMENT_REFUNDED(), at(61), config)
    expect(done.orderChange).toMatchObject({ to: 'CANCELLED', cause: 'customer', actor: CUSTOMER })
  })

  it('when cancelled while the payment is in flight, then refund then release, and the late charge reply changes nothing', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED())
    const t = advance(s, cancel, at(20), config)
    expect(t.commands).toEqual([{ type: 'REFUND_PAYMENT', data: { ...ref, reason: 'customer changed their mind' } }])
    expect(t.saga.steps.find((x) => x.name === 'PROCESS_PAYMENT')?.status).toBe('CANCELLED')
    const late = advance(t.saga, replies.PAYMENT_PROCESSED(), at(21), config)
    expect(late.commands).toEqual([])
    expect(late.orderChange).toBeUndefined()
    const again = advance(late.saga, replies.PAYMENT_PROCESSED(), at(22), config)
    expect(again.effect).toBe('ignored')
  })

  it('when a confirmed order is cancelled, then refund and release (committed stock returns), cancelled when both answered', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED())
    const t1 = advance(s, cancel, at(30), config)
    expect(t1.saga.completedAt).toBeNull()
    const t2 = advance(t1.saga, replies.PAYMENT_REFUNDED(), at(31), config)
    expect(t2.commands.map((c) => c.type)).toEqual(['RELEASE_INVENTORY'])
    expect(t2.orderChange).toBeUndefined()
    const t3 = advance(t2.saga, replies.INVENTORY_RELEASED(), at(32), config)
    expect(t3.orderChange).toEqual({ to: 'CANCELLED', cause: 'customer', actor: CUSTOMER, reason: 'customer changed their mind' })
    expect(stepsOf(t3.saga)).toEqual({
      RESERVE_INVENTORY: 'COMPENSATED/1',
      PROCESS_PAYMENT: 'COMPENSATED/1',
      COMMIT_RESERVATION: 'COMPENSATED/1',
      REFUND_PAYMENT: 'COMPLETED/1',
      RELEASE_INVENTORY: 'COMPLETED/1',
    })
  })

  it('when the reservation expires before payment is confirmed, then refund (if charged) and cancel with "reservation expired"', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED())
    const t1 = advance(s, replies.RESERVATION_EXPIRED(), at(900), config)
    expect(t1.commands.map((c) => c.type)).toEqual(['REFUND_PAYMENT'])
    const t2 = advance(t1.saga, replies.PAYMENT_REFUNDED(), at(901), config)
    expect(t2.commands).toEqual([]) // the stock already returned: nothing to release
    expect(t2.orderChange).toEqual({ to: 'CANCELLED', cause: 'saga', reason: 'reservation expired' })
  })

  it('when the reservation of a confirmed order expires, then the saga stays completed and raises an alert', () => {
    const s = drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_PROCESSED())
    const t = advance(s, replies.RESERVATION_EXPIRED(), at(900), config)
    expect(t.saga).toMatchObject({ status: 'COMPLETED', reservation: 'EXPIRED' })
    expect(t.alert).toContain('expired')
    expect(t.orderChange).toBeUndefined()
  })

  it('when a compensation is unanswered, then it is re-sent with a doubling deadline, then COMPENSATION_FAILED', () => {
    let s = drive(started(), replies.INVENTORY_RESERVED(), replies.PAYMENT_FAILED())
    expect(s.compensationAttempts).toBe(1)
    const deadlines: number[] = []
    for (let attempt = 2; attempt <= config.maxCompensationAttempts; attempt++) {
      const now = new Date(s.stepDeadline!.getTime() + 1)
      const t = advance(s, deadline, now, config)
      expect(t.commands.map((c) => c.type)).toEqual(['RELEASE_INVENTORY'])
      expect(t.saga.compensationAttempts).toBe(attempt)
      deadlines.push((t.saga.stepDeadline!.getTime() - now.getTime()) / 1000)
      s = t.saga
    }
    expect(deadlines).toEqual([60, 120])
    const failed = advance(s, deadline, new Date(s.stepDeadline!.getTime() + 1), config)
    expect(failed).toMatchObject({ effect: 'applied', outcome: 'compensation_failed', commands: [] })
    expect(failed.alert).toContain('RELEASE_INVENTORY')
    expect(failed.saga).toMatchObject({ status: 'COMPENSATION_FAILED', stepDeadline: null, currentStep: 'RELEASE_INVENTORY' })
    expect(failed.saga.steps.find((x) => x.name === 'RELEASE_INVENTORY')).toMatchObject({ status: 'FAILED', attempts: 3 })
  })

  it('when an operator retries a failed compensation, then the command is re-sent and attempts restart', () => {
    const s = states['COMPENSATION_FAILED at RELEASE_INVENTORY']!()
    const t = advance(s, retry, at(9000), config)
    expect(t.commands).toEqual([{ type: 'RELEASE_INVENTORY', data: { ...ref, reason: 'Payment failed: card declined' } }])
    expect(t.saga).toMatchObject({ status: 'COMPENSATING', compensationAttempts: 1, stepDeadline: at(9030) })
    expect(t.saga.steps.find((x) => x.name === 'RELEASE_INVENTORY')).toMatchObject({ status: 'RUNNING', attempts: 4, error: null })
  })

  it('when a late reply answers a failed compensation, then the saga finishes without an operator', () => {
    const s = states['COMPENSATION_FAILED at REFUND_PAYMENT']!()
    const t1 = advance(s, replies.PAYMENT_REFUNDED(), at(9000), config)
    expect(t1.saga).toMatchObject({ status: 'COMPENSATING', currentStep: 'RELEASE_INVENTORY', compensationAttempts: 1 })
    const t2 = advance(t1.saga, replies.INVENTORY_RELEASED(), at(9001), config)
    expect(t2).toMatchObject({ outcome: 'compensated', orderChange: { to: 'CANCELLED', cause: 'timeout' } })
  })

  it('when an operator forces compensation, then the cause is operator and the actor recorded', () => {
    const t = advance(started(), compensate, at(5), config)
    expect(t.saga).toMatchObject({ status: 'COMPENSATING', cause: 'operator', cancelledBy: 'admin-1', cancelReason: 'stuck' })
  })

  it('backoff doubles per attempt', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffSeconds(30, n))).toEqual([30, 60, 120, 240, 480])
  })

  it('a transition result always names what it did', () => {
    const results: Transition[] = [advance(started(), deadline, T0, config), advance(started(), replies.INVENTORY_RESERVED(), at(1), config)]
    for (const r of results) expect(r.note.length).toBeGreaterThan(3)
  })
})
