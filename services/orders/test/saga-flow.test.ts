// The saga against the real database: orders placed through placeOrder, replies through saga.handleReply,
// deadlines through the sweeper, cancellations through saga.cancel. Assertions read the saga rows,
// the order and the outbox, which is all the rest of the system ever sees.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import pino from 'pino'
import client from 'prom-client'
import { sql } from 'kysely'
import type { MessageData } from '@trackops/contracts'
import { newMessage, type HandlerContext } from '@trackops/messaging'
import type { SagaReplyType } from '../src/saga/saga.ts'
import { startPeriodic } from '@trackops/runtime'
import { findSaga } from '../src/saga/store.ts'
import { orderNotFound } from '../src/change-status.ts'
import { placeOrder } from '../src/place-order.ts'
import { createBatchHandler } from '../src/handlers.ts'
import { getOrder, lockOrder } from '../src/order-store.ts'
import { listHistory } from '../src/history-store.ts'
import { STEP_TIMEOUT_SECONDS, createTestSaga, addProduct, address, createTestApp, createTestDb, forceStatus, insertBareOrder, outboxOf, bearer } from './support.ts'

const db = createTestDb()
const logs: Record<string, unknown>[] = []
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  }),
)
const MAX_ATTEMPTS = 3
const saga = createTestSaga(db, { logger, maxCompensationAttempts: MAX_ATTEMPTS })
const sweeper = saga.createSweeper()

afterAll(() => db.destroy())


/** Places an order with items (or a legacy one without) through the other use case, the way the API does. */
async function place(opts: { items?: number; token?: string } = {}) {
  const lines = []
  for (let i = 0; i < (opts.items ?? 1); i++) lines.push({ productId: await addProduct(db, { price: 12.5 }), quantity: i + 1 })
  const { order } = await placeOrder(
    { db, now: () => new Date(), newId: randomUUID, saga },
    {
      order: {
        customerId: randomUUID(),
        address: { ...address() },
        deliveryInstructions: null,
        items: lines.length ? lines : null,
        totalCents: lines.length ? null : 4250,
        paymentToken: opts.token ?? 'tok_visa',
      },
      cause: 'customer',
      ctx: { correlationId: `saga-flow-${randomUUID()}` },
    },
  )
  const started = await findSaga(db, { orderId: order.id })
  if (!started) throw new Error('placeOrder started no saga')
  return { order, saga: started, ref: { orderId: order.id, sagaId: started.id } }
}

type Ref = { orderId: string; sagaId: string }
const replyData = {
  INVENTORY_RESERVED: (r: Ref) => ({ ...r, items: [{ productId: 'P', productName: 'P', quantity: 1, unitPriceCents: 1250 }], expiresAt: new Date(Date.now() + 900_000).toISOString() }),
  INVENTORY_RESERVATION_FAILED: (r: Ref) =>
    ({ ...r, failedItems: [{ productId: 'P-SHORT', requested: 5, available: 2, reason: 'INSUFFICIENT' }] }) as unknown as MessageData<'INVENTORY_RESERVATION_FAILED'>,
  INVENTORY_RELEASED: (r: Ref) => ({ ...r, items: [{ productId: 'P', quantity: 1 }], reason: 'released' }),
  RESERVATION_EXPIRED: (r: Ref) => ({ orderId: r.orderId, items: [{ productId: 'P', quantity: 1 }], expiredAt: new Date().toISOString() }),
  PAYMENT_PROCESSED: (r: Ref) => ({ ...r, paymentId: PAYMENT_ID, amountCents: 1250 }),
  PAYMENT_FAILED: (r: Ref) => ({ ...r, reason: 'card declined', code: 'card_declined' }),
  PAYMENT_REFUNDED: (r: Ref) => ({ ...r, paymentId: PAYMENT_ID, amountCents: 1250 }),
} satisfies { [T in SagaReplyType]: (r: Ref) => MessageData<T> }
const PAYMENT_ID = randomUUID()

