import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import { applyStatusChange, changeStatus, type StatusChange } from '../src/change-status.ts'
import { lockOrder } from '../src/order-store.ts'
import { orderStatuses, type OrderStatus } from '../src/order.ts'
import { countByType, createTestApp, createTestDb, customer, forceStatus, historyCount, insertBareOrder, legacyBody, operator, outboxOf, OPERATOR } from './support.ts'

const db = createTestDb()
let app: App
let logs: Record<string, unknown>[]

beforeAll(async () => {
  ;({ app, logs } = await createTestApp(db))
})
afterAll(async () => {
  await app.close()
  await db.destroy()
})

const forward: Partial<Record<OrderStatus, OrderStatus>> = { PENDING: 'CONFIRMED', CONFIRMED: 'PROCESSING', PROCESSING: 'SHIPPED', SHIPPED: 'DELIVERED' }
const isAllowed = (from: OrderStatus, to: OrderStatus) => from !== to && from !== 'DELIVERED' && from !== 'CANCELLED' && (to === 'CANCELLED' || forward[from] === to)
const ctx = () => ({ correlationId: `test-${randomUUID()}` })

/** Applies a change the way every caller does: under the order's row lock, in one transaction. */
const apply = (orderId: string, change: StatusChange) =>
  db.transaction().execute(async (tx) => {
    const order = await lockOrder(tx, orderId)
    if (!order) throw new Error(`no order ${orderId}`)
    return applyStatusChange(tx, order, change)
  })

async function orderIn(status: OrderStatus): Promise<string> {
  const id = await insertBareOrder(db, 'PENDING')
  if (status !== 'PENDING') await forceStatus(db, id, status)
  return id
}

describe('applyStatusChange: every transition, allowed and refused', () => {
  for (const from of orderStatuses) {
    for (const to of orderStatuses) {
      const expected = from === to ? 'unchanged' : isAllowed(from, to) ? 'changed' : 'invalid-transition'
      it(`given ${from}, when changed to ${to}, then ${expected}`, async () => {
        const id = await orderIn(from)
        const before = await db.selectFrom('orders').select('version').where('id', '=', id).executeTakeFirstOrThrow()
        const c = ctx()
        const result = await apply(id, { to, cause: 'operator', reason: 'test', actor: 'op-1', ctx: c, now: new Date() })
        expect(result.outcome).toBe(expected)
        const after = await db.selectFrom('orders').select(['status', 'version']).where('id', '=', id).executeTakeFirstOrThrow()
        const outbox = countByType(await outboxOf(db, id))
        if (expected === 'changed') {
          expect(after).toEqual({ status: to, version: before.version + 1 })
          expect(outbox.ORDER_STATUS_UPDATED).toBe(1)
          expect(outbox.ORDER_CANCELLED ?? 0).toBe(to === 'CANCELLED' ? 1 : 0)
          expect(outbox.ORDER_DELIVERED ?? 0).toBe(to === 'DELIVERED' ? 1 : 0)
          const history = await db.selectFrom('order_history').selectAll().where('order_id', '=', id).execute()
          expect(history).toMatchObject([{ from_status: from, to_status: to, cause: 'operator', reason: 'test', actor: 'op-1', correlation_id: c.correlationId, order_version: before.version + 1 }])
        } else {
          expect(after).toEqual({ status: from, version: before.version })
          expect(outbox).toEqual({})
          expect(await historyCount(db, id)).toBe(0)
          if (result.outcome === 'invalid-transition') expect(result.from).toBe(from)
        }
      })
    }
  }

  it('when the order does not exist, then order.not-found', async () => {
    await expect(changeStatus({ db, now: () => new Date() }, { orderId: randomUUID(), to: 'CONFIRMED', cause: 'operator', ctx: ctx() })).rejects.toMatchObject({ code: 'order.not-found' })
  })

  it('when an order is cancelled, then ORDER_CANCELLED carries the reason, cause and previous status', async () => {
    const id = await orderIn('CONFIRMED')
    await apply(id, { to: 'CANCELLED', cause: 'timeout', reason: 'payment step timed out', ctx: ctx(), now: new Date() })
    const rows = await outboxOf(db, id)
    const cancelled = JSON.parse(rows.find((r) => r.type === 'ORDER_CANCELLED')!.payload)
    expect(cancelled.data).toEqual({ orderId: id, previousStatus: 'CONFIRMED', reason: 'payment step timed out', cause: 'timeout', version: 3 })
    const updated = JSON.parse(rows.find((r) => r.type === 'ORDER_STATUS_UPDATED')!.payload)
    expect(updated.data).toEqual({ orderId: id, previousStatus: 'CONFIRMED', newStatus: 'CANCELLED', cause: 'timeout', version: 3 })
    expect(rows.every((r) => r.topic === 'orders.events')).toBe(true)
  })

  it('when two transactions change one order at once, then exactly one wins and the other is refused', async () => {
    const id = await orderIn('SHIPPED')
    const change = (to: OrderStatus) => apply(id, { to, cause: 'operator', ctx: ctx(), now: new Date() })
    const results = await Promise.all([change('DELIVERED'), change('CANCELLED')])
    expect(results.map((r) => r.outcome).sort()).toEqual(['changed', 'invalid-transition'])
    expect(await historyCount(db, id)).toBe(1)
    expect(countByType(await outboxOf(db, id)).ORDER_STATUS_UPDATED).toBe(1)
  })
})

