// An order placed without a payment method (PROCESS_PAYMENT with an empty token): charged with the configured
// default when there is one, otherwise failed at once with payment-method.missing and no gateway call.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createResilientGateway } from '../src/resilient-gateway.ts'
import { createSandboxGateway } from '../src/sandbox-gateway.ts'
import { createPaymentHandler } from '../src/handlers.ts'
import { chargeKey } from '../src/process-payment.ts'
import { apply, counting, db, paymentOf, processCommand, repliesFor, sandboxDb, sandboxRecord } from './support.ts'

function setup(defaultPaymentToken?: string) {
  const sandbox = counting(createSandboxGateway(sandboxDb))
  const gateway = createResilientGateway(sandbox.gateway, { timeoutMs: 150, initialBackoffMs: 10, maxBackoffMs: 50 })
  const handle = createPaymentHandler({ gateway, now: () => new Date(), newId: randomUUID, defaultPaymentToken })
  return { handle, calls: sandbox.calls }
}

afterAll(async () => {
  await db.destroy()
  await sandboxDb.destroy()
})

describe('PROCESS_PAYMENT without a payment method', () => {
  it('when no default payment token is configured, then the payment fails with payment-method.missing and the gateway is not called', async () => {
    const { handle, calls } = setup()
    const command = processCommand({ paymentToken: '' })
    await apply(handle, command)

    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'payment-method.missing', attempts: 0, next_reconcile_at: null })
    expect(calls.charge).toBe(0)
    expect(await sandboxRecord(chargeKey(command.data.orderId))).toBeUndefined()
    const [reply] = await repliesFor(command.data.orderId)
    expect(reply).toMatchObject({ type: 'PAYMENT_FAILED', payload: { data: { code: 'payment-method.missing' } } })
  })

  it('when a default payment token is configured, then the order is charged with it', async () => {
    const { handle, calls } = setup('tok_insufficientFunds')
    const command = processCommand({ paymentToken: '' })
    await apply(handle, command)

    // The sandbox declines this default, which proves the configured token (not an always-approve card) was used.
    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'insufficient_funds', attempts: 1 })
    expect(calls.charge).toBe(1)
  })

  it('when the order has a payment method, then it is charged with that method, not the default', async () => {
    const { handle } = setup('tok_chargeDeclined')
    const command = processCommand({ paymentToken: 'tok_visa' })
    await apply(handle, command)

    expect(await paymentOf(command.data.orderId)).toMatchObject({ status: 'CHARGED', attempts: 1 })
  })
})