const handlerCtx = (message: { id: string; correlationId: string }): HandlerContext => ({
  correlationId: message.correlationId,
  causationId: message.id,
  headers: {},
  recordTimestamp: Date.now(),
  log: logger.child({ messageId: message.id }),
})

/** Builds a reply and applies it as the consumer runner would (one transaction); returns it for re-delivery. */
async function deliver<T extends SagaReplyType>(type: T, ref: Ref, message = newMessage(type, replyData[type](ref) as MessageData<T>, { correlationId: 'reply' })) {
  await db.transaction().execute((tx) => saga.handleReply(tx, message, handlerCtx(message)))
  return message
}

const types = async (orderId: string) => (await outboxOf(db, orderId)).map((r) => r.type)
const payloadOf = async (orderId: string, type: string) => {
  const rows = (await outboxOf(db, orderId)).filter((r) => r.type === type)
  return rows.map((r) => JSON.parse(r.payload) as { data: Record<string, unknown>; correlationId: string; causationId?: string })
}
const sagaOf = async (orderId: string) => (await findSaga(db, { orderId }))!
const statusOf = async (orderId: string) => (await getOrder(db, orderId))!.status
const stepStates = async (orderId: string) => Object.fromEntries((await sagaOf(orderId)).steps.map((s) => [s.name, `${s.status}/${s.attempts}`]))
const after = (date: Date | null, seconds = 1) => new Date((date ?? new Date()).getTime() + seconds * 1000)

const cancel = (orderId: string, reason = 'changed my mind', cause: 'customer' | 'operator' = 'customer') =>
  db.transaction().execute(async (tx) => {
    const order = await lockOrder(tx, orderId)
    if (!order) throw orderNotFound(orderId)
    const { outcome } = await saga.cancel(tx, order, { reason, cause, actor: 'someone' }, { correlationId: `cancel-${orderId}` }, new Date())
    return outcome
  })

const metric = async (name: string, labels: Record<string, string> = {}) => {
  const m = client.register.getSingleMetric(name)
  const values = (await m?.get())?.values ?? []
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x) && !('metricName' in v && String(v.metricName).endsWith('_bucket'))).reduce((n, v) => n + v.value, 0)
}

// --- the paths ----------------------------------------------------------------------------------------------------------

