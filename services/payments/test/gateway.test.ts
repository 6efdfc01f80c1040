// The resilience around the gateway: the circuit breaker opens after consecutive failed attempts, fails fast
// while open (PAYMENT_FAILED gateway_unavailable, the gateway is not called), shows in health and metrics,
// and closes again after a successful trial call. The failing gateway is a stand-in for the external system.
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import client from 'prom-client'
import { createHealth } from '@trackops/runtime'
import { GatewayError, type PaymentGateway } from '../src/gateway.ts'
import { createResilientGateway, gatewayHealth } from '../src/resilient-gateway.ts'
import { createPaymentHandler } from '../src/handlers.ts'
import { apply, db, paymentOf, processCommand, repliesFor, sandboxDb } from './support.ts'

afterAll(async () => {
  await db.destroy()
  await sandboxDb.destroy()
})

/** An external gateway that is down until `healthy` is set. */
function flakyGateway() {
  const state = { healthy: false, calls: 0 }
  const gateway: PaymentGateway = {
    async charge() {
      state.calls++
      if (!state.healthy) throw new GatewayError('503 from the processor')
      return { outcome: 'approved', chargeId: `ch_stub_${randomUUID()}` }
    },
    async refund() {
      state.calls++
      throw new GatewayError('503 from the processor')
    },
    async lookupCharge() {
      state.calls++
      throw new GatewayError('503 from the processor')
    },
  }
  return { gateway, state }
}

/** The state set's series of a breaker: its current state is the one at 1, every other state is at 0. */
const breakerGauge = async (name: string) =>
  Object.fromEntries(
    (await client.register.getSingleMetric('trackops_circuit_breaker_state')!.get()).values.filter((v) => v.labels.breaker === name).map((v) => [v.labels.state, v.value]),
  )

describe('payment gateway circuit breaker', () => {
  it('when five attempts fail in a row, then the breaker opens, later payments fail fast as gateway_unavailable, and it closes after a good trial call', async () => {
    const stub = flakyGateway()
    const breakerName = `test_${randomUUID().slice(0, 8)}`
    let clock = Date.parse('2030-01-01T00:00:00.000Z')
    const gateway = createResilientGateway(stub.gateway, { timeoutMs: 200, initialBackoffMs: 5, maxBackoffMs: 10, halfOpenAfterMs: 300, breakerName, now: () => clock })
    const handle = createPaymentHandler({ gateway, now: () => new Date(), newId: randomUUID })
    const health = createHealth()
    health.register('paymentGateway', gatewayHealth(gateway, { gateway: 'stub' }))

    // first order: 3 failed attempts → PAYMENT_FAILED gateway_error; breaker still closed
    const first = processCommand()
    await apply(handle, first)
    expect(await paymentOf(first.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_error', attempts: 3 })
    expect(gateway.breakerState()).toBe('closed')
    expect(await breakerGauge(breakerName)).toEqual({ closed: 1, 'half-open': 0, open: 0 })

    // second order: attempts 4 and 5 fail → open; the third attempt is refused without reaching the gateway
    const second = processCommand()
    await apply(handle, second)
    expect(stub.state.calls).toBe(5)
    expect(gateway.breakerState()).toBe('open')
    expect(await paymentOf(second.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_unavailable' })
    expect(await breakerGauge(breakerName)).toEqual({ closed: 0, 'half-open': 0, open: 1 })
    expect((await health.report()).components.paymentGateway).toMatchObject({ status: 'DOWN', required: false, details: { breaker: 'open' } })

    // while open: fail fast, no gateway call
    const third = processCommand()
    await apply(handle, third)
    expect(stub.state.calls).toBe(5)
    const [reply] = await repliesFor(third.data.orderId)
    expect(reply).toMatchObject({ type: 'PAYMENT_FAILED', payload: { data: { code: 'gateway_unavailable' } } })

    // just before halfOpenAfter: still open, still no gateway call
    clock += 299
    const early = processCommand()
    await apply(handle, early)
    expect(stub.state.calls).toBe(5)
    expect(await paymentOf(early.data.orderId)).toMatchObject({ status: 'FAILED', failure_code: 'gateway_unavailable' })

    // after halfOpenAfter the gateway is healthy again: the trial call succeeds and the breaker closes
    stub.state.healthy = true
    clock += 1
    const fourth = processCommand()
    await apply(handle, fourth)
    expect(await paymentOf(fourth.data.orderId)).toMatchObject({ status: 'CHARGED', attempts: 1 })
    expect(gateway.breakerState()).toBe('closed')
    expect(await breakerGauge(breakerName)).toEqual({ closed: 1, 'half-open': 0, open: 0 })
    expect((await health.report()).components.paymentGateway?.status).toBe('UP')
  })

  it('when a decline comes back, then it does not count as a gateway failure', async () => {
    let calls = 0
    const declining: PaymentGateway = {
      async charge() {
        calls++
        return { outcome: 'declined', code: 'card_declined', reason: 'declined' }
      },
      async refund() {
        throw new Error('unused')
      },
      async lookupCharge() {
        throw new Error('unused')
      },
    }
    const gateway = createResilientGateway(declining, { timeoutMs: 200, breakerName: `test_${randomUUID().slice(0, 8)}` })
    for (let i = 0; i < 7; i++) {
      expect(await gateway.charge({ idempotencyKey: randomUUID(), amountCents: 100, currency: 'EUR', token: 'x' })).toMatchObject({ outcome: 'declined', attempts: 1 })
    }
    expect(calls).toBe(7)
    expect(gateway.breakerState()).toBe('closed')
  })
})
