// PROCESS_PAYMENT and REFUND_PAYMENT against the real database and the real sandbox gateway: every test-mode
// token, idempotency per order (never two charges, never a refund without a charge), and crash safety.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { newMessage, PermanentError } from '@trackops/messaging'
import { createResilientGateway } from '../src/resilient-gateway.ts'
import { createSandboxGateway } from '../src/sandbox-gateway.ts'
import { createPaymentBatchHandler, createPaymentHandler } from '../src/handlers.ts'
import type { PaymentGateway } from '../src/gateway.ts'
import type { AnyMessage } from '@trackops/contracts'
import { chargeKey } from '../src/process-payment.ts'
import { refundKey } from '../src/refund-payment.ts'
import { apply, counting, db, logger, paymentOf, processCommand, refundCommand, refundOf, repliesFor, sandboxDb, sandboxRecord } from './support.ts'

const TIMEOUT_MS = 150

/** A fresh breaker per test, so one test's failures never open the circuit for the next. */
function setup() {
  const sandbox = counting(createSandboxGateway(sandboxDb))
  const gateway = createResilientGateway(sandbox.gateway, { timeoutMs: TIMEOUT_MS, initialBackoffMs: 10, maxBackoffMs: 50 })
  const handle = createPaymentHandler({ gateway, now: () => new Date(), newId: randomUUID })
  return { handle, calls: sandbox.calls, gateway }
}

afterAll(async () => {
  await db.destroy()
  await sandboxDb.destroy()
})

describe('PROCESS_PAYMENT with each sandbox token', () => {
  it('when the token is tok_visa, then the order is charged once and PAYMENT_PROCESSED replies in the same transaction', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: 'tok_visa', amountCents: 1999 })
    await apply(handle, command)

    const payment = await paymentOf(command.data.orderId)
    expect(payment).toMatchObject({ status: 'CHARGED', amount_cents: 1999, currency: 'EUR', customer_id: command.data.customerId, attempts: 1 })
    expect(payment?.gateway_charge_id).toMatch(/^ch_sandbox_/)
    expect(calls.charge).toBe(1)
    expect(await sandboxRecord(chargeKey(command.data.orderId))).toMatchObject({ outcome: 'approved', calls: 1, gateway_id: payment?.gateway_charge_id })

    const replies = await repliesFor(command.data.orderId)
    expect(replies).toHaveLength(1)
    expect(replies[0]).toMatchObject({ type: 'PAYMENT_PROCESSED', topic: 'payments.events' })
    expect(replies[0]!.payload).toMatchObject({
      correlationId: command.correlationId,
      causationId: command.id,
      data: { orderId: command.data.orderId, sagaId: command.data.sagaId, paymentId: payment?.id, amountCents: 1999 },
    })
  })

  it('when the token is tok_chargeDeclined, then PAYMENT_FAILED with code card_declined and the payment is FAILED', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: 'tok_chargeDeclined' })
    await apply(handle, command)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'card_declined', gateway_charge_id: null, attempts: 1 })
    const [reply] = await repliesFor(command.data.orderId)
    expect(reply?.type).toBe('PAYMENT_FAILED')
    expect(reply?.payload.data).toMatchObject({ code: 'card_declined', reason: expect.stringMatching(/declined/i) })
    expect(calls.charge).toBe(1) // a decline is an answer: not retried
  })

  it('when the token is tok_insufficientFunds, then PAYMENT_FAILED with code insufficient_funds', async () => {
    const { handle } = setup()
    const command = processCommand({ paymentToken: 'tok_insufficientFunds' })
    await apply(handle, command)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'insufficient_funds' })
    const [reply] = await repliesFor(command.data.orderId)
    expect(reply?.payload.data).toMatchObject({ code: 'insufficient_funds', reason: expect.stringMatching(/insufficient funds/i) })
  })

  it('when the token is tok_transientError, then the gateway fails twice, the third attempt charges, and PAYMENT_PROCESSED replies', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: 'tok_transientError' })
    await apply(handle, command)
    expect(calls.charge).toBe(3)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'CHARGED', attempts: 3 })
    expect(await sandboxRecord(chargeKey(command.data.orderId))).toMatchObject({ outcome: 'approved', calls: 3 })
    expect((await repliesFor(command.data.orderId)).map((r) => r.type)).toEqual(['PAYMENT_PROCESSED'])
  })

  it('when the token is tok_timeout, then every attempt times out and PAYMENT_FAILED with code gateway_timeout replies', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: 'tok_timeout' })
    const started = Date.now()
    await apply(handle, command)
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * TIMEOUT_MS)
    expect(calls.charge).toBe(3)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_timeout', attempts: 3 })
    const [reply] = await repliesFor(command.data.orderId)
    expect(reply).toMatchObject({ type: 'PAYMENT_FAILED', payload: { data: { code: 'gateway_timeout' } } })
    expect(await sandboxRecord(chargeKey(command.data.orderId))).toMatchObject({ outcome: 'pending', calls: 3 })
  })

  it('when the amount is zero, then the payment is CHARGED without calling the gateway', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ amountCents: 0 })
    await apply(handle, command)
    expect(calls.charge).toBe(0)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'CHARGED', amount_cents: 0, gateway_charge_id: null })
  })
})

