// Health tells the truth: each component goes DOWN when its dependency stops and UP again when it returns,
// and the services carry on by themselves afterwards (consumers resubscribe, the cache reconnects).
import { afterAll, describe, expect, it } from 'vitest'
import { api, createProduct, eventually, operator, placeOrder, stackUp, startRedis, stopJvm, stopRedis, waitForStatus } from '../support/stack.ts'

type Health = { status: string; components: Record<string, { status: string; details?: Record<string, unknown> }> }
// As an operator: anyone else sees each component's status but not its details.
const health = async (service: 'orders' | 'inventory' | 'payments' | 'relay') => (await api<Health>(service, 'GET', '/actuator/health', { token: await operator() })).body
const componentIs = (service: 'orders' | 'inventory' | 'payments' | 'relay', component: string, status: string) =>
  eventually(async () => (await health(service)).components[component]?.status === status, 60_000, `${service}.${component} to be ${status}`)

afterAll(async () => {
  await startRedis()
  await stackUp()
}, 300_000)

describe('health components', () => {
  it('when Redis stops, then redis is DOWN where it is used (the service stays UP, degraded) and UP again after', async () => {
    await stopRedis()
    try {
      for (const service of ['orders', 'inventory'] as const) {
        await componentIs(service, 'redis', 'DOWN')
        const h = await api<Health>(service, 'GET', '/actuator/health')
        expect(h.status).toBe(200) // Redis is not required: degraded, still serving
        expect(h.body.status).toBe('DEGRADED')
      }
    } finally {
      await startRedis()
    }
    for (const service of ['orders', 'inventory'] as const) await componentIs(service, 'redis', 'UP')
  })

  it('when Kafka Connect stops, then every service reports its Debezium connector DOWN, and UP again after', async () => {
    await stopJvm('connect')
    try {
      for (const service of ['orders', 'inventory', 'payments', 'relay'] as const) await componentIs(service, 'debezium', 'DOWN')
    } finally {
      await stackUp()
    }
    for (const service of ['orders', 'inventory', 'payments', 'relay'] as const) await componentIs(service, 'debezium', 'UP')
    const details = await eventually(async () => {
      const d = (await health('orders')).components.debezium?.details
      return d?.slotActive === true ? d : undefined
    }, 60_000, 'the replication slot to be streamed again')
    expect(details).toMatchObject({ connectorState: 'RUNNING', taskState: 'RUNNING', slotActive: true })
    expect(typeof details?.slotLagBytes).toBe('number')
  }, 300_000)

  it('when Kafka stops, then kafka is DOWN; when it returns, it is UP and the saga works again without restarting anything', async () => {
    await stopJvm('kafka')
    try {
      for (const service of ['orders', 'inventory', 'payments'] as const) await componentIs(service, 'kafka', 'DOWN')
    } finally {
      await stackUp()
    }
    for (const service of ['orders', 'inventory', 'payments'] as const) await componentIs(service, 'kafka', 'UP')
    const productId = await createProduct({ stock: 5 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    await waitForStatus(order.id, ['CONFIRMED'], 120_000)
  }, 400_000)
})
