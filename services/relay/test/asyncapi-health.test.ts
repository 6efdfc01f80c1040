// The AsyncAPI document and page, and the relay's health: source databases, Kafka (required only when the
// relay publishes), Debezium connectors and slots, and the outbox backlog. Kafka Connect and the Kafka admin
// are replaced by stand-ins that answer like them, so these tests need neither.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { createHealth } from '@trackops/runtime'
import type { App } from '@trackops/http'
import type { KafkaAdmin } from '@trackops/messaging'
import { registerRelayHealth } from '../src/health.ts'
import { auth, closeAll, insertOutboxRow, relayApp, scratchSource, sources } from './support.ts'

let app: App
let scratch: Awaited<ReturnType<typeof scratchSource>>
beforeAll(async () => {
  app = await relayApp('debezium')
  scratch = await scratchSource('trackops_relay_health_test')
})
afterAll(async () => {
  await app?.close()
  await scratch?.drop()
  await closeAll()
})

const kafka = (up: boolean): KafkaAdmin =>
  ({
    describeCluster: async () => {
      if (!up) throw new Error('Kafka metadata timed out after 3000 ms (is Kafka up?)')
      return { clusterId: 'test-cluster', brokers: 1, topics: [] }
    },
  }) as unknown as KafkaAdmin

/** Answers like Kafka Connect's GET /connectors/<name>/status. */
const connect = (states: Record<string, { connector: string; tasks: string[] } | 404>): typeof fetch =>
  (async (input: string | URL | Request) => {
    const name = String(input).match(/connectors\/([^/]+)\/status/)?.[1] ?? ''
    const state = states[name]
    if (!state || state === 404) return new Response(JSON.stringify({ error_code: 404 }), { status: 404 })
    return Response.json({ name, connector: { state: state.connector }, tasks: state.tasks.map((s, id) => ({ id, state: s })) })
  }) as typeof fetch