describe('the order saga against PostgreSQL', () => {
  it('when inventory is reserved and payment processed, then the order is CONFIRMED, the reservation committed and the saga COMPLETED', async () => {
    const completedBefore = await metric('trackops_saga_outcomes_total', { outcome: 'completed' })
    const { order, saga, ref } = await place({ items: 2, token: 'tok_mastercard' })
    expect(saga).toMatchObject({ status: 'RUNNING', currentStep: 'RESERVE_INVENTORY', reservation: 'REQUESTED', paymentToken: 'tok_mastercard' })
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY'])
    const [reserve] = await payloadOf(order.id, 'RESERVE_INVENTORY')
    expect(reserve!.data).toEqual({ ...ref, items: order.items.map((i) => ({ productId: i.productId, quantity: i.quantity })) })

    const reserved = await deliver('INVENTORY_RESERVED', ref)
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'PROCESS_PAYMENT'])
    const [pay] = await payloadOf(order.id, 'PROCESS_PAYMENT')
    expect(pay!.data).toEqual({ ...ref, customerId: order.customerId, amountCents: order.totalCents, currency: 'USD', paymentToken: 'tok_mastercard' })
    expect(pay!.causationId).toBe(reserved.id) // commands are caused by the reply that triggered them
    expect((await sagaOf(order.id)).paymentToken).toBeNull()

    await deliver('PAYMENT_PROCESSED', ref)
    expect(await statusOf(order.id)).toBe('CONFIRMED')
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'ORDER_STATUS_UPDATED'])
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPLETED', currentStep: null, stepDeadline: null, reservation: 'COMMITTED', payment: 'PROCESSED', paymentId: PAYMENT_ID })
    expect(await stepStates(order.id)).toEqual({ RESERVE_INVENTORY: 'COMPLETED/1', PROCESS_PAYMENT: 'COMPLETED/1', COMMIT_RESERVATION: 'COMPLETED/1' })
    const history = await listHistory(db, order.id)
    expect(history.at(-1)).toMatchObject({ from: 'PENDING', to: 'CONFIRMED', cause: 'saga' })
    expect(await metric('trackops_saga_outcomes_total', { outcome: 'completed' })).toBe(completedBefore + 1)
  })

  it('when the order has no items, then the saga skips the reservation and confirms on payment', async () => {
    const { order, ref } = await place({ items: 0 })
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'PROCESS_PAYMENT'])
    await deliver('PAYMENT_PROCESSED', ref)
    expect(await statusOf(order.id)).toBe('CONFIRMED')
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'PROCESS_PAYMENT', 'ORDER_STATUS_UPDATED'])
  })

  it('when stock is short, then the order is CANCELLED with the failed items as reason and nothing is compensated', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVATION_FAILED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'ORDER_STATUS_UPDATED', 'ORDER_CANCELLED'])
    const [cancelled] = await payloadOf(order.id, 'ORDER_CANCELLED')
    expect(cancelled!.data).toMatchObject({ reason: 'Insufficient inventory: P-SHORT (requested 5, available 2)', cause: 'saga', previousStatus: 'PENDING' })
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATED', reservation: 'FAILED', payment: 'NONE' })
    expect(await stepStates(order.id)).toEqual({ RESERVE_INVENTORY: 'FAILED/1' })
  })

  it('when the payment is declined, then the stock is released and the order CANCELLED with the reason once released', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    await deliver('PAYMENT_FAILED', ref)
    expect(await statusOf(order.id)).toBe('PENDING')
    expect((await types(order.id)).slice(2)).toEqual(['PROCESS_PAYMENT', 'RELEASE_INVENTORY'])
    const [release] = await payloadOf(order.id, 'RELEASE_INVENTORY')
    expect(release!.data).toEqual({ ...ref, reason: 'Payment failed: card declined' })

    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    const [cancelled] = await payloadOf(order.id, 'ORDER_CANCELLED')
    expect(cancelled!.data).toMatchObject({ reason: 'Payment failed: card declined', cause: 'saga' })
    expect(await stepStates(order.id)).toEqual({ RESERVE_INVENTORY: 'COMPENSATED/1', PROCESS_PAYMENT: 'FAILED/1', RELEASE_INVENTORY: 'COMPLETED/1' })
  })

  it('when the payment step passes its deadline, then the sweeper refunds then releases (reverse order) and the order is CANCELLED by timeout', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    const running = await sagaOf(order.id)
    expect(await sweeper.sweepOnce(after(running.stepDeadline, -1))).toBeGreaterThanOrEqual(0)
    expect((await sagaOf(order.id)).status).toBe('RUNNING') // not yet due

    expect(await sweeper.sweepOnce(after(running.stepDeadline))).toBeGreaterThanOrEqual(1)
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATING', currentStep: 'REFUND_PAYMENT', cause: 'timeout', compensationAttempts: 1 })
    expect((await types(order.id)).slice(2)).toEqual(['PROCESS_PAYMENT', 'REFUND_PAYMENT'])
    const [refund] = await payloadOf(order.id, 'REFUND_PAYMENT')
    expect(refund!.correlationId).toBe(running.correlationId) // the order's trail continues

    // No charge existed: payments answers amount 0, and the release follows.
    await deliver('PAYMENT_REFUNDED', ref, newMessage('PAYMENT_REFUNDED', { ...ref, paymentId: null, amountCents: 0 }, { correlationId: 'r' }))
    expect((await types(order.id)).slice(2)).toEqual(['PROCESS_PAYMENT', 'REFUND_PAYMENT', 'RELEASE_INVENTORY'])
    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect((await listHistory(db, order.id)).at(-1)).toMatchObject({ to: 'CANCELLED', cause: 'timeout', reason: 'payment timed out' })
    expect(await stepStates(order.id)).toEqual({ RESERVE_INVENTORY: 'COMPENSATED/1', PROCESS_PAYMENT: 'TIMED_OUT/1', REFUND_PAYMENT: 'COMPLETED/1', RELEASE_INVENTORY: 'COMPLETED/1' })
  })

  it('when replies arrive late after a timeout, then no payment is requested and a reservation that resurfaces is released again', async () => {
    const { order, ref } = await place()
    await sweeper.sweepOnce(after((await sagaOf(order.id)).stepDeadline))
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY'])

    await deliver('INVENTORY_RESERVED', ref) // the reservation the release will undo
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY'])
    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect((await listHistory(db, order.id)).at(-1)).toMatchObject({ cause: 'timeout', reason: 'inventory reservation timed out' })

    // A reservation replayed after everything (a new reply id): released again, the order untouched.
    await deliver('INVENTORY_RESERVED', ref)
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY', 'ORDER_STATUS_UPDATED', 'ORDER_CANCELLED', 'RELEASE_INVENTORY'])
    await deliver('PAYMENT_FAILED', ref) // for a payment never asked for: ignored
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATED', reservation: 'RELEASING' })
    await deliver('INVENTORY_RELEASED', ref)
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATED', reservation: 'RELEASED' })
    expect(await statusOf(order.id)).toBe('CANCELLED')
  })

  it('when replies are delivered twice, then each takes effect once', async () => {
    const { order, ref } = await place()
    const reserved = await deliver('INVENTORY_RESERVED', ref)
    const version = (await sagaOf(order.id)).version
    await deliver('INVENTORY_RESERVED', ref, reserved) // the same message again
    await deliver('INVENTORY_RESERVED', ref) // re-emitted with a new id
    expect((await sagaOf(order.id)).version).toBe(version)
    const processed = await deliver('PAYMENT_PROCESSED', ref)
    await deliver('PAYMENT_PROCESSED', ref, processed)
    await deliver('PAYMENT_PROCESSED', ref)
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'ORDER_STATUS_UPDATED'])
    expect(await statusOf(order.id)).toBe('CONFIRMED')
  })

  it('when cancelled while the reservation is in flight, then RELEASE_INVENTORY is sent at once and the order is CANCELLED when it is answered', async () => {
    const { order, ref } = await place()
    expect(await cancel(order.id, 'found it cheaper')).toBe('compensating')
    expect(await statusOf(order.id)).toBe('PENDING')
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY'])
    expect(await cancel(order.id, 'again')).toBe('compensating') // nothing new is sent
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY'])

    await deliver('INVENTORY_RESERVED', ref) // in flight before the cancellation: must not start the payment
    expect((await types(order.id)).slice(2)).toEqual(['RELEASE_INVENTORY'])
    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect((await listHistory(db, order.id)).at(-1)).toMatchObject({ to: 'CANCELLED', cause: 'customer', reason: 'found it cheaper', actor: 'someone' })
    // The reservation was abandoned in flight (CANCELLED), then undone by the release.
    expect(await stepStates(order.id)).toEqual({ RESERVE_INVENTORY: 'CANCELLED/1', RELEASE_INVENTORY: 'COMPLETED/1' })
    expect(await cancel(order.id)).toBe('already-cancelled')
  })

  it('when a CONFIRMED order is cancelled, then the payment is refunded and the stock returned before it is CANCELLED', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    await deliver('PAYMENT_PROCESSED', ref)
    await forceStatus(db, order.id, 'SHIPPED')
    expect(await cancel(order.id, 'lost in transit', 'operator')).toBe('compensating')
    expect((await types(order.id)).slice(-1)).toEqual(['REFUND_PAYMENT'])
    await deliver('PAYMENT_REFUNDED', ref)
    expect((await types(order.id)).slice(-1)).toEqual(['RELEASE_INVENTORY'])
    expect(await statusOf(order.id)).toBe('SHIPPED')
    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    const [cancelled] = await payloadOf(order.id, 'ORDER_CANCELLED')
    expect(cancelled!.data).toMatchObject({ previousStatus: 'SHIPPED', reason: 'lost in transit', cause: 'operator' })
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATED', reservation: 'RELEASED', payment: 'REFUNDED' })
  })

  it('when an order without a saga is cancelled, then it is CANCELLED at once; a DELIVERED one is not cancellable', async () => {
    const bare = await insertBareOrder(db, 'PENDING')
    expect(await cancel(bare)).toBe('cancelled')
    expect(await statusOf(bare)).toBe('CANCELLED')
    expect(await cancel(bare)).toBe('already-cancelled')
    const delivered = await insertBareOrder(db, 'DELIVERED')
    expect(await cancel(delivered)).toBe('not-cancellable')
    await expect(cancel(randomUUID())).rejects.toMatchObject({ code: 'order.not-found' })
  })

  it('when payment succeeds for an order cancelled outside the saga, then the charge and reservation are compensated, not kept', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    await forceStatus(db, order.id, 'CANCELLED')
    await deliver('PAYMENT_PROCESSED', ref)
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATING', currentStep: 'REFUND_PAYMENT', cause: 'system' })
    expect((await types(order.id)).slice(-2)).toEqual(['COMMIT_RESERVATION', 'REFUND_PAYMENT'])
  })

  it('when a reservation expires before payment is confirmed, then the saga refunds and cancels with "reservation expired"', async () => {
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    await deliver('RESERVATION_EXPIRED', ref)
    expect((await types(order.id)).slice(-1)).toEqual(['REFUND_PAYMENT'])
    await deliver('PAYMENT_REFUNDED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect((await listHistory(db, order.id)).at(-1)).toMatchObject({ reason: 'reservation expired', cause: 'saga' })
    expect(await types(order.id)).not.toContain('RELEASE_INVENTORY')
  })

  it('when a reply names an unknown saga, then it is logged and ignored', async () => {
    const ref = { orderId: randomUUID(), sagaId: randomUUID() }
    const message = await deliver('PAYMENT_PROCESSED', ref)
    expect(logs.some((l) => l.messageId === message.id && l.msg === 'saga reply for an unknown saga ignored')).toBe(true)
    // A saga id that belongs to another order is not trusted either.
    const { order, ref: real } = await place()
    await deliver('INVENTORY_RESERVED', { orderId: ref.orderId, sagaId: real.sagaId })
    expect((await sagaOf(order.id)).status).toBe('RUNNING')
    expect((await sagaOf(order.id)).currentStep).toBe('RESERVE_INVENTORY')
  })

  it('when a message is not a saga reply, then the saga handler ignores it', async () => {
    const { order } = await place()
    const message = newMessage('LOW_STOCK', { productId: 'P', available: 1, minStockLevel: 5 }, { correlationId: 'x' })
    await db.transaction().execute((tx) => saga.handleReply(tx, message, handlerCtx(message)))
    expect(await types(order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY'])
  })

  it('when another transaction holds a saga, then the sweeper skips it instead of waiting (safe with several copies)', async () => {
    const { order, saga } = await place()
    const due = after(saga.stepDeadline)
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let locked!: () => void
    const isLocked = new Promise<void>((r) => (locked = r))
    const holder = db.transaction().execute(async (tx) => {
      await sql`SELECT 1 FROM saga_instances WHERE id = ${saga.id} FOR UPDATE`.execute(tx)
      locked()
      await held
    })
    await isLocked
    // The lock is released only after this sweep returns: had the sweeper waited for it, the test would hang.
    await sweeper.sweepOnce(due)
    expect((await sagaOf(order.id)).status).toBe('RUNNING')
    release()
    await holder
    await sweeper.sweepOnce(due)
    expect((await sagaOf(order.id)).status).toBe('COMPENSATING')
  })

  it('when two sweepers run at once, then each overdue saga is compensated exactly once', async () => {
    const placed = await Promise.all([place(), place(), place()])
    const due = after(new Date(Math.max(...placed.map((p) => p.saga.stepDeadline!.getTime()))))
    const other = createTestSaga(db, { logger }).createSweeper()
    await Promise.all([sweeper.sweepOnce(due), other.sweepOnce(due)])
    for (const p of placed) {
      expect((await types(p.order.id)).filter((t) => t === 'RELEASE_INVENTORY')).toHaveLength(1)
      expect((await sagaOf(p.order.id)).compensationAttempts).toBe(1)
    }
  })

  it('when a compensation is never answered, then it is re-sent with doubling deadlines, rests in COMPENSATION_FAILED (metric, error log), and an operator retry resumes it', async () => {
    const failedBefore = await metric('trackops_saga_compensation_failed_total')
    const { order, ref } = await place()
    await deliver('INVENTORY_RESERVED', ref)
    await deliver('PAYMENT_FAILED', ref)
    const waits: number[] = []
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      const s = await sagaOf(order.id)
      const now = after(s.stepDeadline)
      await sweeper.sweepOnce(now)
      const next = await sagaOf(order.id)
      expect(next.compensationAttempts).toBe(attempt)
      waits.push(Math.round((next.stepDeadline!.getTime() - now.getTime()) / 1000))
    }
    expect(waits).toEqual([STEP_TIMEOUT_SECONDS * 2, STEP_TIMEOUT_SECONDS * 4])
    expect((await types(order.id)).filter((t) => t === 'RELEASE_INVENTORY')).toHaveLength(MAX_ATTEMPTS)

    await sweeper.sweepOnce(after((await sagaOf(order.id)).stepDeadline))
    const failed = await sagaOf(order.id)
    expect(failed).toMatchObject({ status: 'COMPENSATION_FAILED', currentStep: 'RELEASE_INVENTORY', stepDeadline: null })
    expect(failed.steps.find((s) => s.name === 'RELEASE_INVENTORY')).toMatchObject({ status: 'FAILED', attempts: MAX_ATTEMPTS, error: `no reply after ${MAX_ATTEMPTS} attempts` })
    // The counter is process-wide and the sweep may also exhaust sagas left by other tests: it grew by at least ours.
    expect(await metric('trackops_saga_compensation_failed_total')).toBeGreaterThanOrEqual(failedBefore + 1)
    expect(logs.some((l) => l.level === 50 && l.sagaId === failed.id && String(l.msg).includes('compensation failed'))).toBe(true)
    await sweeper.sweepOnce(after(new Date(), 24 * 3600)) // resting: no deadline, nothing more is sent
    expect((await types(order.id)).filter((t) => t === 'RELEASE_INVENTORY')).toHaveLength(MAX_ATTEMPTS)
    expect(await statusOf(order.id)).toBe('PENDING')

    const { app } = await createTestApp(db)
    try {
      const listed = await app.inject({ url: '/api/sagas/status/COMPENSATION_FAILED?size=100', headers: { authorization: await bearer('operator') } })
      expect(listed.json().content.map((s: { id: string }) => s.id)).toContain(failed.id)
      const retried = await app.inject({ method: 'POST', url: `/api/sagas/${failed.id}/retry`, headers: { authorization: await bearer('admin') } })
      expect(retried.statusCode).toBe(202)
      expect(retried.json()).toMatchObject({ status: 'COMPENSATING', compensationAttempts: 1, currentStep: 'RELEASE_INVENTORY' })
    } finally {
      await app.close()
    }
    expect((await types(order.id)).filter((t) => t === 'RELEASE_INVENTORY')).toHaveLength(MAX_ATTEMPTS + 1)
    await deliver('INVENTORY_RELEASED', ref)
    expect(await statusOf(order.id)).toBe('CANCELLED')
    expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATED', compensationAttempts: 0 })
  })

  it('when the sweeper runs as its periodic job, then it sweeps pass after pass until stopped, and after stop() nothing more', async () => {
    // Days ahead, so no other test's sweep reaches the deadlines this clock sets.
    let clock = after(new Date(), 10 * 24 * 3600)
    const timed = createTestSaga(db, { logger, now: () => clock, maxCompensationAttempts: MAX_ATTEMPTS }).createSweeper()
    const { order } = await place()
    const job = startPeriodic({ ...timed.job(10), logger })
    try {
      await vi.waitFor(async () => expect(await sagaOf(order.id)).toMatchObject({ status: 'COMPENSATING', currentStep: 'RELEASE_INVENTORY', compensationAttempts: 1 }), { timeout: 5_000, interval: 20 })
      clock = after((await sagaOf(order.id)).stepDeadline) // a later pass finds the unanswered release
      await vi.waitFor(async () => expect((await sagaOf(order.id)).compensationAttempts).toBe(2), { timeout: 5_000, interval: 20 })
    } finally {
      await job.stop()
    }
    const stopped = await sagaOf(order.id)
    clock = after(stopped.stepDeadline, 3600)
    await new Promise((r) => setTimeout(r, 200)) // twenty intervals
    expect(await sagaOf(order.id)).toMatchObject({ compensationAttempts: 2, version: stopped.version })
  })
})

