// Reconciling charges that got no answer, against the real database and the real sandbox gateway: a charge the
// processor took although every attempt timed out is found and refunded once; one it never took is left alone;
// one it keeps reporting as pending is retried with a growing delay and then handed to an operator.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createResilientGateway } from '../src/resilient-gateway.ts'
import { createSandboxGateway, sandboxTokens } from '../src/sandbox-gateway.ts'
import { createPaymentHandler } from '../src/handlers.ts'
import { chargeKey } from '../src/process-payment.ts'
import { MAX_CHECKS, reconcileDue } from '../src/reconcile.ts'
import { refundKey } from '../src/refund-payment.ts'
import { apply, counting, db, logger, paymentOf, processCommand, refundCommand, refundOf, repliesFor, sandboxDb, sandboxRecord } from './support.ts'

/** A fresh breaker per test; `reconcileAfterMs` 0 makes a payment due as soon as it failed. */
function setup(reconcileAfterMs = 0) {
  const sandbox = counting(createSandboxGateway(sandboxDb))
  const gateway = createResilientGateway(sandbox.gateway, { timeoutMs: 150, initialBackoffMs: 10, maxBackoffMs: 50, breakerName: `reconcile_${randomUUID().slice(0, 8)}` })
  const deps = { gateway, now: () => new Date(), newId: randomUUID, reconcileAfterMs }
  return { handle: createPaymentHandler(deps), reconcile: () => reconcileDue(db, { ...deps, log: logger }, 500), calls: sandbox.calls }
}

afterAll(async () => {
  await db.destroy()
  await sandboxDb.destroy()
})

describe('reconciling charges without an answer', () => {
  it('when the processor charged but no attempt got its answer, then the payment fails at once and is later refunded exactly once', async () => {
    const { handle, reconcile, calls } = setup()
    const command = processCommand({ paymentToken: sandboxTokens.approvedNoAnswer })
    const orderId = command.data.orderId
    await apply(handle, command)
    // The saga is told at once (it compensates), but the money was taken at the processor.
    expect(await paymentOf(orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_timeout', reconciliation: null })
    expect((await repliesFor(orderId)).map((r) => r.type)).toEqual(['PAYMENT_FAILED'])
    expect(await sandboxRecord(chargeKey(orderId))).toMatchObject({ outcome: 'approved', amount_cents: 4_250 })

    await reconcile()
    const payment = await paymentOf(orderId)
    expect(payment).toMatchObject({ status: 'REFUNDED', reconciliation: 'refunded', next_reconcile_at: null })
    expect(payment?.gateway_charge_id).toMatch(/^ch_sandbox_/)
    expect(await refundOf(orderId)).toMatchObject({ status: 'REFUNDED', amount_cents: 4_250, payment_id: payment?.id })
    expect(await sandboxRecord(refundKey(orderId))).toMatchObject({ outcome: 'approved', amount_cents: 4_250, calls: 1 })

    // Another pass and a late compensation from the saga change nothing and refund nothing again.
    const refundsBefore = calls.refund
    await reconcile()
    await apply(handle, refundCommand(orderId, command.data.sagaId))
    expect(calls.refund).toBe(refundsBefore)
    expect((await sandboxRecord(refundKey(orderId)))?.calls).toBe(1)
    expect(await paymentOf(orderId)).toMatchObject({ status: 'REFUNDED', reconciliation: 'refunded' })
  })

  it('when the saga asked for a refund before the charge was known, then that "not needed" decision becomes the refund', async () => {
    const { handle, reconcile } = setup()
    const command = processCommand({ paymentToken: sandboxTokens.approvedNoAnswer })
    const orderId = command.data.orderId
    await apply(handle, command)
    await apply(handle, refundCommand(orderId, command.data.sagaId))
    expect(await refundOf(orderId)).toMatchObject({ status: 'NOT_NEEDED', amount_cents: 0 })

    await reconcile()
    expect(await refundOf(orderId)).toMatchObject({ status: 'REFUNDED', amount_cents: 4_250 })
    expect(await paymentOf(orderId)).toMatchObject({ status: 'REFUNDED', reconciliation: 'refunded' })
  })

  it('when the breaker was open (no call reached the processor), then the lookup finds nothing and nothing is refunded', async () => {
    const { handle, calls } = setup()
    // Two charges that time out (six failed attempts) open this copy's breaker; the next charge fails fast, unsent.
    for (let i = 0; i < 2; i++) await apply(handle, processCommand({ paymentToken: sandboxTokens.timeout }))
    const command = processCommand()
    const chargesBefore = calls.charge
    await apply(handle, command)
    expect(calls.charge).toBe(chargesBefore)
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_unavailable' })

    // Another copy of the service (its own breaker) reconciles it.
    await setup().reconcile()
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', reconciliation: 'not_charged' })
    expect(await refundOf(command.data.orderId)).toBeUndefined()
  })

  it('when the processor keeps reporting the charge as pending, then it is asked again with a doubling delay and finally left to an operator', async () => {
    const slow = setup(1_000)
    const command = processCommand({ paymentToken: sandboxTokens.timeout })
    const orderId = command.data.orderId
    await apply(slow.handle, command)
    const failedAt = (await paymentOf(orderId))!.next_reconcile_at!.getTime()
    expect(failedAt).toBeGreaterThan(Date.now() + 500) // not due yet: the grace period
    await slow.reconcile()
    expect(await paymentOf(orderId)).toMatchObject({ reconcile_checks: 0, reconciliation: null })

    // Each pass that finds it still pending asks again later, twice as late each time; then an operator decides.
    for (let check = 1; check <= MAX_CHECKS; check++) {
      await db.updateTable('payments').set({ next_reconcile_at: new Date() }).where('order_id', '=', orderId).execute()
      const before = Date.now()
      await slow.reconcile()
      const payment = await paymentOf(orderId)
      expect(payment?.reconcile_checks).toBe(check)
      if (check < MAX_CHECKS) {
        expect(payment?.reconciliation).toBeNull()
        expect(payment!.next_reconcile_at!.getTime() - before).toBeGreaterThanOrEqual(Math.min(3_600_000, 1_000 * 2 ** check))
      }
    }
    expect(await paymentOf(orderId)).toMatchObject({ status: 'FAILED', reconciliation: 'unresolved', next_reconcile_at: null })
    expect(await refundOf(orderId)).toBeUndefined()
  })

  it('when two copies reconcile at once, then each due payment is handled by one of them and refunded once', async () => {
    // Charged (and timed out) by a third copy, whose breaker these timeouts open; the two reconcilers are fresh.
    const charging = setup()
    const commands = Array.from({ length: 6 }, () => processCommand({ paymentToken: sandboxTokens.approvedNoAnswer }))
    await Promise.all(commands.map((c) => apply(charging.handle, c)))
    const a = setup()
    const b = setup()
    await Promise.all([a.reconcile(), b.reconcile()])
    for (const c of commands) {
      expect(await paymentOf(c.data.orderId)).toMatchObject({ status: 'REFUNDED', reconciliation: 'refunded' })
      expect(await sandboxRecord(refundKey(c.data.orderId))).toMatchObject({ outcome: 'approved', calls: 1 })
    }
  })
})
