// The saga operations API through app.inject against the real database.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import { newMessage } from '@trackops/messaging'
import pino from 'pino'
import { placeOrder } from '../src/place-order.ts'
import { getOrder } from '../src/order-store.ts'
import { STEP_TIMEOUT_SECONDS, addProduct, address, bearer, createTestApp, createTestDb, createTestSaga, outboxOf } from './support.ts'

const db = createTestDb()
const saga = createTestSaga(db)
let app: App
beforeAll(async () => {
  app = (await createTestApp(db)).app
})
afterAll(async () => {
  await app.close()
  await db.destroy()
})

async function place() {
  const productId = await addProduct(db, { price: 3 })
  const { order } = await placeOrder(
    { db, now: () => new Date(), newId: randomUUID, saga },
    { order: { customerId: randomUUID(), address: { ...address() }, deliveryInstructions: null, items: [{ productId, quantity: 2 }], totalCents: null, paymentToken: null }, cause: 'customer', ctx: { correlationId: randomUUID() } },
  )
  const res = await app.inject({ url: `/api/sagas/order/${order.id}`, headers: { authorization: await bearer('operator') } })
  return { order, saga: res.json() as { id: string; orderId: string } }
}

const reserved = async (orderId: string, sagaId: string) => {
  const m = newMessage('INVENTORY_RESERVED', { orderId, sagaId, items: [], expiresAt: new Date(Date.now() + 60_000).toISOString() }, { correlationId: 'r' })
  const log = pino({ level: 'silent' })
  await db.transaction().execute((tx) => saga.handleReply(tx, m, { correlationId: 'r', causationId: m.id, headers: {}, recordTimestamp: Date.now(), log }))
}

const get = async (url: string, role: 'operator' | 'admin' | 'customer' = 'operator') => app.inject({ url, headers: { authorization: await bearer(role) } })
const post = async (url: string, role: 'operator' | 'admin' = 'admin', payload?: Record<string, unknown>) =>
  payload === undefined
    ? app.inject({ method: 'POST', url, headers: { authorization: await bearer(role) } })
    : app.inject({ method: 'POST', url, headers: { authorization: await bearer(role) }, payload })

