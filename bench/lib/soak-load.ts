// The soak's steady mixed load, open loop for as long as it runs: orders placed at a fixed rate by a pool of
// customers, a share of them cancelled by their customer at once, a share followed over Server-Sent Events until
// they are final, operators reading single orders and the order board, and a few poison records on a saga topic.
import { randomUUID } from 'node:crypto'
import { createKafkaProducer } from '../../packages/messaging/src/kafka.ts'
import { openSse } from '../../tests/support/sse.ts'
import { nowMs } from './events.ts'
import { sleep } from './progress.ts'
import { orderBody } from './products.ts'
import { customers as makeCustomers, operatorTokens, testEnv, url, type Customer } from './stack.ts'

export interface SoakLoadOptions {
  seconds: number
  /** Orders placed per second. */
  rate: number
  /** Operator reads per second: single orders and the order board, alternately. */
  readsPerSecond: number
  /** Every 1/cancelShare-th order is cancelled by its customer right after it was placed (0: none). */
  cancelShare: number
  /** Every 1/sseShare-th order is followed over SSE until its status is final (0: none). */
  sseShare: number
  /** Schema-invalid records sent to inventory.events per minute; each must be dead-lettered once. */
  poisonPerMinute: number
  products: string[]
}

export interface PlacedOrder {
  dueAt: number
  answeredAt?: number
  status?: number
  orderId?: string
  error?: string
  /** The answer to the customer's DELETE, when this order was one to cancel. */
  cancelStatus?: number
  /** When followed over SSE: the final status seen, or why none was. */
  sse?: { final?: string; error?: string }
}

export interface Read {
  at: number
  ms: number
  status: number
  kind: 'order' | 'board'
}

export interface SoakLoad {
  orders: PlacedOrder[]
  reads: Read[]
  /** Keys of the poison records sent (their correlation id is `soak-poison-<key>`). */
  poisonKeys: string[]
  startedAt: number
  endedAt: number
}

export const FINAL_STATUSES = ['CONFIRMED', 'CANCELLED']
export const POISON_CORRELATION_PREFIX = 'soak-poison-'
const SSE_TIMEOUT_MS = 120_000
const MAX_OPEN_STREAMS = 100

const everyNth = (share: number) => (share > 0 ? Math.max(1, Math.round(1 / share)) : 0)

async function send(target: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(target, { ...init, signal: AbortSignal.timeout(30_000) })
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> }
}

const failure = (error: unknown) => {
  const cause = (error as { cause?: { code?: string } }).cause
  return error instanceof Error ? `${error.name}${cause?.code ? `: ${cause.code}` : ''}` : String(error)
}

/** Follows one order's live stream until a final status arrives (the first frame is a snapshot of its state). */
async function follow(order: PlacedOrder, customer: Customer) {
  const stream = await openSse(`${url('orders')}/api/orders/${order.orderId}/events`, { authorization: customer.authorization })
  try {
    if (stream.res.status !== 200) throw new Error(`status ${stream.res.status}`)
    const final = await stream.until((e) => FINAL_STATUSES.includes(String(e.data.status)), SSE_TIMEOUT_MS)
    order.sse = { final: String(final.data.status) }
  } finally {
    await stream.close()
  }
}