describe('PROCESS_PAYMENT idempotency', () => {
  it('when PROCESS_PAYMENT repeats for a charged order, then it replies PAYMENT_PROCESSED with the same paymentId without calling the gateway', async () => {
    const { handle, calls } = setup()
    const first = processCommand()
    await apply(handle, first)
    // the saga re-sent the command: a new message id, same order
    const again = newMessage('PROCESS_PAYMENT', first.data, { correlationId: first.correlationId })
    await apply(handle, again)

    expect(calls.charge).toBe(1)
    expect(await sandboxRecord(chargeKey(first.data.orderId))).toMatchObject({ calls: 1 })
    const payment = await paymentOf(first.data.orderId)
    const replies = await repliesFor(first.data.orderId)
    expect(replies.map((r) => [r.type, r.payload.data.paymentId, r.payload.causationId])).toEqual([
      ['PAYMENT_PROCESSED', payment?.id, first.id],
      ['PAYMENT_PROCESSED', payment?.id, again.id],
    ])
  })

  it('when PROCESS_PAYMENT repeats for a declined order, then it replies PAYMENT_FAILED again with the same code and no new gateway call', async () => {
    const { handle, calls } = setup()
    const first = processCommand({ paymentToken: 'tok_chargeDeclined' })
    await apply(handle, first)
    await apply(handle, newMessage('PROCESS_PAYMENT', { ...first.data, paymentToken: 'tok_visa' }, { correlationId: first.correlationId }))
    expect(calls.charge).toBe(1)
    expect((await repliesFor(first.data.orderId)).map((r) => [r.type, r.payload.data.code])).toEqual([
      ['PAYMENT_FAILED', 'card_declined'],
      ['PAYMENT_FAILED', 'card_declined'],
    ])
  })

  it('when the handler transaction rolls back after the gateway charged, then the retry gets the same charge back instead of a second one', async () => {
    const { handle } = setup()
    const command = processCommand()
    const crash = new Error('process died before commit')
    await expect(
      db.transaction().execute(async (tx) => {
        await handle(tx, command, { correlationId: command.correlationId, causationId: command.id, log: logger, headers: {}, recordTimestamp: Date.now() })
        throw crash
      }),
    ).rejects.toBe(crash)
    expect(await paymentOf(command.data.orderId)).toBeUndefined()
    const charged = await sandboxRecord(chargeKey(command.data.orderId))
    expect(charged).toMatchObject({ outcome: 'approved', calls: 1 })

    await apply(handle, command) // the runner retries the same record
    const payment = await paymentOf(command.data.orderId)
    expect(payment).toMatchObject({ status: 'CHARGED', gateway_charge_id: charged?.gateway_id })
    expect(await sandboxRecord(chargeKey(command.data.orderId))).toMatchObject({ outcome: 'approved', calls: 2, gateway_id: charged?.gateway_id })
    expect(await repliesFor(command.data.orderId)).toHaveLength(1)
  })

  it('when two copies of the service apply PROCESS_PAYMENT for one order at once, then one payment is made and both reply with it', async () => {
    const a = setup()
    const b = setup()
    const command = processCommand({ paymentToken: 'tok_transientError' }) // slow enough to overlap
    const twin = newMessage('PROCESS_PAYMENT', command.data, { correlationId: command.correlationId })
    await Promise.all([apply(a.handle, command), apply(b.handle, twin)])
    const payment = await paymentOf(command.data.orderId)
    expect(payment?.status).toBe('CHARGED')
    const replies = await repliesFor(command.data.orderId)
    expect(replies.map((r) => [r.type, r.payload.data.paymentId])).toEqual([
      ['PAYMENT_PROCESSED', payment?.id],
      ['PAYMENT_PROCESSED', payment?.id],
    ])
    expect(a.calls.charge + b.calls.charge).toBe(3)
  })
})