beforeAll(async () => {
  // The tables this file relies on exist (0002_sagas applied after 0001_orders).
  await sql`SELECT 1 FROM saga_instances, saga_steps LIMIT 1`.execute(db)
})

describe('replies applied as a batch (the consumer runner hands the group one batch per transaction)', () => {
  const applyBatch = createBatchHandler({ saga })
  const item = <T extends SagaReplyType>(type: T, ref: Ref) => {
    const message = newMessage(type, replyData[type](ref) as MessageData<T>, { correlationId: 'batch' })
    return { message, ctx: handlerCtx(message) }
  }

  it('when one batch holds two orders, one of them reserved and paid, then each reply sees the state the one before it left: that order CONFIRMED and COMPLETED, the other awaiting payment', async () => {
    const a = await place({ items: 2 })
    const b = await place()
    await db.transaction().execute((tx) => applyBatch(tx, [item('INVENTORY_RESERVED', a.ref), item('INVENTORY_RESERVED', b.ref), item('PAYMENT_PROCESSED', a.ref)]))
    expect(await statusOf(a.order.id)).toBe('CONFIRMED')
    expect(await types(a.order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'ORDER_STATUS_UPDATED'])
    expect(await sagaOf(a.order.id)).toMatchObject({ status: 'COMPLETED', reservation: 'COMMITTED', payment: 'PROCESSED', version: a.saga.version + 2 })
    expect(await stepStates(a.order.id)).toEqual({ RESERVE_INVENTORY: 'COMPLETED/1', PROCESS_PAYMENT: 'COMPLETED/1', COMMIT_RESERVATION: 'COMPLETED/1' })
    // The order's row and history were written once, at the end of the batch, as if the changes had gone one by one.
    const confirmed = (await getOrder(db, a.order.id))!
    expect(confirmed.version).toBe(a.order.version + 1)
    expect((await listHistory(db, a.order.id)).at(-1)).toMatchObject({ from: 'PENDING', to: 'CONFIRMED', cause: 'saga', orderVersion: confirmed.version })
    expect(await statusOf(b.order.id)).toBe('PENDING')
    expect(await types(b.order.id)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'PROCESS_PAYMENT'])
    expect(await sagaOf(b.order.id)).toMatchObject({ status: 'RUNNING', currentStep: 'PROCESS_PAYMENT' })
  })

  it('when a batch holds a reply for a saga that does not match its order, then that reply is ignored and the others apply', async () => {
    const a = await place()
    const other = await place()
    await db.transaction().execute((tx) => applyBatch(tx, [item('INVENTORY_RESERVED', { orderId: a.order.id, sagaId: other.saga.id }), item('INVENTORY_RESERVED', other.ref)]))
    expect(await sagaOf(a.order.id)).toMatchObject({ status: 'RUNNING', currentStep: 'RESERVE_INVENTORY', version: a.saga.version })
    expect(await sagaOf(other.order.id)).toMatchObject({ currentStep: 'PROCESS_PAYMENT' })
  })
})