describe('PUT /api/orders/{id}/status and the shortcuts', () => {
  const put = async (id: string, newStatus: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: await operator(), ...headers }, payload: { newStatus } })

  for (const from of orderStatuses) {
    for (const to of orderStatuses.filter((s) => s !== 'CANCELLED')) {
      const expected = from === to ? 200 : isAllowed(from, to) ? 200 : 409
      it(`given ${from}, when PUT ${to}, then ${expected}${from === to ? ' without an event' : ''}`, async () => {
        const id = await orderIn(from)
        const res = await put(id, to)
        expect(res.statusCode, res.body).toBe(expected)
        if (expected === 409) {
          expect(res.json().code).toBe('order.invalid-transition')
          expect(res.json().detail).toContain(to)
        } else expect(res.json().status).toBe(to)
        expect(await historyCount(db, id)).toBe(from !== to && expected === 200 ? 1 : 0)
        expect(countByType(await outboxOf(db, id)).ORDER_STATUS_UPDATED ?? 0).toBe(from !== to && expected === 200 ? 1 : 0)
      })
    }
  }

  const shortcuts = [['confirm', 'PENDING', 'CONFIRMED'], ['process', 'CONFIRMED', 'PROCESSING'], ['ship', 'PROCESSING', 'SHIPPED'], ['deliver', 'SHIPPED', 'DELIVERED']] as const
  for (const [action, from, to] of shortcuts) {
    it(`when POST /${action} on a ${from} order, then 200 ${to} with one event; on a ${to === 'CONFIRMED' ? 'SHIPPED' : 'PENDING'} order, then 409`, async () => {
      const id = await orderIn(from)
      const res = await app.inject({ method: 'POST', url: `/api/orders/${id}/${action}`, headers: { authorization: await operator() } })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ id, status: to })
      const outbox = countByType(await outboxOf(db, id))
      expect(outbox.ORDER_STATUS_UPDATED).toBe(1)
      expect(outbox.ORDER_DELIVERED ?? 0).toBe(to === 'DELIVERED' ? 1 : 0)
      const wrong = await orderIn(to === 'CONFIRMED' ? 'SHIPPED' : 'PENDING')
      const refused = await app.inject({ method: 'POST', url: `/api/orders/${wrong}/${action}`, headers: { authorization: await operator() } })
      expect(refused.statusCode).toBe(409)
      expect(refused.json().code).toBe('order.invalid-transition')
    })
  }

  it('when a status change succeeds, then the timeline records operator, actor, reason and correlation id, and an audit line is logged', async () => {
    const id = await orderIn('PENDING')
    await app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: await operator(), 'x-correlation-id': 'corr-status-1' }, payload: { newStatus: 'CONFIRMED', reason: 'checked by phone' } })
    const res = await app.inject({ method: 'GET', url: `/api/orders/${id}/history`, headers: { authorization: await operator() } })
    expect(res.json().entries).toMatchObject([{ from: 'PENDING', to: 'CONFIRMED', cause: 'operator', reason: 'checked by phone', actor: OPERATOR, correlationId: 'corr-status-1', version: 2 }])
    expect(logs.filter((l) => l.audit === true && l.orderId === id)).toEqual([expect.objectContaining({ actor: OPERATOR, action: 'order.status', to: 'CONFIRMED', changed: true })])
  })

  it('when newStatus is missing or unknown, then 400 naming newStatus', async () => {
    const id = await orderIn('PENDING')
    const missing = await put(id, undefined)
    expect(missing.statusCode).toBe(400)
    expect(missing.json().errors).toEqual([{ field: 'newStatus', message: 'is required' }])
    const unknown = await put(id, 'LOST')
    expect(unknown.statusCode).toBe(400)
    expect(unknown.json().errors).toEqual([{ field: 'newStatus', message: 'must be one of PENDING, CONFIRMED, PROCESSING, SHIPPED, DELIVERED, CANCELLED' }])
  })

  it('when the order does not exist, then 404; when the id is not a uuid, then 400', async () => {
    expect((await put(randomUUID(), 'CONFIRMED')).statusCode).toBe(404)
    expect((await put('not-a-uuid', 'CONFIRMED')).statusCode).toBe(400)
    const shortcut = await app.inject({ method: 'POST', url: '/api/orders/not-a-uuid/ship', headers: { authorization: await operator() } })
    expect(shortcut.statusCode).toBe(400)
  })

  it('when a customer tries to change a status, then 403 even for their own order', async () => {
    const me = randomUUID()
    const id = await insertBareOrder(db, 'PENDING', me)
    const res = await app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: await customer(me) }, payload: { newStatus: 'CONFIRMED' } })
    expect(res.statusCode).toBe(403)
    const shortcut = await app.inject({ method: 'POST', url: `/api/orders/${id}/confirm`, headers: { authorization: await customer(me) } })
    expect(shortcut.statusCode).toBe(403)
  })

  it('when If-Match names the current version, then the change applies; an older version is 409 and changes nothing', async () => {
    const id = await orderIn('PENDING')
    const stale = await put(id, 'CONFIRMED', { 'if-match': '"7"' })
    expect(stale.statusCode).toBe(409)
    expect(stale.json().code).toBe('order.conflict')
    const current = await put(id, 'CONFIRMED', { 'if-match': '"1"' })
    expect(current.statusCode).toBe(200)
    expect(current.headers.etag).toBe('"2"')
    expect((await put(id, 'PROCESSING', { 'if-match': 'bogus' })).statusCode).toBe(400)
  })

  it('when two operators change one order concurrently from the same version, then exactly one wins and the other gets 409', async () => {
    const id = await orderIn('CONFIRMED')
    const { version } = await db.selectFrom('orders').select('version').where('id', '=', id).executeTakeFirstOrThrow()
    const auth = await operator()
    const results = await Promise.all([
      app.inject({ method: 'POST', url: `/api/orders/${id}/process`, headers: { authorization: auth, 'if-match': `"${version}"` } }),
      app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: auth, 'if-match': `"${version}"` }, payload: { newStatus: 'PROCESSING' } }),
    ])
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409])
    expect(await historyCount(db, id)).toBe(1)
    expect(countByType(await outboxOf(db, id)).ORDER_STATUS_UPDATED).toBe(1)
  })

  it('when delivering and cancelling race on a shipped order, then exactly one wins and the other gets 409', async () => {
    const id = await orderIn('SHIPPED')
    const auth = await operator()
    const results = await Promise.all([
      app.inject({ method: 'POST', url: `/api/orders/${id}/deliver`, headers: { authorization: auth } }),
      app.inject({ method: 'DELETE', url: `/api/orders/${id}`, headers: { authorization: auth } }),
    ])
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409])
    const { status } = await db.selectFrom('orders').select('status').where('id', '=', id).executeTakeFirstOrThrow()
    expect(['DELIVERED', 'CANCELLED']).toContain(status)
    expect(await historyCount(db, id)).toBe(1)
  })
})