describe('REFUND_PAYMENT', () => {
  it('when a charged order is refunded, then the gateway refunds the charge once and PAYMENT_REFUNDED carries the payment and amount', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ amountCents: 5_000 })
    await apply(handle, command)
    const refund = refundCommand(command.data.orderId, command.data.sagaId)
    await apply(handle, refund)

    const payment = await paymentOf(command.data.orderId)
    expect(payment?.status).toBe('REFUNDED')
    expect(await refundOf(command.data.orderId)).toMatchObject({ status: 'REFUNDED', payment_id: payment?.id, amount_cents: 5_000, reason: 'saga compensation' })
    expect(await sandboxRecord(refundKey(command.data.orderId))).toMatchObject({ outcome: 'approved', calls: 1, amount_cents: 5_000 })
    expect(calls.refund).toBe(1)
    const replies = await repliesFor(command.data.orderId)
    expect(replies.map((r) => r.type)).toEqual(['PAYMENT_PROCESSED', 'PAYMENT_REFUNDED'])
    expect(replies[1]!.payload).toMatchObject({ causationId: refund.id, data: { paymentId: payment?.id, amountCents: 5_000 } })
  })

  it('when REFUND_PAYMENT repeats, then the same refund is answered again and the gateway is not called again', async () => {
    const { handle, calls } = setup()
    const command = processCommand()
    await apply(handle, command)
    await apply(handle, refundCommand(command.data.orderId, command.data.sagaId))
    await apply(handle, refundCommand(command.data.orderId, command.data.sagaId))
    expect(calls.refund).toBe(1)
    const refunds = (await repliesFor(command.data.orderId)).filter((r) => r.type === 'PAYMENT_REFUNDED')
    expect(refunds).toHaveLength(2)
    expect(refunds[1]!.payload.data).toEqual(refunds[0]!.payload.data)
  })

  it('when nothing was charged, then PAYMENT_REFUNDED has paymentId null and amount 0, and a later PROCESS_PAYMENT does not charge the order', async () => {
    const { handle, calls } = setup()
    const orderId = randomUUID()
    await apply(handle, refundCommand(orderId))
    expect(await refundOf(orderId)).toMatchObject({ status: 'NOT_NEEDED', payment_id: null, amount_cents: 0 })
    expect(await paymentOf(orderId)).toMatchObject({ status: 'REFUND_NOT_NEEDED', customer_id: null })
    const [reply] = await repliesFor(orderId)
    expect(reply).toMatchObject({ type: 'PAYMENT_REFUNDED', payload: { data: { orderId, paymentId: null, amountCents: 0 } } })

    // a late (for example replayed) PROCESS_PAYMENT for the compensated order
    await apply(handle, processCommand({ orderId }))
    expect(calls.charge).toBe(0)
    expect((await repliesFor(orderId)).map((r) => [r.type, r.payload.data.code])).toEqual([
      ['PAYMENT_REFUNDED', undefined],
      ['PAYMENT_FAILED', 'payment_cancelled'],
    ])
  })

  it('when the charge had failed, then the refund is recorded as not needed and nothing goes to the gateway', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: 'tok_insufficientFunds' })
    await apply(handle, command)
    await apply(handle, refundCommand(command.data.orderId, command.data.sagaId))
    expect(calls.refund).toBe(0)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED' })
    expect(await refundOf(command.data.orderId)).toMatchObject({ status: 'NOT_NEEDED', payment_id: null, amount_cents: 0 })
    const last = (await repliesFor(command.data.orderId)).at(-1)
    expect(last).toMatchObject({ type: 'PAYMENT_REFUNDED', payload: { data: { paymentId: null, amountCents: 0 } } })
  })

  it('when the gateway gives no answer to a refund, then the handler throws (the runner retries, then dead-letters) and nothing is recorded', async () => {
    const charged = setup()
    const command = processCommand()
    await apply(charged.handle, command)
    const down = createResilientGateway(
      { charge: async () => { throw new Error('unused') }, refund: async () => { throw new Error('connection reset by gateway') }, lookupCharge: async () => { throw new Error('unused') } },
      { timeoutMs: TIMEOUT_MS, initialBackoffMs: 5 },
    )
    const handle = createPaymentHandler({ gateway: down, now: () => new Date(), newId: randomUUID })
    await expect(apply(handle, refundCommand(command.data.orderId, command.data.sagaId))).rejects.toThrow(/gateway failed/)
    expect(await refundOf(command.data.orderId)).toBeUndefined()
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'CHARGED' })
  })
})

