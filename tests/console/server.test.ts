// The console server's own routes in process: connector names are checked at the edge before anything is sent to
// Kafka Connect (a stand-in HTTP server that records what reaches it), and the development sign-in exists only in
// development mode.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { createApp, createVerifier, type App } from '@trackops/http'
import { createHealth } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import { loadConsoleConfig } from '../../console/src/server/config.ts'
import { registerDevTokens } from '../../console/src/server/dev-tokens.ts'
import { registerOps } from '../../console/src/server/ops.ts'
import { testEnv, tokenFor } from '../support/env.ts'

const logger = pino({ level: 'silent' })
const reached: { method: string; url: string }[] = []
const connect = http.createServer((req, res) => {
  reached.push({ method: req.method ?? '', url: req.url ?? '' })
  res.writeHead(204).end()
})
let connectUrl: string

async function consoleApp(env: Record<string, string | undefined>): Promise<{ app: App; devTokens: boolean; config: ReturnType<typeof loadConsoleConfig> }> {
  const config = loadConsoleConfig({ KAFKA_CONNECT_URL: connectUrl, RATE_LIMIT_ENABLED: 'false', ...env })
  const app = await createApp({
    name: 'console', title: 'console', description: 'test', logger, health: createHealth(),
    verify: createVerifier({ secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }),
  })
  registerOps(app, { services: [], connectUrl: config.KAFKA_CONNECT_URL, admin: {} as KafkaAdmin, health: createHealth() })
  const devTokens = registerDevTokens(app, config)
  await app.ready()
  return { app, devTokens, config }
}

const apps: App[] = []
beforeAll(async () => {
  await new Promise<void>((resolve) => connect.listen(0, '127.0.0.1', resolve))
  connectUrl = `http://127.0.0.1:${(connect.address() as AddressInfo).port}`
})
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()))
  await new Promise((resolve) => connect.close(resolve))
})

/** A POST with the path sent exactly as written (as `curl --path-as-is` does): no client resolves `.` or `..` away. */
function rawPost(base: string, path: string, token: string): Promise<{ statusCode: number; headers: http.IncomingHttpHeaders; body: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method: 'POST', path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }))
    })
    req.on('error', reject).end()
  })
}

describe('connector restarts through the console', () => {
  let base: string
  beforeAll(async () => {
    const { app } = await consoleApp({ TRACKOPS_DEV_MODE: 'true' })
    apps.push(app)
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  })
  const restart = async (rawName: string, role: 'admin' | 'operator' = 'admin') =>
    rawPost(base, `/api/ops/connectors/${rawName}/restart`, await tokenFor(role, `${role}-console-test`))

  it('when the name is `.`, `..` or otherwise not a connector name, then 400 problem+json and nothing reaches Kafka Connect', async () => {
    for (const name of ['.', '..', '%2E', '%2E%2E', '.hidden', '..%2F..%2Fconnectors', 'a%2Fb', 'a%20b', '-x', '_x']) {
      reached.length = 0
      const res = await restart(name)
      expect(res.statusCode, `${name}: ${res.body}`).toBe(400)
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.json()).toMatchObject({ status: 400, code: 'request.validation', errors: [{ field: 'params.name' }] })
      expect(reached, name).toEqual([])
    }
  })

  it('when the name is a connector name, then the restart is forwarded for that connector only', async () => {
    reached.length = 0
    const res = await restart('trackops-orders-outbox')
    expect(res.statusCode, res.body).toBe(202)
    expect(reached).toEqual([{ method: 'POST', url: '/connectors/trackops-orders-outbox/restart?includeTasks=true&onlyFailed=false' }])
  })

  it('when an operator asks, then 403 before the name is even looked at', async () => {
    reached.length = 0
    const res = await restart('.', 'operator')
    expect(res.statusCode).toBe(403)
    expect(reached).toEqual([])
  })
})

describe('development sign-in', () => {
  it('when development mode is off, then /api/dev/tokens does not exist (404) and no token is minted', async () => {
    const { app, devTokens } = await consoleApp({ TRACKOPS_DEV_MODE: undefined, JWT_SECRET: randomBytes(36).toString('base64') })
    apps.push(app)
    expect(devTokens).toBe(false)
    expect((await app.inject({ method: 'GET', url: '/api/dev/tokens' })).statusCode).toBe(404)
    const post = await app.inject({ method: 'POST', url: '/api/dev/tokens', payload: { role: 'admin' } })
    expect(post.statusCode).toBe(404)
    expect(post.body).not.toContain('token"')
    // Explicitly false is off too.
    const off = await consoleApp({ TRACKOPS_DEV_MODE: 'false', JWT_SECRET: randomBytes(36).toString('base64') })
    apps.push(off.app)
    expect((await off.app.inject({ method: 'GET', url: '/api/dev/tokens' })).statusCode).toBe(404)
  })

  it('when development mode is on, then each role gets a token the services accept, with that role only', async () => {
    const { app, devTokens } = await consoleApp({ TRACKOPS_DEV_MODE: 'true', JWT_SECRET: undefined })
    apps.push(app)
    expect(devTokens).toBe(true)
    const offer = await app.inject({ method: 'GET', url: '/api/dev/tokens' })
    expect(offer.statusCode).toBe(200)
    expect(offer.json().roles).toEqual(['customer', 'operator', 'admin'])
    // The services verify with the same settings as the tests (the local development secret).
    const verify = createVerifier(testEnv.jwt)
    for (const role of ['customer', 'operator', 'admin'] as const) {
      const res = await app.inject({ method: 'POST', url: '/api/dev/tokens', payload: { role } })
      expect(res.statusCode, res.body).toBe(200)
      const body = res.json() as { token: string; role: string; sub: string; expiresAt: string }
      const principal = await verify(`Bearer ${body.token}`)
      expect(principal.roles).toEqual([role])
      expect(principal.sub).toBe(body.sub)
      if (role === 'customer') expect(body.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      else expect(body.sub).toMatch(new RegExp(`^${role}-[0-9a-f]{8}$`))
      expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now())
    }
  })

  it('when the role is unknown or a customer subject is not a UUID, then 400 and no token', async () => {
    const { app } = await consoleApp({ TRACKOPS_DEV_MODE: 'true' })
    apps.push(app)
    const bad = await app.inject({ method: 'POST', url: '/api/dev/tokens', payload: { role: 'root' } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).not.toHaveProperty('token')
    const badSub = await app.inject({ method: 'POST', url: '/api/dev/tokens', payload: { role: 'customer', sub: 'not-a-uuid' } })
    expect(badSub.statusCode).toBe(400)
    expect(badSub.json().errors).toEqual([{ field: 'sub', message: 'must be a customer id (UUID)' }])
    const given = await app.inject({ method: 'POST', url: '/api/dev/tokens', payload: { role: 'customer', sub: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b' } })
    expect(given.json().sub).toBe('6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b')
  })
})
