// Fail closed: a service cannot be built without a token verifier, and a request without a verified identity
// never reaches a protected route nor counts as staff.
import { describe, expect, it } from 'vitest'
import pino from 'pino'
import { createHealth } from '@trackops/runtime'
import { canSee, createApp, createVerifier, signToken, type AppOptions } from '../src/index.ts'

const settings = { secret: 'test-secret-that-is-long-enough-for-hs256-0002', issuer: 'trackops-test', audience: 'trackops' }
const base = { name: 'fail-closed', title: 'Test', description: 'fail-closed test app', logger: pino({ level: 'silent' }), health: createHealth() }

describe('fail closed', () => {
  it('when an app is built without a verifier, then building it throws', async () => {
    await expect(createApp({ ...base } as unknown as AppOptions)).rejects.toThrow(/verifier/)
    await expect(createApp({ ...base, verify: undefined } as unknown as AppOptions)).rejects.toThrow(/verifier/)
  })

  it('when a request carries no identity, then an operator route is never reached', async () => {
    const app = await createApp({ ...base, verify: createVerifier(settings) })
    let reached = 0
    app.get('/api/ops', { config: { auth: ['operator', 'admin'] } }, async () => ((reached += 1), { ok: true }))
    app.get('/api/mine', async () => ((reached += 1), { ok: true }))
    try {
      for (const url of ['/api/ops', '/api/mine']) {
        const res = await app.inject({ method: 'GET', url })
        expect(res.statusCode).toBe(401)
        expect(res.json().code).toBe('auth.unauthorized')
      }
      const customer = await signToken({ ...settings, sub: 'c-1', roles: ['customer'] })
      const asCustomer = await app.inject({ method: 'GET', url: '/api/ops', headers: { authorization: `Bearer ${customer}` } })
      expect(asCustomer.statusCode).toBe(403)
      expect(reached).toBe(0)
      const operator = await signToken({ ...settings, sub: 'o-1', roles: ['operator'] })
      expect((await app.inject({ method: 'GET', url: '/api/ops', headers: { authorization: `Bearer ${operator}` } })).statusCode).toBe(200)
      expect(reached).toBe(1)
    } finally {
      await app.close()
    }
  })

  it('when there is no principal, then canSee answers no, whoever owns the resource', () => {
    expect(canSee(undefined, 'c-1')).toBe(false)
    expect(canSee(undefined, '')).toBe(false)
    expect(canSee({ sub: 'c-1', roles: ['customer'] }, 'c-1')).toBe(true)
    expect(canSee({ sub: 'c-2', roles: ['customer'] }, 'c-1')).toBe(false)
    expect(canSee({ sub: 'o-1', roles: ['operator'] }, 'c-1')).toBe(true)
  })
})
