import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import pg from 'pg'
import pino from 'pino'
import { createHealth } from '@trackops/runtime'
import { createApp, type App } from '../src/index.ts'

// A real PostgreSQL: a pool of one connection that a test holds, and a pool pointed at a port nobody listens on.
const url = process.env['PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const busy = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 200 })
const refused = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres', max: 1, connectionTimeoutMillis: 1_000 })
let app: App

beforeAll(async () => {
  app = await createApp({ name: 'test', title: 'Test', description: 'test app', logger: pino({ level: 'silent' }), health: createHealth(), verify: async () => ({ sub: 'test', roles: ['admin'] }) })
  app.get('/busy', async () => (await busy.query('select 1 as one')).rows[0])
  app.get('/refused', async () => (await refused.query('select 1 as one')).rows[0])
  app.get('/bug', async () => { throw new TypeError('a real bug') })
  await app.ready()
})
afterAll(async () => {
  await app.close()
  await busy.end()
  await refused.end()
})

describe('a dependency that cannot take the request', () => {
  it('when every pooled connection is taken past the acquire timeout, then 503 with Retry-After, and 200 once one is free', async () => {
    const held = await busy.connect()
    try {
      const res = await app.inject({ method: 'GET', url: '/busy' })
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('1')
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.json()).toMatchObject({ status: 503, code: 'service.unavailable' })
    } finally {
      held.release()
    }
    expect((await app.inject({ method: 'GET', url: '/busy' })).json()).toEqual({ one: 1 })
  })

  it('when the database refuses connections, then 503, not 500', async () => {
    const res = await app.inject({ method: 'GET', url: '/refused' })
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('service.unavailable')
  })

  it('when the code itself fails, then it is still a 500 (a bug is not dressed up as unavailability)', async () => {
    const res = await app.inject({ method: 'GET', url: '/bug' })
    expect(res.statusCode).toBe(500)
    expect(res.json().code).toBe('internal.error')
  })
})
