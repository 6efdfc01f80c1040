// Health details describe the infrastructure (connector and slot names, the Kafka cluster id, hosts, error texts):
// the running services show them to operators and admins only, anyone else sees each status. Reads only.
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { tokenFor, testEnv } from '../support/env.ts'
import { api, operator } from '../support/stack.ts'

type Health = { status: string; components: Record<string, { status: string; details?: Record<string, unknown> }> }
const services = ['orders', 'inventory', 'payments', 'relay'] as const
// What the details of the running stack contain: connector names, slot names, the cluster id, Connect's address.
const revealing = /trackops-\w+-outbox|trackops_\w+_(cdc|outbox)|clusterId|connectUrl|127\.0\.0\.1|"error"|details/

describe('health details', () => {
  it('when health is asked without a token or as a customer, then each service shows its statuses and no details', async () => {
    const customer = await tokenFor('customer', randomUUID())
    for (const service of services) {
      for (const token of [undefined, customer]) {
        const res = await api<Health>(service, 'GET', '/actuator/health', { ...(token ? { token } : {}) })
        const seen = `${service} ${token ? 'customer' : 'anonymous'}: ${JSON.stringify(res.body)}`
        expect([200, 503], seen).toContain(res.status)
        expect(Object.keys(res.body).sort(), seen).toEqual(['components', 'status'])
        for (const component of Object.values(res.body.components)) expect(Object.keys(component), seen).toEqual(['status'])
        expect(JSON.stringify(res.body), seen).not.toMatch(revealing)
      }
    }
  })

  it('when an operator asks, then the details are there: the Debezium connector and slot, the Kafka cluster id', async () => {
    const res = await api<Health>('orders', 'GET', '/actuator/health', { token: await operator() })
    expect(res.body.components.debezium?.details).toMatchObject({ connector: 'trackops-orders-outbox', slot: expect.any(String) })
    expect(res.body.components.kafka?.details).toHaveProperty('clusterId')
  })

  it("when an operator opens the console's health overview, then the services' components carry their details", async () => {
    const res = await fetch(`${testEnv.urls.console}/api/ops/health`, { headers: { authorization: `Bearer ${await operator()}` } })
    expect(res.status).toBe(200)
    const overview = (await res.json()) as { services: { name: string; components?: Health['components'] }[] }
    const orders = overview.services.find((s) => s.name === 'orders')
    expect(orders?.components?.debezium?.details).toMatchObject({ connector: 'trackops-orders-outbox' })
  })
})
