// With OTEL_EXPORTER_OTLP_ENDPOINT set, a service records spans and exports them over OTLP/HTTP. A throwaway
// collector on loopback receives them; the service copy runs with an unreachable Kafka so it joins no group.
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, freePort, operator, stopChild } from '../support/stack.ts'

let serviceUrl: string
const received: { path: string; body: string }[] = []
let collector: Server
let service: ChildProcess

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
  const port = await freePort()
  serviceUrl = `http://127.0.0.1:${port}`
  service = spawn(process.execPath, ['--env-file-if-exists=.env', 'services/payments/src/main.ts'], {
    env: { ...process.env, PAYMENTS_PORT: String(port), KAFKA_BROKERS: '127.0.0.1:1', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  })
  await eventually(async () => (await fetch(`${serviceUrl}/actuator/health/liveness`)).ok, 60_000, 'the payments copy')
}, 90_000)
afterAll(async () => {
  await stopChild(service)
  await new Promise((r) => collector?.close(r))
}, 30_000)

describe('trace export', () => {
  it('when an OTLP endpoint is configured, then the request span is exported with its route, status and correlation id', async () => {
    const correlationId = `otlp-e2e-${randomUUID()}`
    const res = await fetch(`${serviceUrl}/api/payments?size=1`, { headers: { authorization: `Bearer ${await operator()}`, 'x-correlation-id': correlationId } })
    expect(res.status).toBe(200)
    const batch = await eventually(() => received.find((r) => r.path === '/v1/traces' && r.body.includes(correlationId)), 30_000, 'an exported span')
    expect(batch.body).toContain('trackops-payments')
    expect(batch.body).toContain('/api/payments')
  })
})
