// The authorisation policy of every endpoint of the four services, checked over HTTP against the running stack.
//
// One row per endpoint: who may call it. Every row is called with every kind of refused token (401), as a customer,
// an operator and an admin (403 when the role is not allowed); rows with `ownership` also as another customer, who
// must get 404 (someone else's order, payment or stream does not exist for them). "Allowed" means neither 401 nor
// 403 (nor 404 for the owner) and no 5xx: the exact 2xx/4xx depends on the state (a random id answers 404, a
// finished saga 409). Path and body placeholders:
//   {self}        the caller's subject (a UUID)          {owner}      the customer who owns the fixture order
//   {order}       the owner's order (read only)          {saga} {payment} {reservation} {event}  …of that order
//   {product}     a product of the tests (read only)     {uuid}       a random UUID (nothing exists with it)
//   {newOrder}    a fresh order of the owner, per call   {newSaga}    the saga of a fresh order, per call
//   {newProduct}  a fresh product, per call              {newProductId} an unused product id
//   {name}        anything else: the row's `params`
import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Role } from '@trackops/http'
import { testEnv } from '../support/env.ts'
import { eventually } from '../support/stack.ts'
import { address, fixtures, refusedTokens, send, token, type Service } from './support.ts'

const PUBLIC = 'public'
const staff: Role[] = ['operator', 'admin']
const anyone: Role[] = ['customer', 'operator', 'admin']
const admins: Role[] = ['admin']

interface Row {
  service: Service
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  body?: unknown
  params?: Record<string, string>
  allowed: Role[] | typeof PUBLIC
  /** A customer may call it for their own resource only: anyone else's is 404. */
  ownership?: true
}

const publicRows = (service: Service, extra: string[] = []): Row[] =>
  ['/', '/actuator/health', '/actuator/health/liveness', '/actuator/health/readiness', '/actuator/prometheus', '/docs', '/docs/json', ...extra].map(
    (path) => ({ service, method: 'GET', path, allowed: PUBLIC }),
  )

const newOrderBody = { customerId: '{self}', address, items: [{ productId: '{product}', quantity: 1 }] }