describe('AsyncAPI', () => {
  it('when /asyncapi.json is fetched without a token, then it is the AsyncAPI 3 document of every topic', async () => {
    const res = await app.inject({ method: 'GET', url: '/asyncapi.json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(doc.asyncapi).toBe('3.0.0')
    expect(Object.keys(doc.channels)).toEqual(expect.arrayContaining(['payments.commands', 'payments.events', 'orders.events', 'payments.commands.dlq']))
    expect(Object.keys(doc.channels['payments.commands'].messages).sort()).toEqual(['PATH_PROBE', 'PROCESS_PAYMENT', 'REFUND_PAYMENT'])
    // path probes travel on each participant's own topics
    expect(Object.keys(doc.channels['inventory.commands'].messages)).toContain('PATH_PROBE')
    expect(Object.keys(doc.channels['inventory.events'].messages)).toContain('PATH_PROBE_ACK')
    expect(doc.components.messages.PATH_PROBE_ACK.payload.properties.data.properties).toHaveProperty('sentAt')
    expect(doc.components.messages.PAYMENT_FAILED.payload.properties.data.properties).toHaveProperty('code')
    expect(doc.operations['payments-commands.receive.payments.commands']).toMatchObject({ action: 'receive', bindings: { kafka: { groupId: { enum: ['payments-commands'] } } } })
    expect(doc.components.messages.PROCESS_PAYMENT.examples[0].payload.data.amountCents).toEqual(expect.any(Number))
  })

  it('when /asyncapi is opened, then a self-contained HTML page lists channels and message schemas', async () => {
    const res = await app.inject({ method: 'GET', url: '/asyncapi' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('<code>payments.commands</code>')
    expect(res.body).toContain('PROCESS_PAYMENT')
    expect(res.body).toContain('&quot;paymentToken&quot;')
    expect(res.body).toContain('<code>orders.send.payments.commands</code>')
    expect(res.body).toContain('<code>payments-commands.receive.payments.commands</code>')
    expect(res.body).toContain('<h4>Example</h4>')
    expect(res.body).not.toMatch(/<script|https?:\/\/(?!127)/)
  })
})

describe('relay health', () => {
  it('when the strategy is outbox and Kafka is down, then the relay is DOWN (Kafka is required to publish)', async () => {
    const health = createHealth()
    registerRelayHealth(health, { sources, strategy: 'outbox', admin: kafka(false), connectUrl: 'http://connect.invalid', backlogWarnSeconds: 60 })
    const report = await health.report()
    expect(report.status).toBe('DOWN')
    expect(report.components).toMatchObject({ ordersDb: { status: 'UP', required: true }, inventoryDb: { status: 'UP' }, paymentsDb: { status: 'UP' }, kafka: { status: 'DOWN', required: true } })
    expect(report.components).not.toHaveProperty('debezium')
  })

  it('when the strategy is debezium, then Kafka is not required and the connectors and slot lag are reported', async () => {
    const health = createHealth()
    const running = { connector: 'RUNNING', tasks: ['RUNNING'] }
    registerRelayHealth(health, {
      sources, strategy: 'debezium', admin: kafka(false), connectUrl: 'http://connect.test', backlogWarnSeconds: 60,
      fetch: connect({ 'trackops-orders-outbox': running, 'trackops-inventory-outbox': running, 'trackops-payments-outbox': running }),
    })
    const report = await health.report()
    expect(report.components.kafka).toMatchObject({ status: 'DOWN', required: false })
    expect(report.status).toBe('DEGRADED')
    const debezium = report.components.debezium!
    expect(debezium.status).toBe('UP')
    expect(debezium.details).toMatchObject({ connectors: { 'trackops-payments-outbox': { state: 'RUNNING', tasks: ['RUNNING'], source: 'payments' } } })
    // relay_svc can read pg_replication_slots here: one list (possibly empty) per source, not null
    const slots = (debezium.details as { replicationSlots: Record<string, unknown> }).replicationSlots
    expect(Object.keys(slots)).toEqual(['orders', 'inventory', 'payments'])
    for (const value of Object.values(slots)) expect(Array.isArray(value)).toBe(true)
  })

  it('when a connector task failed or a connector is missing, then the debezium component is DOWN, naming them', async () => {
    const health = createHealth()
    registerRelayHealth(health, {
      sources, strategy: 'debezium', admin: kafka(true), connectUrl: 'http://connect.test', backlogWarnSeconds: 60,
      fetch: connect({ 'trackops-orders-outbox': { connector: 'RUNNING', tasks: ['FAILED'] }, 'trackops-inventory-outbox': { connector: 'RUNNING', tasks: ['RUNNING'] }, 'trackops-payments-outbox': 404 }),
    })
    const debezium = (await health.report()).components.debezium!
    expect(debezium.status).toBe('DOWN')
    expect(debezium.details).toMatchObject({
      connectors: { 'trackops-orders-outbox': { state: 'RUNNING', tasks: ['FAILED'] }, 'trackops-payments-outbox': { state: 'NOT_REGISTERED' } },
    })
  })

  it('when the outbox strategy has an unpublished row older than the threshold, then the outbox component is DEGRADED, never DOWN', async () => {
    await sql`INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent, created_at)
              VALUES (gen_random_uuid(), 'trackops.test.events', 'order', 'k', 'PAYMENT_PROCESSED', '{}', 'c', 't', now() - interval '120 seconds')`.execute(scratch.db)
    const health = createHealth()
    registerRelayHealth(health, { sources: [scratch], strategy: 'outbox', admin: kafka(true), connectUrl: 'http://connect.invalid', backlogWarnSeconds: 60 })
    const report = await health.report()
    expect(report.status).toBe('DEGRADED')
    expect(report.components.outbox).toMatchObject({ status: 'DEGRADED', required: false, details: { warnAfterSeconds: 60, sources: { payments: { unpublished: 1 } } } })
    expect((report.components.outbox!.details as { sources: { payments: { oldestUnpublishedAgeSeconds: number } } }).sources.payments.oldestUnpublishedAgeSeconds).toBeGreaterThanOrEqual(119)
  })

  it('when the strategy is debezium, then old unpublished rows do not degrade the relay (the WAL publishes them)', async () => {
    await insertOutboxRow('orders', { ageSeconds: 300 })
    const health = createHealth()
    registerRelayHealth(health, { sources, strategy: 'debezium', admin: kafka(true), connectUrl: 'http://connect.test', backlogWarnSeconds: 60, fetch: connect({}) })
    expect((await health.report()).components.outbox?.status).toBe('UP')
  })

  it('when the OpenAPI document is fetched, then it lists the events and DLQ routes', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    expect(res.statusCode).toBe(200)
    expect(Object.keys(res.json().paths)).toEqual(expect.arrayContaining(['/api/events/stats', '/api/events/{id}/process', '/api/dlq', '/api/dlq/{id}/replay', '/api/dlq/replay']))
  })

  it('when health is fetched through the app, then it is public', async () => {
    const res = await app.inject({ method: 'GET', url: '/actuator/health' })
    expect(res.statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: '/api/events/stats', headers: await auth('admin') })).statusCode).toBe(200)
  })
})
