// GET /api/events/stats tells the truth per strategy. Under debezium nothing marks outbox rows, so the answer is
// what the connector captured: its state (Kafka Connect, answered by a stand-in here), its replication slot's
// confirmed position against the current WAL (a real logical slot in the component database) and the rows kept
// for pruning. Under outbox it is the relay's backlog. The running stack's slots: tests/e2e/outbox-capture.test.ts.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import type { App } from '@trackops/http'
import { componentDbName, testEnv } from '../../../tests/support/env.ts'
import { outboxComponent } from '../src/health.ts'
import type { CaptureStatus } from '../src/publishing.ts'
import { auth, closeAll, insertOutboxRow, relayApp, sources } from './support.ts'

const CONNECT = 'http://connect.test'
const slot = `relay_stats_test_${randomUUID().slice(0, 8)}`
// The slot lives in the component copy of the payments database, held by this session only (temporary): it goes
// away with the session, so it can never keep WAL or block the next run's DROP DATABASE.
const holder = new pg.Client({ connectionString: testEnv.adminDb.replace(/\/[^/]*$/, `/${componentDbName('payments')}`) })

interface ConnectorAnswer {
  state: string
  tasks: { state: string; trace?: string }[]
  slotName?: string
}

/** Answers like Kafka Connect's GET /connectors?expand=status&expand=info, remembering what it was asked. */
function connect(connectors: Record<string, ConnectorAnswer> | 'down') {
  const asked: string[] = []
  const get = (async (input: string | URL | Request) => {
    asked.push(String(input))
    if (connectors === 'down') throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:8083') })
    return Response.json(Object.fromEntries(Object.entries(connectors).map(([name, c]) => [name, {
      status: { name, connector: { state: c.state }, tasks: c.tasks.map((t, id) => ({ id, ...t })), type: 'source' },
      info: { name, config: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', ...(c.slotName ? { 'slot.name': c.slotName } : {}) }, type: 'source' },
    }])))
  }) as typeof fetch
  return { get, asked }
}

const lsn = (text: string) => {
  const [hi = '0', lo = '0'] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

let apps: App[] = []
async function stats(strategy: 'debezium' | 'outbox', get?: typeof fetch) {
  const app = await relayApp(strategy, null, undefined, { connectUrl: CONNECT, retentionSeconds: 600, ...(get ? { fetch: get } : {}) })
  apps.push(app)
  const res = await app.inject({ method: 'GET', url: '/api/events/stats', headers: await auth('operator') })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

beforeAll(async () => {
  await holder.connect()
  await holder.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)`, [slot])
})
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()))
  apps = []
  await holder.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined)
  await holder.end()
  await closeAll()
})

describe('outbox stats under the debezium strategy', () => {
  it('when the connector runs, then each source reports its connector, its slot\'s confirmed and current WAL positions with the lag between them, and the rows retained for pruning — no unpublished count', async () => {
    await insertOutboxRow('payments', { ageSeconds: 400 }) // WAL written after the slot's confirmed position
    const running = { state: 'RUNNING', tasks: [{ state: 'RUNNING' }] }
    const standIn = connect({ 'trackops-payments-outbox': { ...running, slotName: slot }, 'trackops-orders-outbox': running })
    const body = await stats('debezium', standIn.get)

    expect(body).toMatchObject({ strategy: 'debezium', publisher: 'debezium', retentionSeconds: 600, connectUrl: CONNECT })
    expect(body.explanation).toMatch(/nothing marks rows published/)
    expect(standIn.asked).toEqual([`${CONNECT}/connectors?expand=status&expand=info`])
    const sources = body.sources as CaptureStatus[]
    expect(sources.map((s) => s.source)).toEqual(['orders', 'inventory', 'payments'])
    for (const s of sources) expect(s).not.toHaveProperty('unpublished')

    const payments = sources.find((s) => s.source === 'payments')!
    expect(payments.connector).toEqual({ name: 'trackops-payments-outbox', state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING', trace: null }] })
    const held = (await holder.query<{ confirmed: string; active: boolean }>('SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]!
    expect(payments.slot).toMatchObject({ name: slot, active: held.active, confirmedFlushLsn: held.confirmed })
    expect(payments.slot!.lagBytes).toBeGreaterThan(0)
    expect(BigInt(payments.slot!.lagBytes!)).toBe(lsn(payments.slot!.currentWalLsn) - lsn(payments.slot!.confirmedFlushLsn!))
    expect(payments.retained!.rows).toBeGreaterThanOrEqual(1)
    expect(payments.retained!.oldestAgeSeconds).toBeGreaterThanOrEqual(399)

    // Registered under its usual slot name, which this database does not have: the connector never ran on it.
    const orders = sources.find((s) => s.source === 'orders')!
    expect(orders).toMatchObject({ connector: { state: 'RUNNING' }, slot: null })
    expect(sources.find((s) => s.source === 'inventory')!.connector).toMatchObject({ name: 'trackops-inventory-outbox', state: 'NOT_REGISTERED', error: expect.stringMatching(/infra\/stack.sh connectors/) })
  })

  it('when a connector task failed, then the task state and the first line of its trace are reported', async () => {
    const standIn = connect({ 'trackops-payments-outbox': { state: 'RUNNING', tasks: [{ state: 'FAILED', trace: 'org.apache.kafka.connect.errors.ConnectException: slot is in use\n\tat io.debezium…' }], slotName: slot } })
    const payments = ((await stats('debezium', standIn.get)).sources as CaptureStatus[]).find((s) => s.source === 'payments')!
    expect(payments.connector.tasks).toEqual([{ id: 0, state: 'FAILED', trace: 'org.apache.kafka.connect.errors.ConnectException: slot is in use' }])
    expect(payments.slot?.name).toBe(slot)
  })

  it('when Kafka Connect does not answer, then every connector is UNREACHABLE with the reason, and the databases are still read', async () => {
    const body = await stats('debezium', connect('down').get)
    for (const s of body.sources as CaptureStatus[]) {
      expect(s.connector).toMatchObject({ state: 'UNREACHABLE', tasks: [], error: expect.stringContaining(`Kafka Connect does not answer at ${CONNECT}`) })
      expect(s.retained).not.toBeNull()
    }
  })

  it('when a customer asks, then 403', async () => {
    const app = await relayApp('debezium', null, undefined, { connectUrl: CONNECT, fetch: connect({}).get })
    apps.push(app)
    expect((await app.inject({ method: 'GET', url: '/api/events/stats', headers: await auth('customer') })).statusCode).toBe(403)
  })
})

describe('outbox stats under the outbox strategy', () => {
  it('when rows wait, then the relay is named the publisher and each source reports its backlog, without asking Kafka Connect', async () => {
    await insertOutboxRow('orders', { ageSeconds: 300 })
    const standIn = connect({})
    const body = await stats('outbox', standIn.get)
    expect(body).toMatchObject({ strategy: 'outbox', publisher: 'relay', retentionSeconds: 600 })
    expect(body.explanation).toMatch(/backlog/)
    expect(standIn.asked).toEqual([])
    const orders = body.sources.find((s: { source: string }) => s.source === 'orders')
    expect(orders.unpublished).toBeGreaterThanOrEqual(1)
    expect(orders.oldestUnpublishedAgeSeconds).toBeGreaterThanOrEqual(299)
    expect(orders).not.toHaveProperty('connector')
  })
})

describe('the relay\'s outbox health component', () => {
  it('when the strategy is debezium, then it reports the rows kept for pruning, with no unpublished count, and stays UP', async () => {
    await insertOutboxRow('inventory', { ageSeconds: 900 })
    const result = await outboxComponent({ sources, strategy: 'debezium', backlogWarnSeconds: 60 }).check()
    expect(result.status).toBe('UP')
    const inventory = (result.details as { sources: Record<string, { rows: number; oldestAgeSeconds: number }> }).sources.inventory!
    expect(inventory.rows).toBeGreaterThanOrEqual(1)
    expect(inventory.oldestAgeSeconds).toBeGreaterThanOrEqual(899)
    expect(inventory).not.toHaveProperty('unpublished')
    expect(String((result.details as { note: string }).note)).toMatch(/not a backlog/)
  })
})

describe('the OpenAPI document', () => {
  it('when /docs/json is read, then the stats answer is documented for both strategies', async () => {
    const app = await relayApp('debezium', null, undefined, { connectUrl: CONNECT, fetch: connect({}).get })
    apps.push(app)
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
    const schema = doc.paths['/api/events/stats'].get.responses['200'].content['application/json'].schema
    const variants = (schema.anyOf ?? schema.oneOf) as { properties: Record<string, { const?: string; enum?: string[] }> }[]
    expect(variants.map((v) => v.properties.strategy?.const ?? v.properties.strategy?.enum?.[0])).toEqual(['debezium', 'outbox'])
    expect(Object.keys(variants[0]!.properties)).toEqual(expect.arrayContaining(['publisher', 'explanation', 'retentionSeconds', 'sources']))
  })
})
