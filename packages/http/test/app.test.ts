import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import { Type } from 'typebox'
import pino from 'pino'
import { createHealth } from '@trackops/runtime'
import { createApp, createVerifier, registerCachesRoute, signToken, AppError, type App } from '../src/index.ts'

const secret = 'test-secret-that-is-long-enough-for-hs256-0001'
const settings = { secret, issuer: 'trackops-test', audience: 'trackops' }
let app: App

beforeAll(async () => {
  const health = createHealth()
  health.register('db', { required: true, check: async () => ({ status: 'UP' }) })
  health.register('cache', { required: false, check: async () => ({ status: 'DOWN' }) })
  app = await createApp({ name: 'test', title: 'Test', description: 'test app', logger: pino({ level: 'silent' }), health, verify: createVerifier(settings) })
  app.post('/api/things', {
    config: { auth: ['operator'] },
    schema: { body: Type.Object({ name: Type.String({ minLength: 2 }), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) },
  }, async (req) => ({ got: req.body }))
  app.get('/api/things/:id', async (req) => {
    const { id } = req.params as { id: string }
    throw new AppError('thing.not-found', `Thing ${id.length} not found`)
  })
  registerCachesRoute(app, { snapshot: () => ({ caches: { things: { hits: 3 } } }) })
  await app.ready()
})
afterAll(() => app.close())

const token = (roles: ('customer' | 'operator' | 'admin')[], extra: { expiresInSeconds?: number; audience?: string; secret?: string } = {}) =>
  signToken({ ...settings, ...extra, sub: '00000000-0000-4000-8000-000000000001', roles })

describe('shared HTTP behaviour', () => {
  it('when the body breaks the schema, then 400 problem+json lists each field without echoing values', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/things', headers: { authorization: `Bearer ${await token(['operator'])}` }, payload: { name: 'x<script>', count: 0, extra: 1 } })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toContain('application/problem+json')
    const body = res.json()
    expect(body.code).toBe('request.validation')
    expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['count'])
    expect(res.body).not.toContain('<script>')
  })
  it('when unknown fields are sent, then they are dropped, not rejected', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/things', headers: { authorization: `Bearer ${await token(['operator'])}` }, payload: { name: 'ok', count: 2, sku: 'X' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ got: { name: 'ok', count: 2 } })
  })
  it('when JSON is malformed, then 400 malformed-json', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/things', headers: { authorization: `Bearer ${await token(['operator'])}`, 'content-type': 'application/json' }, payload: '{"name":' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('request.malformed-json')
  })
  it('when the route is unknown, then 404; when the method is wrong, then 405 with Allow', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/nothing' })).statusCode).toBe(404)
    const res = await app.inject({ method: 'DELETE', url: '/api/things' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('POST')
  })
  it('when tokens are missing, expired, for another audience or badly signed, then 401; a wrong role is 403', async () => {
    const call = (auth?: string) => app.inject({ method: 'POST', url: '/api/things', headers: auth ? { authorization: auth } : {}, payload: { name: 'ok', count: 1 } })
    expect((await call()).statusCode).toBe(401)
    expect((await call(`Bearer ${await token(['operator'], { expiresInSeconds: -120 })}`)).statusCode).toBe(401)
    expect((await call(`Bearer ${await token(['operator'], { audience: 'other' })}`)).statusCode).toBe(401)
    expect((await call(`Bearer ${await token(['operator'], { secret: 'another-secret-that-is-long-enough-0002' })}`)).statusCode).toBe(401)
    expect((await call(`Bearer ${await token(['customer'])}`)).statusCode).toBe(403)
  })
  it('when an AppError is thrown, then its code decides the status', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/things/abc', headers: { authorization: `Bearer ${await token(['customer'])}`, 'x-correlation-id': 'corr-123' } })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({ code: 'thing.not-found', correlationId: 'corr-123' })
    expect(res.headers['x-correlation-id']).toBe('corr-123')
  })
  it('when a non-required component is down, then health is 200 DEGRADED and public', async () => {
    const res = await app.inject({ method: 'GET', url: '/actuator/health' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'DEGRADED', components: { db: { status: 'UP' }, cache: { status: 'DOWN' } } })
  })
  it('when operators ask for the caches, then they get the registry snapshot; customers get 403', async () => {
    const call = async (roles: ('customer' | 'operator' | 'admin')[]) => app.inject({ method: 'GET', url: '/actuator/caches', headers: { authorization: `Bearer ${await token(roles)}` } })
    const res = await call(['operator'])
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ caches: { things: { hits: 3 } } })
    expect((await call(['customer'])).statusCode).toBe(403)
  })
  it('when the OpenAPI document is requested, then it is 3.1 and public', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    expect(res.statusCode).toBe(200)
    expect(res.json().openapi).toBe('3.1.0')
  })
})