describe('saga API', () => {
  it('when an operator reads a saga by id or by order, then it comes with its steps and their timings', async () => {
    const { order, saga } = await place()
    await reserved(order.id, saga.id)
    const byId = await get(`/api/sagas/${saga.id}`)
    expect(byId.statusCode).toBe(200)
    const body = byId.json()
    expect(body).toMatchObject({ id: saga.id, orderId: order.id, status: 'RUNNING', currentStep: 'PROCESS_PAYMENT', reservation: 'RESERVED', payment: 'REQUESTED', totalAmount: 6, currency: 'USD', completedAt: null, durationMs: null })
    expect(body).not.toHaveProperty('paymentToken')
    expect(body.steps).toHaveLength(2)
    expect(body.steps[0]).toMatchObject({ name: 'RESERVE_INVENTORY', kind: 'action', status: 'COMPLETED', attempts: 1, error: null })
    expect(body.steps[0].durationMs).toBeGreaterThanOrEqual(0)
    expect(Date.parse(body.steps[0].completedAt)).toBeGreaterThanOrEqual(Date.parse(body.steps[0].startedAt))
    expect(body.steps[1]).toMatchObject({ name: 'PROCESS_PAYMENT', status: 'RUNNING', completedAt: null, durationMs: null })
    expect(Date.parse(body.stepDeadline) - Date.parse(body.steps[1].startedAt)).toBe(STEP_TIMEOUT_SECONDS * 1000)
    expect((await get(`/api/sagas/order/${order.id}`, 'admin')).json()).toEqual(body)
  })

  it('when sagas are listed by status, then the page says how many there are in all', async () => {
    await place()
    await place()
    const first = await get('/api/sagas/status/RUNNING?page=0&size=1')
    expect(first.statusCode).toBe(200)
    const page = first.json()
    expect(page).toMatchObject({ page: 0, size: 1 })
    expect(page.content).toHaveLength(1)
    expect(page.totalElements).toBeGreaterThanOrEqual(2)
    expect(page.totalPages).toBe(page.totalElements)
    expect(page.content[0].status).toBe('RUNNING')
    const second = (await get('/api/sagas/status/RUNNING?page=1&size=1')).json()
    expect(second.content[0].id).not.toBe(page.content[0].id)
    expect((await get('/api/sagas/status/running')).statusCode).toBe(400)
    expect((await get('/api/sagas/status/RUNNING?size=1000')).statusCode).toBe(400)
  })

  it('when the id is unknown or malformed, then 404 saga.not-found or 400', async () => {
    const missing = await get(`/api/sagas/${randomUUID()}`)
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toContain('application/problem+json')
    expect(missing.json().code).toBe('saga.not-found')
    expect((await get(`/api/sagas/order/${randomUUID()}`)).json().code).toBe('saga.not-found')
    expect((await post(`/api/sagas/${randomUUID()}/retry`)).statusCode).toBe(404)
    const bad = await get('/api/sagas/not-a-uuid')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().errors[0].field).toBe('params.sagaId')
  })

  it('when a customer reads or an operator acts, then 403; without a token, 401', async () => {
    const { saga } = await place()
    expect((await get(`/api/sagas/${saga.id}`, 'customer')).statusCode).toBe(403)
    expect((await app.inject({ url: `/api/sagas/${saga.id}` })).statusCode).toBe(401)
    expect((await post(`/api/sagas/${saga.id}/retry`, 'operator')).statusCode).toBe(403)
    expect((await post(`/api/sagas/${saga.id}/compensate`, 'operator')).statusCode).toBe(403)
  })

  it('when an admin forces compensation of a running saga, then 202, the release is sent, and a second request is 409', async () => {
    const { order, saga } = await place()
    const res = await post(`/api/sagas/${saga.id}/compensate`, 'admin', { reason: 'stuck at the warehouse' })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toMatchObject({ status: 'COMPENSATING', currentStep: 'RELEASE_INVENTORY', cause: 'operator', cancelReason: 'stuck at the warehouse', cancelledBy: '00000000-0000-4000-8000-0000000000ad' })
    const rows = await outboxOf(db, order.id)
    expect(rows.map((r) => r.type)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY', 'RELEASE_INVENTORY'])
    expect(rows[2]!.correlation_id).toBe(res.headers['x-correlation-id'])
    const again = await post(`/api/sagas/${saga.id}/compensate`)
    expect(again.statusCode).toBe(409)
    expect(again.json().code).toBe('saga.conflict')
    expect((await getOrder(db, order.id))!.status).toBe('PENDING')
  })

  it('when compensation is forced without a body, then a default reason is recorded', async () => {
    const { saga } = await place()
    const res = await post(`/api/sagas/${saga.id}/compensate`)
    expect(res.statusCode).toBe(202)
    expect(res.json().cancelReason).toBe('compensated by an operator')
  })

  it('when the compensate body is invalid, then 400 with the field and nothing changes', async () => {
    const { order, saga } = await place()
    const res = await post(`/api/sagas/${saga.id}/compensate`, 'admin', { reason: 'x'.repeat(501) })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual([{ field: 'reason', message: expect.any(String) }])
    expect((await outboxOf(db, order.id)).map((r) => r.type)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY'])
  })

  it('then the saga routes are in the OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json()
    for (const path of ['/api/sagas/{sagaId}', '/api/sagas/order/{orderId}', '/api/sagas/status/{status}', '/api/sagas/{sagaId}/retry', '/api/sagas/{sagaId}/compensate']) {
      expect(doc.paths).toHaveProperty([path])
    }
  })

  it('when a saga that has not failed is retried, then 409 and nothing is sent', async () => {
    const { order, saga } = await place()
    const res = await post(`/api/sagas/${saga.id}/retry`)
    expect(res.statusCode).toBe(409)
    expect(res.json().detail).toContain('COMPENSATION_FAILED')
    expect((await outboxOf(db, order.id)).map((r) => r.type)).toEqual(['ORDER_CREATED', 'RESERVE_INVENTORY'])
  })
})
