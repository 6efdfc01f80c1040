// Live order updates on the running stack: an order's stream shows PENDING → CONFIRMED as the saga runs, resumes
// with Last-Event-ID, reaches clients connected to another copy of the order service (fan-out through Redis), and
// keeps the connection open with heartbeats.
import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv, tokenFor } from '../support/env.ts'
import { api, createProduct, eventually, freePort, placeOrder, stopChild, waitForStatus } from '../support/stack.ts'
import { openSse, type SseStream } from '../support/sse.ts'

const operatorToken = () => tokenFor('operator', randomUUID())
const streamOf = (base: string, orderId: string, token: string, lastEventId?: string) =>
  openSse(`${base}/api/orders/${orderId}/events`, { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) })

const open: SseStream[] = []
const track = (s: SseStream) => (open.push(s), s)
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()))
})

let productId: string
beforeAll(async () => {
  productId = await createProduct({ stock: 50 })
})

describe("an order's live stream", () => {
  it('when a customer follows their new order, then they see PENDING and then CONFIRMED as the saga confirms it', async () => {
    const all = track(await openSse(`${testEnv.urls.orders}/api/orders/events`, { authorization: `Bearer ${await operatorToken()}` }))
    expect(all.res.status).toBe(200)
    // A payment that fails twice before it goes through gives the client time to connect while the order is PENDING.
    const { order, customerToken } = await placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_transientError' })
    const mine = track(await streamOf(testEnv.urls.orders, order.id, customerToken))
    expect(mine.res.status).toBe(200)
    expect(mine.res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(mine.res.headers.get('cache-control')).toBe('no-cache')
    expect(mine.res.headers.get('x-accel-buffering')).toBe('no')

    expect(await mine.next()).toMatchObject({ event: 'snapshot', data: { orderId: order.id, status: 'PENDING', version: 1 } })
    const confirmed = await mine.next(60_000) // the saga, behind whatever its consumers still have queued
    expect(confirmed).toMatchObject({ event: 'status', data: { orderId: order.id, status: 'CONFIRMED', previousStatus: 'PENDING', cause: 'saga', version: 2 } })
    expect(confirmed.id).toMatch(/^\d+-\d+$/)

    // Operators following every order saw both changes too.
    const seen = async (status: string) => all.until((e) => e.data.orderId === order.id && e.data.status === status, 30_000)
    expect((await seen('PENDING')).data).toMatchObject({ previousStatus: null, version: 1 })
    expect((await seen('CONFIRMED')).data).toMatchObject({ previousStatus: 'PENDING', version: 2 })
  })

  it('when a client reconnects with Last-Event-ID, then it receives exactly the changes it missed, in order', async () => {
    const { order, customerToken } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    await waitForStatus(order.id, ['CONFIRMED'])
    const first = track(await streamOf(testEnv.urls.orders, order.id, customerToken))
    const snapshot = await first.next()
    expect(snapshot).toMatchObject({ event: 'snapshot', data: { status: 'CONFIRMED' } })
    const operator = await operatorToken()
    expect((await api('orders', 'POST', `/api/orders/${order.id}/process`, { token: operator })).status).toBe(200)
    const processing = await first.next(30_000)
    expect(processing).toMatchObject({ event: 'status', data: { status: 'PROCESSING' } })
    await first.close()

    // Changes are announced after their commit, off the change stream: the order being CANCELLED in the database
    // does not mean the announcements are in the stream's history yet, and a client resuming before they are gets
    // the current state as a snapshot instead. Resume once an operator's stream has seen the last one announced.
    const watch = track(await openSse(`${testEnv.urls.orders}/api/orders/events`, { authorization: `Bearer ${operator}` }))
    expect((await api('orders', 'POST', `/api/orders/${order.id}/ship`, { token: operator })).status).toBe(200)
    const cancel = await api('orders', 'DELETE', `/api/orders/${order.id}?reason=${encodeURIComponent('customer moved away')}`, { token: operator })
    expect([200, 202]).toContain(cancel.status)
    await waitForStatus(order.id, ['CANCELLED'])
    await watch.until((e) => e.data.orderId === order.id && e.data.status === 'CANCELLED', 60_000)
    await watch.close()
    const resumed = track(await streamOf(testEnv.urls.orders, order.id, customerToken, processing.id))
    expect(await resumed.next(10_000)).toMatchObject({ event: 'status', data: { status: 'SHIPPED', previousStatus: 'PROCESSING' } })
    expect(await resumed.next(10_000)).toMatchObject({ event: 'status', data: { status: 'CANCELLED', previousStatus: 'SHIPPED' } })
  })

  it("when a customer asks for another customer's order stream, then 404", async () => {
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    const stranger = await fetch(`${testEnv.urls.orders}/api/orders/${order.id}/events`, { headers: { authorization: `Bearer ${await tokenFor('customer', randomUUID())}` } })
    expect(stranger.status).toBe(404)
    expect((await stranger.json()).code).toBe('order.not-found')
  })
})

describe('with a second copy of the order service', () => {
  let copyUrl: string
  let copy: ChildProcess

  beforeAll(async () => {
    const port = await freePort()
    copyUrl = `http://127.0.0.1:${port}`
    copy = spawn('node_modules/.bin/node', ['--env-file-if-exists=.env', 'services/orders/src/main.ts'], {
      // HTTP only: the copy joins no consumer group, so every change it shows was consumed by the other copy.
      env: { ...process.env, ORDERS_PORT: String(port), KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    })
    await eventually(async () => (await fetch(`${copyUrl}/actuator/health/liveness`)).ok, 60_000, 'the second copy')
  }, 90_000)
  afterAll(() => stopChild(copy), 30_000)

  it('when a change is consumed by one copy, then a client connected to the other sees it, and heartbeats keep the stream open', async () => {
    const { order, customerToken } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    await waitForStatus(order.id, ['CONFIRMED'])
    const stream = track(await streamOf(copyUrl, order.id, customerToken))
    expect(await stream.next()).toMatchObject({ event: 'snapshot', data: { status: 'CONFIRMED' } })
    const processed = await api('orders', 'POST', `/api/orders/${order.id}/process`, { token: await operatorToken() })
    expect(processed.status).toBe(200)
    expect(await stream.next(30_000)).toMatchObject({ event: 'status', data: { orderId: order.id, status: 'PROCESSING', version: processed.body.version } })

    await eventually(() => stream.comments >= 1, 20_000, 'a heartbeat comment') // one every 15 s from the stream's start
  }, 150_000)
})