describe('health details', () => {
  // What the real components report: connector and slot names, the Kafka cluster id, an error text with a host.
  const secrets = ['trackops-orders-outbox', 'trackops_orders_slot', 'kafka-cluster-7Qx', 'ECONNREFUSED 10.0.4.17:8083', 'checkMs']
  let healthApp: App
  let required: 'UP' | 'DOWN' = 'UP'
  beforeAll(async () => {
    const health = createHealth()
    health.register('db', { required: true, check: async () => ({ status: required }) })
    health.register('kafka', { required: false, check: async () => ({ status: 'UP', details: { clusterId: 'kafka-cluster-7Qx', brokers: 1 } }) })
    health.register('debezium', {
      required: false,
      check: async () => ({ status: 'UP', details: { connectors: { 'trackops-orders-outbox': { state: 'RUNNING' } }, replicationSlots: [{ slot: 'trackops_orders_slot' }] } }),
    })
    health.register('connect', { required: false, check: async () => Promise.reject(new Error('connect ECONNREFUSED 10.0.4.17:8083')) })
    healthApp = await createApp({ name: 'health', title: 'Health', description: 'health details', logger: pino({ level: 'silent' }), health, verify: createVerifier(settings) })
    await healthApp.ready()
  })
  afterAll(() => healthApp.close())

  const get = (url: string, auth?: string) => healthApp.inject({ method: 'GET', url, headers: auth ? { authorization: auth } : {} })

  it('when health is asked without a token, with a customer token or with a token that does not verify, then it shows each status and no details', async () => {
    const callers = [undefined, `Bearer ${await token(['customer'])}`, `Bearer ${await token(['admin'], { secret: 'another-secret-that-is-long-enough-0002' })}`, 'Bearer nonsense']
    for (const auth of callers) {
      const res = await get('/actuator/health', auth)
      expect(res.statusCode, auth).toBe(200)
      expect(res.json(), auth).toEqual({
        status: 'DEGRADED',
        components: { db: { status: 'UP' }, kafka: { status: 'UP' }, debezium: { status: 'UP' }, connect: { status: 'DOWN' } },
      })
      for (const secret of secrets) expect(res.body, auth).not.toContain(secret)
      expect(res.headers.vary).toContain('authorization')
    }
  })

  it('when an operator or an admin asks for health, then each component has its details', async () => {
    for (const role of ['operator', 'admin'] as const) {
      const res = await get('/actuator/health', `Bearer ${await token([role])}`)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({
        status: 'DEGRADED',
        components: {
          db: { status: 'UP', required: true },
          kafka: { details: { clusterId: 'kafka-cluster-7Qx' } },
          debezium: { details: { connectors: { 'trackops-orders-outbox': { state: 'RUNNING' } }, replicationSlots: [{ slot: 'trackops_orders_slot' }] } },
          connect: { status: 'DOWN', details: { error: 'connect ECONNREFUSED 10.0.4.17:8083' } },
        },
      })
    }
  })

  it('when a required component is DOWN, then health and readiness answer 503 without a token, and liveness 200', async () => {
    required = 'DOWN'
    try {
      const res = await get('/actuator/health')
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ status: 'DOWN', components: { db: { status: 'DOWN' } } })
      expect(res.body).not.toContain('ECONNREFUSED')
      expect((await get('/actuator/health/readiness')).statusCode).toBe(503)
      expect((await get('/actuator/health/liveness')).statusCode).toBe(200)
    } finally {
      required = 'UP'
    }
    expect((await get('/actuator/health/readiness')).json()).toEqual({ status: 'UP' })
  })
})
