// With OTEL_EXPORTER_OTLP_ENDPOINT set, a service records spans and exports them over OTLP/HTTP: the HTTP
// server span, Fastify's, and one per SQL statement and Redis command inside the trace. A throwaway collector on
// loopback receives them; the service copies run with an unreachable Kafka so they join no group.
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { address, admin, createProduct, eventually, freePort, operator, stopChild } from '../support/stack.ts'
import { tokenFor } from '../support/env.ts'

const received: { path: string; body: string }[] = []
let collector: Server
const copies: ChildProcess[] = []
const urls = { payments: '', orders: '', inventory: '' }

async function startCopy(service: keyof typeof urls, collectorPort: number) {
  const port = await freePort()
  urls[service] = `http://127.0.0.1:${port}`
  copies.push(spawn(process.execPath, ['--env-file-if-exists=.env', `services/${service}/src/main.ts`], {
    env: { ...process.env, [`${service.toUpperCase()}_PORT`]: String(port), KAFKA_BROKERS: '127.0.0.1:1', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  }))
  await eventually(async () => (await fetch(`${urls[service]}/actuator/health/liveness`)).ok, 60_000, `the ${service} copy`)
}

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      received.push({ path: req.url ?? '', body })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r))
  const collectorPort = (collector.address() as AddressInfo).port
  await Promise.all([startCopy('payments', collectorPort), startCopy('orders', collectorPort), startCopy('inventory', collectorPort)])
}, 90_000)
afterAll(async () => {
  await Promise.all(copies.map((c) => stopChild(c)))
  await new Promise((r) => collector?.close(r))
}, 30_000)

interface ExportedSpan {
  service: string
  scope: string
  name: string
  kind: number
  attributes: Record<string, unknown>
}

/** Every span the collector received in trace `traceId` (OTLP/HTTP JSON: ids in hex, attributes as typed values). */
function spansOf(traceId: string): ExportedSpan[] {
  type Value = { stringValue?: string; intValue?: string | number }
  type Attribute = { key: string; value: Value }
  type Body = { resourceSpans: { resource: { attributes: Attribute[] }; scopeSpans: { scope: { name: string }; spans: { traceId: string; name: string; kind: number; attributes: Attribute[] }[] }[] }[] }
  const attributes = (list: Attribute[]) => Object.fromEntries(list.map((a) => [a.key, a.value.intValue === undefined ? a.value.stringValue : Number(a.value.intValue)]))
  return received
    .filter((r) => r.path === '/v1/traces')
    .flatMap((r) => (JSON.parse(r.body) as Body).resourceSpans)
    .flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.filter((s) => s.traceId === traceId).map((s) => ({
      service: String(attributes(rs.resource.attributes)['service.name']),
      scope: ss.scope.name,
      name: s.name,
      kind: s.kind,
      attributes: attributes(s.attributes),
    }))))
}