describe('unexpected messages', () => {
  it('when a non-payment message arrives on payments.commands, then it is a PermanentError (dead-lettered at once)', async () => {
    const { handle } = setup()
    const stray = newMessage('ORDER_DELIVERED', { orderId: randomUUID(), version: 1 }, { correlationId: 'stray' })
    await expect(apply(handle, stray)).rejects.toBeInstanceOf(PermanentError)
  })
})

describe('PATH_PROBE', () => {
  const probe = (participant: 'inventory' | 'payments') =>
    newMessage('PATH_PROBE', { participant, probeId: randomUUID(), sentAt: new Date().toISOString() }, { correlationId: `probe-${randomUUID()}` })

  it('when a probe for payments arrives, then PATH_PROBE_ACK echoing it goes out on payments.events without touching the gateway', async () => {
    const { handle, calls } = setup()
    const p = probe('payments')
    await apply(handle, p)
    const answers = (await repliesFor('payments')).filter((r) => r.payload.data.probeId === p.data.probeId)
    expect(answers).toHaveLength(1)
    expect(answers[0]).toMatchObject({ type: 'PATH_PROBE_ACK', topic: 'payments.events', aggregateid: 'payments', payload: { correlationId: p.correlationId, causationId: p.id, data: p.data } })
    expect(calls).toEqual({ charge: 0, refund: 0, lookup: 0 })
  })

  it('when a probe meant for inventory reaches payments, then it is refused permanently and nothing is answered', async () => {
    const { handle } = setup()
    const p = probe('inventory')
    await expect(apply(handle, p)).rejects.toBeInstanceOf(PermanentError)
    expect((await repliesFor('payments')).filter((r) => r.payload.data.probeId === p.data.probeId)).toEqual([])
  })
})

describe('a batch of commands (one transaction for the batch)', () => {
  const itemOf = (message: AnyMessage) => ({ message, ctx: { correlationId: message.correlationId, causationId: message.id, log: logger, headers: {}, recordTimestamp: Date.now() } })

  it('when a batch holds three orders and a repeated command of the first, then the charges run side by side, each order is charged once, and the repeat gets the first answer again', async () => {
    const sandbox = counting(createSandboxGateway(sandboxDb))
    let running = 0
    let most = 0
    const slow: PaymentGateway = {
      ...sandbox.gateway,
      async charge(request, signal) {
        most = Math.max(most, ++running)
        try {
          await new Promise((r) => setTimeout(r, 50))
          return await sandbox.gateway.charge(request, signal)
        } finally {
          running--
        }
      },
    }
    const gateway = createResilientGateway(slow, { timeoutMs: 1_000, initialBackoffMs: 10, maxBackoffMs: 50 })
    const applyBatch = createPaymentBatchHandler({ gateway, now: () => new Date(), newId: randomUUID })
    const a = processCommand({ paymentToken: 'tok_visa', amountCents: 1000 })
    const b = processCommand({ paymentToken: 'tok_chargeDeclined' })
    const c = processCommand({ paymentToken: 'tok_visa', amountCents: 3000 })
    const again = newMessage('PROCESS_PAYMENT', a.data, { correlationId: a.correlationId })
    await db.transaction().execute((tx) => applyBatch(tx, [a, b, c, again].map(itemOf)))

    expect(most).toBeGreaterThanOrEqual(2)
    expect(sandbox.calls.charge).toBe(3)
    expect(await paymentOf(a.data.orderId)).toMatchObject({ status: 'CHARGED', amount_cents: 1000 })
    expect(await paymentOf(b.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'card_declined' })
    expect(await paymentOf(c.data.orderId)).toMatchObject({ status: 'CHARGED', amount_cents: 3000 })
    expect((await repliesFor(a.data.orderId)).map((r) => [r.type, r.payload.causationId])).toEqual([['PAYMENT_PROCESSED', a.id], ['PAYMENT_PROCESSED', again.id]])
    expect((await repliesFor(b.data.orderId)).map((r) => r.type)).toEqual(['PAYMENT_FAILED'])
  })
})
