// With OTEL_EXPORTER_OTLP_ENDPOINT set, a service records spans and exports them over OTLP/HTTP. A throwaway
// collector on loopback receives them; the service copy runs with an unreachable Kafka so it joins no group.
import { createServer, type Server } from 'node:http'
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, operator } from '../support/stack.ts'

const COLLECTOR_PORT = 14318
const SERVICE_PORT = 18086
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
  await new Promise<void>((r) => collector.listen(COLLECTOR_PORT, '127.0.0.1', r))
  service = spawn(process.execPath, ['--env-file-if-exists=.env', 'services/payments/src/main.ts'], {
    env: { ...process.env, PAYMENTS_PORT: String(SERVICE_PORT), KAFKA_BROKERS: '127.0.0.1:1', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${COLLECTOR_PORT}`, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  })
  await eventually(async () => (await fetch(`http://127.0.0.1:${SERVICE_PORT}/actuator/health/liveness`)).ok, 60_000, 'the payments copy')
})
afterAll(async () => {
  service?.kill('SIGTERM')
  await new Promise((r) => collector?.close(r))
})

describe('trace export', () => {
  it('when an OTLP endpoint is configured, then the request span is exported with its route, status and correlation id', async () => {
    const res = await fetch(`http://127.0.0.1:${SERVICE_PORT}/api/payments?size=1`, { headers: { authorization: `Bearer ${await operator()}`, 'x-correlation-id': 'otlp-e2e-1' } })
    expect(res.status).toBe(200)
    const batch = await eventually(() => received.find((r) => r.path === '/v1/traces' && r.body.includes('otlp-e2e-1')), 30_000, 'an exported span')
    expect(batch.body).toContain('trackops-payments')
    expect(batch.body).toContain('/api/payments')
  })
})