const SERVER = 2
const newTrace = () => {
  const traceId = randomBytes(16).toString('hex')
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` }
}

/**
 * Waits until the trace has its server span (ended last), an SQL statement and a Redis command; the trace must have
 * exactly one server span (the HTTP instrumentation's, none of our own besides). Its spans, that server span and the
 * text of its SQL statements.
 */
async function tracedRequest(traceId: string) {
  const spans = await eventually(() => {
    const spans = spansOf(traceId)
    const has = (scope: string) => spans.some((s) => s.scope === scope)
    return spans.some((s) => s.kind === SERVER) && has('@opentelemetry/instrumentation-pg') && has('@opentelemetry/instrumentation-ioredis') && spans
  }, 30_000, `the spans of trace ${traceId}`)
  const servers = spans.filter((s) => s.kind === SERVER)
  expect(servers).toHaveLength(1)
  const statements = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && s.name.startsWith('pg.query')).map((s) => String(s.attributes['db.query.text']))
  return { spans, server: servers[0], statements }
}

describe('trace export', () => {
  it('when an OTLP endpoint is configured, then the request span is exported with its route, status and correlation id', async () => {
    const correlationId = `otlp-e2e-${randomUUID()}`
    const res = await fetch(`${urls.payments}/api/payments?size=1`, { headers: { authorization: `Bearer ${await operator()}`, 'x-correlation-id': correlationId } })
    expect(res.status).toBe(200)
    const batch = await eventually(() => received.find((r) => r.path === '/v1/traces' && r.body.includes(correlationId)), 30_000, 'an exported span')
    expect(batch.body).toContain('trackops-payments')
    expect(batch.body).toContain('/api/payments')
  })

  it('when a traced request reads payments, then its SQL and Redis spans are in the caller\'s trace under one server span', async () => {
    const { traceId, traceparent } = newTrace()
    const res = await fetch(`${urls.payments}/api/payments?size=1`, { headers: { authorization: `Bearer ${await operator()}`, traceparent } })
    expect(res.status).toBe(200)

    const { spans, server, statements } = await tracedRequest(traceId)
    expect(server).toMatchObject({ scope: '@opentelemetry/instrumentation-http', name: 'GET /api/payments', attributes: { 'http.route': '/api/payments', 'http.response.status_code': 200 } })
    expect(spans.every((s) => s.service === 'trackops-payments')).toBe(true)
    expect(spans.some((s) => s.scope === '@fastify/otel' && s.name === 'onRequest - authenticate')).toBe(true)
    expect(statements.some((q) => /from "?payments"?/i.test(q))).toBe(true)
    expect(spans.some((s) => s.scope === '@opentelemetry/instrumentation-ioredis' && s.attributes['db.system.name'] === 'redis')).toBe(true)
  })

  it('when a traced request places an order, then the orders service exports its inserts and its Redis commands in that trace', async () => {
    const productId = await createProduct({ stock: 5 })
    const customerId = randomUUID()
    const token = await tokenFor('customer', customerId)
    // The product reaches the orders' catalogue replica through CDC: a 422 until it has.
    const { traceId } = await eventually(async () => {
      const trace = newTrace()
      const res = await fetch(`${urls.orders}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent: trace.traceparent },
        body: JSON.stringify({ customerId, address, items: [{ productId, quantity: 1 }] }),
      })
      if (res.status === 422) return undefined
      expect(res.status).toBe(201)
      return trace
    }, 30_000, 'the product in the catalogue replica')

    const { spans, server, statements } = await tracedRequest(traceId)
    expect(server).toMatchObject({ service: 'trackops-orders', name: 'POST /api/orders', attributes: { 'http.response.status_code': 201 } })
    expect(statements.some((q) => /insert into "?orders"?/i.test(q))).toBe(true)
    expect(statements.some((q) => /insert into "?outbox"?/i.test(q))).toBe(true)
    expect(spans.filter((s) => s.scope === '@opentelemetry/instrumentation-ioredis').length).toBeGreaterThan(0)
  })

  it('when a traced request creates an inventory item, then the inventory service exports its insert and its Redis commands in that trace', async () => {
    const { traceId, traceparent } = newTrace()
    const productId = `E2E-${randomUUID().slice(0, 8)}`
    const res = await fetch(`${urls.inventory}/api/inventory/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await admin()}`, 'content-type': 'application/json', traceparent },
      body: JSON.stringify({ productId, productName: `Test product ${productId}`, availableQuantity: 1, unitPrice: 10, category: 'E2E', minStockLevel: 0 }),
    })
    expect(res.status).toBe(201)

    const { server, statements } = await tracedRequest(traceId)
    expect(server).toMatchObject({ service: 'trackops-inventory', name: 'POST /api/inventory/items', attributes: { 'http.response.status_code': 201 } })
    expect(statements.some((q) => /insert into "?inventory_items"?/i.test(q))).toBe(true)
  })
})
