// The oversell race across two running copies of the inventory service: many concurrent holds for the last
// units never reserve more than there is, and on-hand = available + reserved afterwards.
import { randomUUID } from 'node:crypto'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../support/env.ts'
import { createProduct, eventually, freePort, item, operator, stopChild } from '../support/stack.ts'

let secondUrl: string
let second: ChildProcess

beforeAll(async () => {
  const port = await freePort()
  secondUrl = `http://127.0.0.1:${port}`
  second = spawn(process.execPath, ['--env-file-if-exists=.env', 'services/inventory/src/main.ts'], {
    // HTTP only: holds go straight to PostgreSQL. Joining the running service's consumer groups would rebalance
    // them now and again when the copy stops, holding up the sagas of whatever test runs next.
    env: { ...process.env, INVENTORY_PORT: String(port), KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  })
  await eventually(async () => (await fetch(`${secondUrl}/actuator/health/liveness`)).ok, 60_000, 'the second inventory copy')
}, 90_000)
afterAll(() => stopChild(second), 30_000)

describe('reservations across two copies of the inventory service', () => {
  it('when 60 holds race for 10 units through both copies, then exactly 10 are reserved and none oversold', async () => {
    const productId = await createProduct({ stock: 10 })
    const token = await operator()
    const copies = [testEnv.urls.inventory, secondUrl]
    const attempts = Array.from({ length: 60 }, (_, i) => ({ orderId: randomUUID(), quantity: 1 + (i % 3), url: copies[i % 2]! }))
    const started = Date.now()
    const results = await Promise.all(
      attempts.map(async (a) => {
        const res = await fetch(`${a.url}/api/inventory/reservations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ orderId: a.orderId, items: [{ productId, quantity: a.quantity }] }),
        })
        return { ...a, status: res.status }
      }),
    )
    const elapsed = Date.now() - started
    const won = results.filter((r) => r.status === 201)
    const refused = results.filter((r) => r.status === 409)
    expect(won.length + refused.length).toBe(results.length) // no 5xx, nothing else
    const reserved = won.reduce((sum, r) => sum + r.quantity, 0)
    expect(reserved).toBeLessThanOrEqual(10)
    // item reads are cached: wait for the last hold's version to be the one served
    const after = await eventually(async () => {
      const current = await item(productId)
      return current.reservedQuantity === reserved ? current : undefined
    }, 15_000, `reservedQuantity to be ${reserved}`)
    expect(after.availableQuantity + after.reservedQuantity).toBe(10)
    expect(after.onHandQuantity).toBe(10)
    // whatever is left is smaller than every refused request: no capacity was lost to the race
    for (const r of refused) expect(r.quantity).toBeGreaterThan(after.availableQuantity)
    console.log(`race: 60 holds over 2 copies in ${elapsed} ms → ${won.length} won (${reserved} units), ${refused.length} refused, ${after.availableQuantity} left`)
  })
})
