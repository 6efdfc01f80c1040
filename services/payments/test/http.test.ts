// The payment API through app.inject with real tokens: roles, customers limited to their own payments,
// 404/400/401/403, pagination and the status filter.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHealth } from '@trackops/runtime'
import { createVerifier, type App } from '@trackops/http'
import { createResilientGateway } from '../src/resilient-gateway.ts'
import { createSandboxGateway } from '../src/sandbox-gateway.ts'
import { createPaymentHandler } from '../src/handlers.ts'
import { buildApp } from '../src/http.ts'
import { apply, db, logger, processCommand, refundCommand, sandboxDb, paymentOf } from './support.ts'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'

let app: App
const customerId = randomUUID()
const otherCustomer = randomUUID()
const orders = { charged: randomUUID(), declined: randomUUID(), refunded: randomUUID() }

beforeAll(async () => {
  const gateway = createResilientGateway(createSandboxGateway(sandboxDb), { timeoutMs: 500, breakerName: 'http_test' })
  const handle = createPaymentHandler({ gateway, now: () => new Date(), newId: randomUUID })
  await apply(handle, processCommand({ orderId: orders.charged, customerId, amountCents: 1234 }))
  await apply(handle, processCommand({ orderId: orders.declined, customerId, paymentToken: 'tok_chargeDeclined' }))
  const refunded = processCommand({ orderId: orders.refunded, customerId: otherCustomer, amountCents: 990 })
  await apply(handle, refunded)
  await apply(handle, refundCommand(orders.refunded, refunded.data.sagaId))
  app = await buildApp({ db, logger, health: createHealth(), verify: createVerifier(testEnv.jwt) })
  await app.ready()
})
afterAll(async () => {
  await app?.close()
  await db.destroy()
  await sandboxDb.destroy()
})

const get = async (url: string, role?: 'customer' | 'operator' | 'admin', sub?: string) =>
  app.inject({ method: 'GET', url, headers: role ? { authorization: `Bearer ${await tokenFor(role, sub)}` } : {} })

describe('payment API', () => {
  it('when an operator asks for a payment by id or by order, then it answers with amounts as decimals and the refund', async () => {
    const payment = await paymentOf(orders.refunded)
    const byId = await get(`/api/payments/${payment!.id}`, 'operator')
    expect(byId.statusCode).toBe(200)
    expect(byId.json()).toMatchObject({
      id: payment!.id, orderId: orders.refunded, customerId: otherCustomer, amount: 9.9, amountCents: 990, currency: 'EUR', status: 'REFUNDED',
      gatewayChargeId: expect.stringMatching(/^ch_sandbox_/), refund: { status: 'REFUNDED', amount: 9.9, amountCents: 990, gatewayRefundId: expect.stringMatching(/^re_sandbox_/) },
    })
    const byOrder = await get(`/api/payments/order/${orders.refunded}`, 'admin')
    expect(byOrder.statusCode).toBe(200)
    expect(byOrder.json().id).toBe(payment!.id)
  })

  it('when a customer asks for their own payment, then 200; for someone else\'s, then 404 like an unknown id', async () => {
    const own = await paymentOf(orders.charged)
    expect((await get(`/api/payments/${own!.id}`, 'customer', customerId)).json()).toMatchObject({ status: 'CHARGED', amount: 12.34 })
    expect((await get(`/api/payments/order/${orders.charged}`, 'customer', customerId)).statusCode).toBe(200)
    const foreign = await get(`/api/payments/${own!.id}`, 'customer', otherCustomer)
    expect(foreign.statusCode).toBe(404)
    expect(foreign.json().code).toBe('payment.not-found')
    expect((await get(`/api/payments/order/${orders.charged}`, 'customer', otherCustomer)).statusCode).toBe(404)
    expect((await get(`/api/payments/${randomUUID()}`, 'operator')).statusCode).toBe(404)
    expect((await get(`/api/payments/order/${randomUUID()}`, 'operator')).statusCode).toBe(404)
  })

  it('when the id is not a uuid, then 400 with the field named; without a token, then 401', async () => {
    const bad = await get('/api/payments/not-a-uuid', 'operator')
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'request.validation', errors: [{ field: 'params.id' }] })
    expect((await get(`/api/payments/order/${orders.charged}`)).statusCode).toBe(401)
  })

  it('when an operator lists payments by status, then the page holds only that status and the paging fields add up', async () => {
    const res = await get('/api/payments?status=FAILED&size=2&page=0', 'operator')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ page: 0, size: 2 })
    expect(body.content.length).toBeLessThanOrEqual(2)
    expect(body.content.every((p: { status: string }) => p.status === 'FAILED')).toBe(true)
    expect(body.totalElements).toBeGreaterThanOrEqual(1)
    expect(body.totalPages).toBe(Math.ceil(body.totalElements / 2))
    // newest first: the declined payment of this file is on the first page unless another FAILED one came later
    const all = (await get('/api/payments?status=FAILED&size=100', 'admin')).json()
    expect(all.content.map((p: { orderId: string }) => p.orderId)).toContain(orders.declined)
  })

  it('when the OpenAPI document is fetched, then it describes the payment routes', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    expect(res.statusCode).toBe(200)
    expect(Object.keys(res.json().paths)).toEqual(expect.arrayContaining(['/api/payments/{id}', '/api/payments/order/{orderId}', '/api/payments']))
  })

  it('when a customer lists payments, then 403; a bad filter is 400', async () => {
    expect((await get('/api/payments', 'customer', customerId)).statusCode).toBe(403)
    expect((await get('/api/payments?status=PAID', 'operator')).statusCode).toBe(400)
    expect((await get('/api/payments?size=1000', 'operator')).statusCode).toBe(400)
  })
})