describe('DELETE /api/orders/{id}', () => {
  const del = async (id: string, auth?: string, query = '') => app.inject({ method: 'DELETE', url: `/api/orders/${id}${query}`, headers: { authorization: auth ?? (await operator()) } })

  it('when nothing is held for the order, then it is cancelled at once: 200 CANCELLED with ORDER_CANCELLED and the reason', async () => {
    const me = randomUUID()
    const id = await insertBareOrder(db, 'CONFIRMED', me)
    const res = await del(id, await customer(me), '?reason=changed%20my%20mind')
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ id, status: 'CANCELLED' })
    const cancelled = (await outboxOf(db, id)).filter((r) => r.type === 'ORDER_CANCELLED').map((r) => JSON.parse(r.payload).data)
    expect(cancelled).toEqual([{ orderId: id, previousStatus: 'CONFIRMED', reason: 'changed my mind', cause: 'customer', version: 2 }])
    expect(logs.filter((l) => l.audit === true && l.orderId === id)).toEqual([expect.objectContaining({ actor: me, action: 'order.cancel', outcome: 'cancelled' })])
  })

  it('when the order is already cancelled, then 200 and nothing new is written', async () => {
    const id = await orderIn('CANCELLED')
    const res = await del(id)
    expect(res.statusCode).toBe(200)
    expect(res.json().status).toBe('CANCELLED')
    expect(await outboxOf(db, id)).toEqual([])
  })

  it('when the order was delivered, then 409 and it stays delivered', async () => {
    const id = await orderIn('DELIVERED')
    const res = await del(id)
    expect(res.statusCode).toBe(409)
    expect(res.json().detail).toBe('Delivered orders cannot be cancelled.')
    expect(await outboxOf(db, id)).toEqual([])
  })

  it('when the saga is waiting on inventory, then 202 compensating and the order is not yet cancelled', async () => {
    const me = randomUUID()
    const created = await app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await customer(me) }, payload: legacyBody(me) })
    const id = created.json().id
    const res = await del(id, await customer(me))
    expect(res.statusCode, res.body).toBe(202)
    expect(res.json()).toMatchObject({ cancellation: 'compensating', order: { id, status: 'PENDING' } })
  })

  it('when PUT asks for CANCELLED, then it takes the cancellation path', async () => {
    const id = await orderIn('PROCESSING')
    const res = await app.inject({ method: 'PUT', url: `/api/orders/${id}/status`, headers: { authorization: await operator() }, payload: { newStatus: 'CANCELLED', reason: 'warehouse fire' } })
    expect(res.statusCode).toBe(200)
    expect(res.json().status).toBe('CANCELLED')
    const history = await db.selectFrom('order_history').selectAll().where('order_id', '=', id).execute()
    expect(history).toMatchObject([{ from_status: 'PROCESSING', to_status: 'CANCELLED', cause: 'operator', reason: 'warehouse fire', actor: OPERATOR }])
  })

  it("when a customer cancels someone else's order, then 404 and nothing changes", async () => {
    const id = await orderIn('PENDING')
    const res = await del(id, await customer(randomUUID()))
    expect(res.statusCode).toBe(404)
    expect((await db.selectFrom('orders').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status).toBe('PENDING')
  })

  it('when the order does not exist, then 404', async () => {
    expect((await del(randomUUID())).statusCode).toBe(404)
  })
})