/** Runs the load for `seconds`; resolves when every request it started has been answered. */
export async function runSoakLoad(opts: SoakLoadOptions, onTick?: (elapsedS: number, load: SoakLoad, openStreams: number) => void): Promise<SoakLoad> {
  const pool = await makeCustomers(Math.max(20, Math.min(500, Math.ceil(opts.rate * 30))))
  const operators = await operatorTokens(Math.max(1, Math.ceil(opts.readsPerSecond / 10)))
  const producer = opts.poisonPerMinute > 0 ? createKafkaProducer({ brokers: testEnv.brokers, clientId: 'trackops-soak' }) : null
  const load: SoakLoad = { orders: [], reads: [], poisonKeys: [], startedAt: nowMs() + 50, endedAt: 0 }
  const inflight = new Set<Promise<void>>()
  const track = (p: Promise<void>) => {
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
  }
  let openStreams = 0
  const cancelEvery = everyNth(opts.cancelShare)
  const sseEvery = everyNth(opts.sseShare)
  const end = load.startedAt + opts.seconds * 1000

  const placeOrder = (i: number, dueAt: number) => {
    const customer = pool[i % pool.length] as Customer
    const order: PlacedOrder = { dueAt }
    load.orders.push(order)
    const headers = { authorization: customer.authorization, 'content-type': 'application/json' }
    track(
      (async () => {
        try {
          const r = await send(`${url('orders')}/api/orders`, { method: 'POST', headers, body: JSON.stringify(orderBody(customer.customerId, opts.products[i % opts.products.length] as string)) })
          order.answeredAt = nowMs()
          order.status = r.status
          if (r.status !== 201) {
            order.error = String(r.body.code ?? r.status)
            return
          }
          order.orderId = String(r.body.id)
          if (cancelEvery && i % cancelEvery === cancelEvery - 1) {
            order.cancelStatus = (await send(`${url('orders')}/api/orders/${order.orderId}?reason=soak`, { method: 'DELETE', headers: { authorization: customer.authorization } })).status
          }
          if (sseEvery && i % sseEvery === 0 && openStreams < MAX_OPEN_STREAMS) {
            openStreams++
            await follow(order, customer)
              .catch((error: unknown) => {
                order.sse = { error: error instanceof Error ? error.message : String(error) }
              })
              .finally(() => openStreams--)
          }
        } catch (error) {
          order.answeredAt ??= nowMs()
          order.error ??= failure(error)
        }
      })(),
    )
  }

  let board = false
  const read = (i: number) => {
    const recent = load.orders.findLast((o) => o.orderId)?.orderId
    const kind: Read['kind'] = board || !recent ? 'board' : 'order'
    board = !board
    const target = kind === 'board' ? `${url('orders')}/api/orders?page=0&size=20` : `${url('orders')}/api/orders/${recent}`
    const started = nowMs()
    track(
      fetch(target, { headers: { authorization: operators[i % operators.length] as string }, signal: AbortSignal.timeout(30_000) })
        .then(async (res) => {
          await res.arrayBuffer()
          load.reads.push({ at: started, ms: nowMs() - started, status: res.status, kind })
        })
        .catch(() => {
          load.reads.push({ at: started, ms: nowMs() - started, status: 0, kind })
        }),
    )
  }

  const poison = () => {
    const key = randomUUID()
    load.poisonKeys.push(key)
    const correlationId = `${POISON_CORRELATION_PREFIX}${key}`
    // INVENTORY_RESERVED without its reservation: the orders saga consumer cannot decode it and dead-letters it.
    const value = JSON.stringify({ id: randomUUID(), type: 'INVENTORY_RESERVED', version: 1, occurredAt: new Date().toISOString(), aggregateType: 'order', aggregateId: key, correlationId, data: { orderId: key } })
    track(producer!.send([{ topic: 'inventory.events', key, value, headers: { type: 'INVENTORY_RESERVED', correlationId } }]))
  }

  const streams: { every: number; offset: number; count: number; fire: (i: number, dueAt: number) => void }[] = [
    { every: 1000 / opts.rate, offset: 0, count: 0, fire: placeOrder },
    { every: opts.readsPerSecond > 0 ? 1000 / opts.readsPerSecond : Infinity, offset: 0, count: 0, fire: read },
    // the first poison a little after the start, when the first orders are in flight
    { every: opts.poisonPerMinute > 0 ? 60_000 / opts.poisonPerMinute : Infinity, offset: 10_000, count: 0, fire: poison },
  ].filter((s) => Number.isFinite(s.every))
  let lastTick = 0
  try {
    for (;;) {
      const now = nowMs()
      if (now >= end) break
      let soonest = end
      for (const s of streams) {
        let due = load.startedAt + s.offset + s.count * s.every
        while (due <= now && due < end) {
          s.fire(s.count, due)
          s.count++
          due = load.startedAt + s.offset + s.count * s.every
        }
        soonest = Math.min(soonest, due)
      }
      if (onTick && now - lastTick >= 1_000) {
        lastTick = now
        onTick((now - load.startedAt) / 1000, load, openStreams)
      }
      await sleep(Math.max(0, Math.min(soonest - nowMs(), 50)))
    }
    load.endedAt = nowMs()
    while (inflight.size > 0) {
      onTick?.((nowMs() - load.startedAt) / 1000, load, openStreams)
      await Promise.race([Promise.allSettled([...inflight]), sleep(1_000)])
    }
  } finally {
    await producer?.close().catch(() => undefined)
  }
  return load
}