export const policy: Row[] = [
  // --- orders :8081 ----------------------------------------------------------------------------------------------
  ...publicRows('orders'),
  { service: 'orders', method: 'GET', path: '/actuator/caches', allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/orders', body: newOrderBody, allowed: anyone },
  { service: 'orders', method: 'GET', path: '/api/orders', allowed: staff },
  { service: 'orders', method: 'GET', path: '/api/orders/status/{status}', params: { status: 'PENDING' }, allowed: staff },
  { service: 'orders', method: 'GET', path: '/api/orders/customer/{owner}', allowed: anyone, ownership: true },
  { service: 'orders', method: 'GET', path: '/api/orders/{order}', allowed: anyone, ownership: true },
  { service: 'orders', method: 'GET', path: '/api/orders/{order}/items', allowed: anyone, ownership: true },
  { service: 'orders', method: 'GET', path: '/api/orders/{order}/history', allowed: anyone, ownership: true },
  { service: 'orders', method: 'GET', path: '/api/orders/{order}/events', allowed: anyone, ownership: true }, // SSE
  { service: 'orders', method: 'GET', path: '/api/orders/events', allowed: staff }, // SSE
  { service: 'orders', method: 'DELETE', path: '/api/orders/{newOrder}', allowed: anyone, ownership: true },
  { service: 'orders', method: 'PUT', path: '/api/orders/{newOrder}/status', body: { newStatus: 'CONFIRMED' }, allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/orders/{newOrder}/confirm', allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/orders/{newOrder}/process', allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/orders/{newOrder}/ship', allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/orders/{newOrder}/deliver', allowed: staff },
  { service: 'orders', method: 'GET', path: '/api/sagas/{saga}', allowed: staff },
  { service: 'orders', method: 'GET', path: '/api/sagas/order/{order}', allowed: staff },
  { service: 'orders', method: 'GET', path: '/api/sagas/status/{status}', params: { status: 'COMPENSATION_FAILED' }, allowed: staff },
  { service: 'orders', method: 'POST', path: '/api/sagas/{newSaga}/retry', allowed: admins },
  { service: 'orders', method: 'POST', path: '/api/sagas/{newSaga}/compensate', body: { reason: 'security matrix' }, allowed: admins },

  // --- inventory :8082 -------------------------------------------------------------------------------------------
  ...publicRows('inventory', ['/api/inventory/health', '/api/inventory/health/ping']),
  { service: 'inventory', method: 'GET', path: '/actuator/caches', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items', allowed: anyone },
  { service: 'inventory', method: 'POST', path: '/api/inventory/items', body: { productId: '{newProductId}', productName: 'Matrix item', availableQuantity: 1, unitPrice: 1 }, allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items/available', allowed: anyone },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items/stats', allowed: anyone },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items/health', allowed: anyone },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items/{product}', allowed: anyone },
  { service: 'inventory', method: 'PUT', path: '/api/inventory/items/{newProduct}', body: { description: 'changed by the matrix' }, allowed: staff },
  { service: 'inventory', method: 'PUT', path: '/api/inventory/items/{newProduct}', body: { availableQuantity: 7 }, allowed: admins }, // a stock change
  { service: 'inventory', method: 'DELETE', path: '/api/inventory/items/{newProduct}', allowed: staff },
  { service: 'inventory', method: 'POST', path: '/api/inventory/items/{newProduct}/adjustments', body: { quantity: 5, reason: 'RECEIVED' }, allowed: admins },
  { service: 'inventory', method: 'GET', path: '/api/inventory/items/{product}/adjustments', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations', allowed: staff },
  { service: 'inventory', method: 'POST', path: '/api/inventory/reservations', body: { orderId: '{uuid}', items: [{ productId: '{newProduct}', quantity: 1 }] }, allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/expired', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/stats', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/order/{order}', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/order/{order}/status/{status}', params: { status: 'RESERVED' }, allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/product/{product}/active', allowed: staff },
  { service: 'inventory', method: 'GET', path: '/api/inventory/reservations/{reservation}', allowed: staff },

  // --- payments :8085 --------------------------------------------------------------------------------------------
  ...publicRows('payments'),
  { service: 'payments', method: 'GET', path: '/api/payments', allowed: staff },
  { service: 'payments', method: 'GET', path: '/api/payments/{payment}', allowed: anyone, ownership: true },
  { service: 'payments', method: 'GET', path: '/api/payments/order/{order}', allowed: anyone, ownership: true },

  // --- relay :8084 -----------------------------------------------------------------------------------------------
  ...publicRows('relay', ['/asyncapi.json', '/asyncapi']),
  { service: 'relay', method: 'GET', path: '/api/events/stats', allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/events/unprocessed', allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/events/aggregate/{order}', allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/events/type/{type}', params: { type: 'ORDER_CREATED' }, allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/events/{event}', allowed: staff },
  { service: 'relay', method: 'POST', path: '/api/events/{uuid}/process', allowed: staff },
  { service: 'relay', method: 'POST', path: '/api/events/process-all', allowed: staff },
  // without ?source= an admin gets 400 (allowed, not 401/403) and nothing is published
  { service: 'relay', method: 'POST', path: '/api/events/reconcile', allowed: admins },
  { service: 'relay', method: 'GET', path: '/api/dlq', allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/dlq/stats', allowed: staff },
  { service: 'relay', method: 'GET', path: '/api/dlq/{uuid}', allowed: staff },
  { service: 'relay', method: 'POST', path: '/api/dlq/{uuid}/replay', allowed: admins },
  { service: 'relay', method: 'POST', path: '/api/dlq/{uuid}/discard', allowed: admins },
  { service: 'relay', method: 'POST', path: '/api/dlq/replay', body: { key: '{uuid}' }, allowed: admins },
]

// --- expectations ----------------------------------------------------------------------------------------------------

type Caller = { kind: 'refused'; name: string } | { kind: 'role'; role: Role; other?: true }
type Expected = 'allowed' | 401 | 403 | 404

function expected(row: Row, caller: Caller): Expected {
  if (row.allowed === PUBLIC) return 'allowed'
  if (caller.kind === 'refused') return 401
  if (!row.allowed.includes(caller.role)) return 403
  if (caller.other) return 404
  return 'allowed'
}

const roleCallers: Caller[] = [
  { kind: 'role', role: 'customer' },
  { kind: 'role', role: 'operator' },
  { kind: 'role', role: 'admin' },
]
const otherCustomer: Caller = { kind: 'role', role: 'customer', other: true }

const callerName = (c: Caller) => (c.kind === 'refused' ? c.name : c.other ? "another customer (not the owner)" : c.role === 'customer' ? 'the owning customer' : `an ${c.role}`)
const outcome = (e: Expected) => (e === 'allowed' ? 'it is allowed (not 401/403)' : e === 404 ? '404, as if it did not exist' : String(e))

// --- fixtures and callers -------------------------------------------------------------------------------------------

const subjects = { customer: randomUUID(), other: randomUUID(), operator: randomUUID(), admin: randomUUID() }
const make = fixtures('matrix')
let refused: Record<string, string | undefined>
const roleTokens: Record<'customer' | 'other' | 'operator' | 'admin', string> = { customer: '', other: '', operator: '', admin: '' }
const shared: Record<string, string> = {}

beforeAll(async () => {
  refused = await refusedTokens(subjects.admin)
  roleTokens.customer = await token(['customer'], subjects.customer)
  roleTokens.other = await token(['customer'], subjects.other)
  roleTokens.operator = await token(['operator'], subjects.operator)
  roleTokens.admin = await token(['admin'], subjects.admin)

  shared.owner = subjects.customer
  shared.product = await make.newProduct()
  const order = await make.newOrder(subjects.customer, shared.product)
  shared.order = order.id
  shared.saga = await make.sagaOf(order.id)
  const admin = await make.admin()
  shared.payment = await eventually(async () => {
    const res = await send('payments', 'GET', `/api/payments/order/${order.id}`, { token: admin })
    return res.status === 200 ? (res.body.id as string) : undefined
  }, 60_000, "the fixture order's payment")
  shared.reservation = await eventually(async () => {
    const res = await send('inventory', 'GET', `/api/inventory/reservations/order/${order.id}`, { token: admin })
    return res.status === 200 && res.body.length ? (res.body[0].id as string) : undefined
  }, 30_000, "the fixture order's reservation")
  const events = await send('relay', 'GET', `/api/events/aggregate/${order.id}`, { token: admin })
  shared.event = events.status === 200 && events.body.length ? events.body[0].id : randomUUID()
}, 120_000)

function subjectOf(caller: Caller): string {
  if (caller.kind === 'refused') return subjects.customer
  if (caller.other) return subjects.other
  return subjects[caller.role]
}

function tokenOf(caller: Caller): string | undefined {
  if (caller.kind === 'refused') return refused[caller.name]
  return caller.other ? roleTokens.other : roleTokens[caller.role]
}

/** Resolves the placeholders of a path or body; fresh fixtures are made here, once per call. */
async function resolve(text: string, row: Row, caller: Caller): Promise<string> {
  let out = text
  for (const match of text.matchAll(/\{(\w+)\}/g)) {
    const name = match[1] as string
    let value: string
    if (row.params?.[name] !== undefined) value = row.params[name]
    else if (name === 'self') value = subjectOf(caller)
    else if (name === 'uuid') value = randomUUID()
    else if (name === 'newProductId') value = `SEC-${randomUUID().slice(0, 12)}`
    else if (name === 'newProduct') value = await make.newProduct(100)
    else if (name === 'newOrder') value = (await make.newOrder(subjects.customer, shared.product as string)).id
    else if (name === 'newSaga') value = await make.sagaOf((await make.newOrder(subjects.customer, shared.product as string)).id)
    else if (shared[name] !== undefined) value = shared[name]
    else throw new Error(`no value for the placeholder {${name}} in ${row.path}`)
    out = out.replace(match[0], value)
  }
  return out
}

async function resolveBody(body: unknown, row: Row, caller: Caller): Promise<unknown> {
  if (body === undefined) return undefined
  return JSON.parse(await resolve(JSON.stringify(body), row, caller))
}

// --- the matrix ----------------------------------------------------------------------------------------------------

function callersOf(row: Row): Caller[] {
  const refusedCallers: Caller[] = [
    'no token',
    'an expired token (beyond the 30 s skew)',
    'a token signed with another secret',
    'a token for another audience',
    'a token from another issuer',
    'a token not valid yet (nbf beyond the skew)',
    'an unsigned token (alg none)',
  ].map((name) => ({ kind: 'refused', name }))
  return [...refusedCallers, ...roleCallers, ...(row.ownership ? [otherCustomer] : [])]
}

const services: Service[] = ['orders', 'inventory', 'payments', 'relay']

for (const service of services) {
  describe(`${service}: authorisation of every endpoint`, () => {
    for (const row of policy.filter((r) => r.service === service)) {
      const label = `${row.method} ${row.path}${row.body && row.method === 'PUT' ? ` ${JSON.stringify(row.body)}` : ''}`
      for (const caller of callersOf(row)) {
        const want = expected(row, caller)
        it(`when ${label} is called with ${callerName(caller)}, then ${outcome(want)}`, async () => {
          const path = await resolve(row.path, row, caller)
          const body = await resolveBody(row.body, row, caller)
          const res = await send(row.service, row.method, path, { token: tokenOf(caller), body })
          const seen = `${row.method} ${path} → ${res.status} ${res.text.slice(0, 300)}`
          if (want === 'allowed') {
            expect([401, 403], seen).not.toContain(res.status)
            expect(res.status, seen).toBeLessThan(500)
            if (row.ownership && caller.kind === 'role' && caller.role === 'customer') expect(res.status, seen).not.toBe(404)
            return
          }
          expect(res.status, seen).toBe(want)
          expect(res.headers.get('content-type'), seen).toMatch(/^application\/problem\+json/)
          if (want === 401) {
            expect(res.body.code, seen).toBe('auth.unauthorized')
            expect(res.headers.get('www-authenticate'), seen).toMatch(/^Bearer/)
          }
          if (want === 404) expect(res.body.code, seen).toMatch(/not-found$/)
        })
      }
    }
  })
}

// --- the table covers every operation the services document ---------------------------------------------------------

describe('the policy table', () => {
  it('when the OpenAPI document of each service is read, then every operation in it has a row in the table', async () => {
    const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}').replace(/:\w+/g, '{}')
    const inTable = new Set(policy.map((r) => `${r.service} ${r.method} ${shape(r.path)}`))
    const missing: string[] = []
    for (const service of services) {
      const doc = await send(service, 'GET', '/docs/json')
      expect(doc.status).toBe(200)
      for (const [path, operations] of Object.entries(doc.body.paths as Record<string, Record<string, unknown>>)) {
        for (const method of Object.keys(operations)) {
          const key = `${service} ${method.toUpperCase()} ${shape(path)}`
          if (!inTable.has(key)) missing.push(key)
        }
      }
    }
    expect(missing).toEqual([])
  })

  it('when the table is read, then every business endpoint (/api) needs a token', () => {
    const open = policy.filter((r) => r.allowed === PUBLIC && r.path.startsWith('/api/') && !r.path.startsWith('/api/inventory/health'))
    expect(open).toEqual([])
  })
})

// --- the subject's role claim and the clock skew ---------------------------------------------------------------------

describe('roles and clock skew', () => {
  it('when a valid token carries no known role, then every non-public endpoint answers 403', async () => {
    const noRole = await token([], randomUUID())
    const strange = await (await import('@trackops/http')).signToken({ ...testEnv.jwt, sub: randomUUID(), roles: ['superuser' as Role] })
    const wrong: string[] = []
    for (const row of policy.filter((r) => r.allowed !== PUBLIC && !r.path.includes('{new'))) {
      for (const [what, t] of [['no roles', noRole], ['an unknown role', strange]] as const) {
        const caller: Caller = { kind: 'refused', name: what }
        const path = await resolve(row.path, row, caller)
        const res = await send(row.service, row.method, path, { token: t, body: await resolveBody(row.body, row, caller) })
        if (res.status !== 403) wrong.push(`${what}: ${row.service} ${row.method} ${row.path} → ${res.status}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('when a token expired less than 30 s ago, then it is still accepted (bounded clock skew)', async () => {
    const res = await send('payments', 'GET', '/api/payments?size=1', { token: await token(['operator'], subjects.operator, { expiresInSeconds: -10 }) })
    expect(res.status).toBe(200)
  })

  it('when a token becomes valid in less than 30 s, then it is already accepted (bounded clock skew)', async () => {
    const res = await send('payments', 'GET', '/api/payments?size=1', { token: await token(['operator'], subjects.operator, { notBefore: Math.floor(Date.now() / 1000) + 10 }) })
    expect(res.status).toBe(200)
  })

  it('when a token expired 45 s ago (beyond the skew), then 401', async () => {
    const res = await send('payments', 'GET', '/api/payments?size=1', { token: await token(['operator'], subjects.operator, { expiresInSeconds: -45 }) })
    expect(res.status).toBe(401)
  })

  it('when the token has no exp claim, then 401', async () => {
    const { SignJWT } = await import('jose')
    const noExp = await new SignJWT({ roles: ['operator'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(subjects.operator)
      .setIssuer(testEnv.jwt.issuer)
      .setAudience(testEnv.jwt.audience)
      .setIssuedAt()
      .sign(new TextEncoder().encode(testEnv.jwt.secret))
    expect((await send('payments', 'GET', '/api/payments?size=1', { token: noExp })).status).toBe(401)
  })

  it('when the token is signed with HS512 (not the accepted HS256), then 401', async () => {
    const { SignJWT } = await import('jose')
    const hs512 = await new SignJWT({ roles: ['operator'] })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject(subjects.operator)
      .setIssuer(testEnv.jwt.issuer)
      .setAudience(testEnv.jwt.audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(testEnv.jwt.secret))
    expect((await send('payments', 'GET', '/api/payments?size=1', { token: hs512 })).status).toBe(401)
  })

  it('when the token comes in the query string or with another scheme instead of the Authorization bearer, then 401', async () => {
    const t = roleTokens.operator
    expect((await send('payments', 'GET', `/api/payments?size=1&access_token=${t}`)).status).toBe(401)
    expect((await send('payments', 'GET', '/api/payments?size=1', { authorization: `Basic ${t}` })).status).toBe(401)
    expect((await send('payments', 'GET', '/api/payments?size=1', { authorization: `Bearer ${t} extra` })).status).toBe(401)
  })
})

// --- ownership: a denied call changes nothing ---------------------------------------------------------------------

describe('ownership', () => {
  it('when a customer places an order for another customer, then 403 and no order is created for them', async () => {
    const count = async () => (await send('orders', 'GET', `/api/orders/customer/${subjects.customer}?size=1`, { token: roleTokens.operator })).body.totalElements as number
    const before = await count()
    const res = await send('orders', 'POST', '/api/orders', { token: roleTokens.other, body: { customerId: subjects.customer, address, items: [{ productId: shared.product, quantity: 1 }] } })
    expect(res.status).toBe(403)
    expect(await count()).toBe(before)
  })

  it("when another customer cancels the owner's order, then 404 and the order is not cancelled", async () => {
    const order = await make.newOrder(subjects.customer, shared.product as string)
    const res = await send('orders', 'DELETE', `/api/orders/${order.id}`, { token: roleTokens.other })
    expect(res.status).toBe(404)
    const after = await send('orders', 'GET', `/api/orders/${order.id}/history`, { token: roleTokens.operator })
    expect(after.body.entries.map((e: { to: string }) => e.to)).not.toContain('CANCELLED')
  })

  it("when a customer asks for another customer's order list, then 404 with no hint that the customer exists", async () => {
    const res = await send('orders', 'GET', `/api/orders/customer/${subjects.customer}`, { token: roleTokens.other })
    const unknown = await send('orders', 'GET', `/api/orders/customer/${randomUUID()}`, { token: roleTokens.other })
    expect(res.status).toBe(404)
    expect(unknown.status).toBe(404)
    expect(res.body.code).toBe(unknown.body.code)
  })
})
