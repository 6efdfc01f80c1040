// A steady stream of customers for the fault suite: orders placed at a fixed rate (each a new customer with an
// Idempotency-Key, retried the way a well-behaved client retries a 503: after its Retry-After, same key) and the
// placed orders read back as a tracking page would. Every answer is counted, so a test can say what clients saw.
import { randomUUID } from 'node:crypto'
import { tokenFor } from '../support/env.ts'
import { address, api } from '../support/stack.ts'

export interface Placed {
  id: string
  productId: string
  quantity: number
  customerToken: string
}

export interface Seen {
  /** HTTP status → count, over every request the load made (orders placed and read). */
  statuses: Record<string, number>
  /** 503 answers without a Retry-After header. */
  unavailableWithoutRetryAfter: number
  /** Requests that got no HTTP answer at all (refused or reset connection: a process was gone). */
  noAnswer: number
  /** Orders that got no 201 within the client's patience. */
  gaveUp: number
}

export function startLoad(opts: { ratePerSecond: number; products: string[]; patienceMs?: number }) {
  const placed: Placed[] = []
  const seen: Seen = { statuses: {}, unavailableWithoutRetryAfter: 0, noAnswer: 0, gaveUp: 0 }
  const pending = new Set<Promise<void>>()
  const patienceMs = opts.patienceMs ?? 180_000
  let stopped = false
  let n = 0

  const call = async (service: 'orders', method: string, path: string, init: { body?: unknown; token: string; headers?: Record<string, string> }) => {
    try {
      const res = await api(service, method, path, init)
      seen.statuses[res.status] = (seen.statuses[res.status] ?? 0) + 1
      if (res.status === 503 && !res.headers.get('retry-after')) seen.unavailableWithoutRetryAfter++
      return res
    } catch {
      seen.noAnswer++
      return undefined
    }
  }

  async function placeOne(i: number) {
    const productId = opts.products[i % opts.products.length] as string
    const quantity = 1 + (i % 2)
    const customerId = randomUUID()
    const customerToken = await tokenFor('customer', customerId)
    const key = `fault-${randomUUID()}`
    const body = { customerId, address, items: [{ productId, quantity }], paymentMethod: { token: 'tok_visa' } }
    const giveUpAt = Date.now() + patienceMs
    while (Date.now() < giveUpAt) {
      const res = await call('orders', 'POST', '/api/orders', { token: customerToken, body, headers: { 'idempotency-key': key } })
      if (res?.status === 201) {
        placed.push({ id: res.body.id, productId, quantity, customerToken })
        // the customer looks at the order once, as the confirmation page does
        await call('orders', 'GET', `/api/orders/${res.body.id}`, { token: customerToken })
        return
      }
      if (res && res.status !== 503 && res.status !== 429) throw new Error(`POST /api/orders answered ${res.status}: ${JSON.stringify(res.body)}`)
      const retryAfter = Number(res?.headers.get('retry-after') ?? 1)
      await new Promise((r) => setTimeout(r, Math.max(0.2, retryAfter) * 1000))
    }
    seen.gaveUp++
  }

  const started = Date.now()
  const timer = setInterval(() => {
    if (stopped) return
    // open loop: as many orders as the clock says, whether or not earlier ones were answered
    const due = Math.floor(((Date.now() - started) / 1000) * opts.ratePerSecond)
    while (n < due) {
      const p = placeOne(n++).catch((error) => {
        seen.statuses.error = (seen.statuses.error ?? 0) + 1
        console.error(String(error))
      })
      pending.add(p)
      void p.finally(() => pending.delete(p))
    }
  }, 50)

  return {
    placed,
    seen,
    /** Stops placing new orders and waits until every order begun has been placed (or given up on). */
    async stop() {
      stopped = true
      clearInterval(timer)
      while (pending.size) await Promise.allSettled([...pending])
      return { placed, seen, offered: n }
    },
  }
}
