// Hardened input, over HTTP against the running services: size limits, malformed and unknown input, injection-looking
// values, no reflected input in error bodies, and the rate-limit headers.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../support/env.ts'
import { address, fixtures, send, token, type Raw, type Service } from './support.ts'

const make = fixtures('input')
const customerId = randomUUID()
let admin: string
let operator: string
let customer: string
let product: string // price 10, in the orders catalogue replica once beforeAll is done
let canary: Raw['body'] // an item nobody else touches: every injection attempt must leave it as it is

const KiB = 1024
const problemJson = /^application\/problem\+json/

beforeAll(async () => {
  admin = await make.admin()
  operator = await token(['operator'], `security-input-operator-${randomUUID().slice(0, 8)}`)
  customer = await token(['customer'], customerId)
  product = await make.newProduct(100_000, 10)
  await make.newOrder(customerId, product) // waits for the catalogue replica
  canary = (await send('inventory', 'GET', `/api/inventory/items/${product}`, { token: admin })).body
}, 120_000)

/**
 * A raw request with one big header: the status, or the error when Node closed the connection instead. A refused
 * connection (the service is being restarted by someone else) is retried: it says nothing about the header.
 */
async function withHugeHeader(service: Service, size: number): Promise<{ status?: number; error?: string }> {
  const url = new URL('/actuator/health/liveness', testEnv.urls[service])
  const once = () =>
    new Promise<{ status?: number; error?: string; code?: string }>((resolve) => {
      const req = http.request(url, { method: 'GET', agent: false, headers: { 'x-filler': 'a'.repeat(size), authorization: `Bearer ${operator}` } }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode }))
      })
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.message, code: error.code }))
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
      req.end()
    })
  for (let attempt = 0; ; attempt++) {
    const res = await once()
    if (res.code !== 'ECONNREFUSED' || attempt >= 60) return res
    await new Promise((r) => setTimeout(r, 500))
  }
}

const bigText = (size: number) => 'x'.repeat(size)
const newItem = (productId: string, extra: Record<string, unknown> = {}) => ({ productId, productName: `Input test ${productId}`, availableQuantity: 3, unitPrice: 2.5, ...extra })

describe('size limits', () => {
  const oversized: [Service, string, () => unknown][] = [
    ['orders', '/api/orders', () => ({ customerId, address, items: [{ productId: product, quantity: 1 }], deliveryInstructions: bigText(70 * KiB) })],
    ['inventory', '/api/inventory/items', () => newItem(`SEC-${randomUUID().slice(0, 12)}`, { description: bigText(70 * KiB) })],
    ['relay', '/api/dlq/replay', () => ({ key: bigText(70 * KiB) })],
  ]
  for (const [service, path, body] of oversized) {
    it(`when POST ${path} (${service}) carries a body over 64 KiB, then 413 problem+json`, async () => {
      const res = await send(service, 'POST', path, { token: admin, body: body() })
      expect(res.status).toBe(413)
      expect(res.headers.get('content-type')).toMatch(problemJson)
      expect(res.body.code).toBe('request.payload-too-large')
    })
  }

  it('when an over-64-KiB item is refused, then nothing was created', async () => {
    const productId = `SEC-${randomUUID().slice(0, 12)}`
    expect((await send('inventory', 'POST', '/api/inventory/items', { token: admin, body: newItem(productId, { description: bigText(70 * KiB) }) })).status).toBe(413)
    expect((await send('inventory', 'GET', `/api/inventory/items/${productId}`, { token: admin })).status).toBe(404)
  })

  it('when an over-64-KiB body is streamed without Content-Length (chunked), then 413 as well', async () => {
    const chunk = new TextEncoder().encode(JSON.stringify(newItem(`SEC-${randomUUID().slice(0, 12)}`, { description: bigText(70 * KiB) })))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < chunk.length; i += 8 * KiB) controller.enqueue(chunk.subarray(i, i + 8 * KiB))
        controller.close()
      },
    })
    const res = await fetch(`${testEnv.urls.inventory}/api/inventory/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(413)
  })

  it('when the body is just under 64 KiB, then it is parsed and judged by its schema (400, not 413)', async () => {
    const res = await send('inventory', 'POST', '/api/inventory/items', { token: admin, body: newItem(`SEC-${randomUUID().slice(0, 12)}`, { description: bigText(60 * KiB) }) })
    expect(res.status).toBe(400)
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'description' })])
  })

  for (const service of ['orders', 'inventory', 'payments', 'relay'] as Service[]) {
    it(`when a request to ${service} carries a 20 KiB header, then it is not served (431 or the connection is closed)`, async () => {
      const res = await withHugeHeader(service, 20 * KiB)
      if (res.status !== undefined) expect(res.status).toBe(431)
      else expect(res.error).toMatch(/ECONNRESET|EPIPE|socket hang up/)
      // …while the same request with ordinary headers is served.
      expect((await withHugeHeader(service, 1 * KiB)).status).toBe(200)
    })
  }
})

describe('malformed input', () => {
  const posts: [Service, string][] = [
    ['orders', '/api/orders'],
    ['inventory', '/api/inventory/items'],
    ['inventory', '/api/inventory/reservations'],
    ['relay', '/api/dlq/replay'],
  ]
  for (const [service, path] of posts) {
    it(`when POST ${path} (${service}) gets malformed JSON, then 400 request.malformed-json`, async () => {
      const res = await send(service, 'POST', path, { token: admin, rawBody: '{"productId": "A1", "items": [' })
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toMatch(problemJson)
      expect(res.body.code).toBe('request.malformed-json')
    })
  }

  it('when a valid JSON body is sent as text/plain or form data, then it is refused (4xx) and nothing is created', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const productId = `SEC-${randomUUID().slice(0, 12)}`
      const res = await send('inventory', 'POST', '/api/inventory/items', { token: admin, rawBody: JSON.stringify(newItem(productId)), contentType })
      expect([400, 415], `${contentType} → ${res.status}`).toContain(res.status)
      expect(res.headers.get('content-type')).toMatch(problemJson)
      expect((await send('inventory', 'GET', `/api/inventory/items/${productId}`, { token: admin })).status).toBe(404)
    }
  })

  it('when the JSON body is an array or null instead of an object, then 400', async () => {
    for (const raw of ['[]', 'null', '"text"', '42']) {
      expect((await send('inventory', 'POST', '/api/inventory/items', { token: admin, rawBody: raw })).status, raw).toBe(400)
      expect((await send('orders', 'POST', '/api/orders', { token: admin, rawBody: raw })).status, raw).toBe(400)
    }
  })

  it('when a JSON body carries __proto__ / constructor keys, then they are not applied (no prototype pollution)', async () => {
    const productId = `SEC-${randomUUID().slice(0, 12)}`
    const raw = JSON.stringify(newItem(productId)).replace(/}$/, ',"__proto__":{"isAdmin":true,"availableQuantity":999},"constructor":{"prototype":{"polluted":true}}}')
    const res = await send('inventory', 'POST', '/api/inventory/items', { token: admin, rawBody: raw })
    expect([201, 400]).toContain(res.status)
    if (res.status === 201) expect(res.body.availableQuantity).toBe(3)
    const probe = await send('inventory', 'GET', '/api/inventory/items?size=1', { token: admin })
    expect(probe.status).toBe(200)
    expect(probe.text).not.toContain('polluted')
    expect(probe.text).not.toContain('isAdmin')
  })
})

describe('unknown fields are dropped', () => {
  it('when an item is created with fields the API does not know (sku, id, soldQuantity …), then it is created without them', async () => {
    const productId = `SEC-${randomUUID().slice(0, 12)}`
    const planted = randomUUID()
    const res = await send('inventory', 'POST', '/api/inventory/items', {
      token: admin,
      body: newItem(productId, { sku: 'SKU-4711', id: planted, soldQuantity: 500, reservedQuantity: 7, version: 99, isDiscontinued: true }),
    })
    expect(res.status).toBe(201)
    expect(res.body).not.toHaveProperty('sku')
    expect(res.body).toMatchObject({ productId, soldQuantity: 0, reservedQuantity: 0, isDiscontinued: false })
    expect(res.body.id).not.toBe(planted)
    expect(res.body.version).not.toBe(99)
    const read = await send('inventory', 'GET', `/api/inventory/items/${productId}`, { token: admin })
    expect(read.body).not.toHaveProperty('sku')
    expect(read.text).not.toContain('SKU-4711')
  })

  it('when an item update carries read-only fields (productId, soldQuantity, version), then they are ignored', async () => {
    const productId = await make.newProduct(10)
    const res = await send('inventory', 'PUT', `/api/inventory/items/${productId}`, { token: admin, body: { description: 'changed', productId: 'HIJACKED', soldQuantity: 1000, version: 99 } })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ productId, description: 'changed', soldQuantity: 0 })
    expect(res.body.version).not.toBe(99)
    expect((await send('inventory', 'GET', '/api/inventory/items/HIJACKED', { token: admin })).status).toBe(404)
  })

  it('when an order is placed with its own id, status, version and prices, then the server decides them (mass assignment)', async () => {
    const planted = randomUUID()
    const res = await send('orders', 'POST', '/api/orders', {
      token: customer,
      body: {
        customerId,
        address: { ...address, evil: 'x' },
        items: [{ productId: product, quantity: 2, unitPrice: 0.01, productName: 'Free stuff' }],
        id: planted,
        status: 'DELIVERED',
        version: 42,
        createdAt: '2000-01-01T00:00:00Z',
        isAdmin: true,
      },
    })
    expect(res.status).toBe(201)
    expect(res.body.id).not.toBe(planted)
    expect(res.body.status).toBe('PENDING')
    expect(res.body.version).not.toBe(42)
    expect(res.body.createdAt.startsWith('2000')).toBe(false)
    expect(res.body.items[0]).toMatchObject({ productId: product, quantity: 2, unitPrice: 10, totalPrice: 20 })
    expect(res.body.items[0].productName).not.toBe('Free stuff')
    expect(res.body.totalAmount).toBe(20)
    expect(res.body).not.toHaveProperty('isAdmin')
    expect(res.body.address).not.toHaveProperty('evil')
    expect((await send('orders', 'GET', `/api/orders/${planted}`, { token: admin })).status).toBe(404)
  })
})

describe('injection-looking values', () => {
  const sqli = "' OR 1=1 --"
  const q = encodeURIComponent(sqli)

  it("when ' OR 1=1 -- is sent as an id in a path, then 400 or 404", async () => {
    const cases: [Service, string][] = [
      ['inventory', `/api/inventory/items/${q}`],
      ['inventory', `/api/inventory/reservations/${q}`],
      ['inventory', `/api/inventory/reservations/order/${q}`],
      ['orders', `/api/orders/${q}`],
      ['orders', `/api/orders/customer/${q}`],
      ['orders', `/api/orders/status/${q}`],
      ['orders', `/api/sagas/${q}`],
      ['payments', `/api/payments/${q}`],
      ['relay', `/api/events/${q}`],
      ['relay', `/api/events/type/${q}`],
      ['relay', `/api/dlq/${q}`],
    ]
    for (const [service, path] of cases) {
      const res = await send(service, 'GET', path, { token: admin })
      expect([400, 404], `${service} ${path} → ${res.status}`).toContain(res.status)
    }
  })

  it("when ' OR 1=1 -- is sent in a sort or enum query parameter, then 400", async () => {
    const cases: [Service, string][] = [
      ['inventory', `/api/inventory/items?sort=${q}`],
      ['inventory', `/api/inventory/items?sortBy=${q}`],
      ['inventory', `/api/inventory/reservations?status=${q}`],
      ['orders', `/api/orders?sort=${q}`],
      ['orders', `/api/orders?sort=createdAt,desc${encodeURIComponent('; DROP TABLE orders; --')}`],
      ['orders', `/api/orders?page=${q}`],
      ['payments', `/api/payments?status=${q}`],
      ['relay', `/api/dlq?status=${q}`],
    ]
    for (const [service, path] of cases) {
      const res = await send(service, 'GET', path, { token: admin })
      expect(res.status, `${service} ${path} → ${res.status}`).toBe(400)
    }
  })

  it("when ' OR 1=1 -- is sent as a free-text filter, then it matches nothing (the filter is a value, not SQL)", async () => {
    const items = await send('inventory', 'GET', `/api/inventory/items?category=${q}`, { token: admin })
    expect(items.status).toBe(200)
    expect(items.body.totalElements).toBe(0)
    // a product id in the path must look like one: refused with 400 before any query, or else it matches nothing
    const rejectedOrEmpty = (res: { status: number; body: unknown }) => expect(res.status === 400 || (res.status === 200 && Array.isArray(res.body) && res.body.length === 0)).toBe(true)
    rejectedOrEmpty(await send('inventory', 'GET', `/api/inventory/items/${q}/adjustments`, { token: admin }))
    rejectedOrEmpty(await send('inventory', 'GET', `/api/inventory/reservations/product/${q}/active`, { token: admin }))
    const events = await send('relay', 'GET', `/api/events/aggregate/${q}`, { token: admin })
    expect(events.status).toBe(200)
    expect(events.body).toEqual([])
    const dlq = await send('relay', 'GET', `/api/dlq?key=${q}&topic=${q}`, { token: admin })
    expect(dlq.status).toBe(200)
    expect(dlq.body.totalElements).toBe(0)
  })

  it("when writes target the id ' OR 1=1 --, then they are refused (400: not a product id) and no other item changes", async () => {
    expect((await send('inventory', 'PUT', `/api/inventory/items/${q}`, { token: admin, body: { description: 'injected' } })).status).toBe(400)
    expect((await send('inventory', 'POST', `/api/inventory/items/${q}/adjustments`, { token: admin, body: { quantity: 1, reason: 'RECEIVED' } })).status).toBe(400)
    expect((await send('relay', 'POST', '/api/dlq/replay', { token: admin, body: { key: sqli } })).body.requested).toBe(0)
    const after = await send('inventory', 'GET', `/api/inventory/items/${product}`, { token: admin })
    expect(after.body.description).toBe(canary.description)
    expect(after.body.productName).toBe(canary.productName)
    expect(after.body.unitPrice).toBe(canary.unitPrice)
    expect(after.body.availableQuantity + after.body.reservedQuantity + after.body.soldQuantity).toBe(
      canary.availableQuantity + canary.reservedQuantity + canary.soldQuantity,
    )
  })
})

describe('error bodies do not reflect the input', () => {
  const marker = `zq${randomUUID().replace(/-/g, '').slice(0, 10)}qz`
  const noMarker = (res: Raw, what: string) => {
    expect(res.status, `${what} → ${res.status}`).toBeGreaterThanOrEqual(400)
    expect(res.status, `${what} → ${res.status}`).toBeLessThan(500)
    expect(res.text, `${what} → ${res.text}`).not.toContain(marker)
    res.headers.forEach((value, name) => expect(value, `${what}: header ${name}`).not.toContain(marker))
  }

  it('when body fields are invalid, then the problem names the fields but never their values', async () => {
    noMarker(await send('inventory', 'POST', '/api/inventory/items', { token: admin, body: { productId: `<${marker}>`, productName: 5, availableQuantity: marker, unitPrice: marker, category: { x: marker } } }), 'inventory item')
    noMarker(await send('inventory', 'PUT', `/api/inventory/items/${product}`, { token: admin, body: { unitPrice: marker, isActive: marker } }), 'inventory update')
    noMarker(await send('inventory', 'POST', `/api/inventory/items/${product}/adjustments`, { token: admin, body: { quantity: 1, reason: marker } }), 'adjustment reason')
    noMarker(await send('inventory', 'POST', '/api/inventory/reservations', { token: admin, body: { orderId: marker, items: [{ productId: product, quantity: marker }] } }), 'reservation')
    noMarker(
      await send('orders', 'POST', '/api/orders', {
        token: customer,
        body: { customerId: marker, address: { ...address, city: `${marker}1`, phoneNumber: marker, country: `${marker}!` }, items: [{ productId: `${marker} !`, quantity: marker }], totalAmount: marker, paymentMethod: { token: `${marker} x`, type: `${marker}1` } },
      }),
      'order',
    )
    noMarker(await send('orders', 'PUT', `/api/orders/${randomUUID()}/status`, { token: admin, body: { newStatus: marker, reason: 5 } }), 'status change')
    noMarker(await send('orders', 'POST', `/api/sagas/${randomUUID()}/compensate`, { token: admin, body: { reason: 5, extra: marker } }), 'compensate')
    noMarker(await send('relay', 'POST', '/api/dlq/replay', { token: admin, body: { source: marker, topic: `${marker}${'x'.repeat(300)}` } }), 'dlq replay')
  })

  it('when query parameters are invalid, then the problem never contains their values', async () => {
    noMarker(await send('orders', 'GET', `/api/orders?sort=${marker}`, { token: admin }), 'orders sort')
    noMarker(await send('orders', 'GET', `/api/orders?page=${marker}&size=${marker}`, { token: admin }), 'orders paging')
    noMarker(await send('inventory', 'GET', `/api/inventory/items?sort=${marker}&minQuantity=${marker}`, { token: admin }), 'items sort')
    noMarker(await send('inventory', 'GET', `/api/inventory/reservations?status=${marker}&orderId=${marker}`, { token: admin }), 'reservations filter')
    noMarker(await send('payments', 'GET', `/api/payments?status=${marker}`, { token: admin }), 'payments status')
    noMarker(await send('relay', 'GET', `/api/dlq?status=${marker}&source=${marker}`, { token: admin }), 'dlq filter')
    noMarker(await send('relay', 'GET', `/api/events/unprocessed?source=${marker}`, { token: admin }), 'events source')
    noMarker(await send('relay', 'DELETE', `/api/dlq/stats?x=${marker}`, { token: admin }), 'method not allowed')
  })

  it('when headers are invalid (If-Match, Idempotency-Key, X-Correlation-ID), then their values are not echoed', async () => {
    const order = await make.newOrder(customerId, product)
    noMarker(await send('orders', 'POST', `/api/orders/${order.id}/confirm`, { token: admin, headers: { 'if-match': `"${marker}"` } }), 'If-Match')
    noMarker(
      await send('orders', 'POST', '/api/orders', { token: customer, headers: { 'idempotency-key': `${marker} with spaces` }, body: { customerId, address, items: [{ productId: product, quantity: 1 }] } }),
      'Idempotency-Key',
    )
    const bad = await send('orders', 'GET', `/api/orders/${randomUUID()}`, { token: customer, headers: { 'x-correlation-id': `${marker} <script>` } })
    noMarker(bad, 'X-Correlation-ID')
    expect(bad.headers.get('x-correlation-id')).toMatch(/^[\w.:-]{1,128}$/)
  })

  it('when a token is refused, then the problem does not contain the token', async () => {
    const forged = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: marker })).toString('base64url')}.${marker}`
    const res = await send('orders', 'GET', '/api/orders', { token: forged })
    expect(res.status).toBe(401)
    expect(res.text).not.toContain(marker)
    expect(res.text).not.toContain(forged)
  })

  // The cases below carry the rejected value in the path (or as an unknown product id): the policy allows the field
  // name only, so neither `detail` nor `instance` may repeat it.
  it('when an unknown route is called, then the 404 does not echo its path', async () => {
    noMarker(await send('orders', 'GET', `/no/such/${marker}`, { token: admin }), 'unknown route')
  })

  it('when an inventory item id in the path is unknown, then the 404 does not echo it', async () => {
    noMarker(await send('inventory', 'GET', `/api/inventory/items/${marker}`, { token: admin }), 'unknown item')
  })

  it('when an order status in the path is invalid, then the 400 does not echo it', async () => {
    noMarker(await send('orders', 'GET', `/api/orders/status/${marker}`, { token: admin }), 'orders by status')
  })

  it('when an event type in the path is unknown, then the 400 does not echo it', async () => {
    noMarker(await send('relay', 'GET', `/api/events/type/${marker}`, { token: admin }), 'events by type')
  })

  it('when an order names a product that is not in the catalogue, then the 422 does not echo the product id', async () => {
    noMarker(await send('orders', 'POST', '/api/orders', { token: customer, body: { customerId, address, items: [{ productId: marker, quantity: 1 }] } }), 'unknown product')
  })
})

// Issue #14: numbers beyond range and NUL characters used to reach PostgreSQL and answer 500 (or 503 on the relay).
describe('hostile values never reach the database', () => {
  const validation = (res: Raw, what: string, field?: string) => {
    expect(res.status, `${what} → ${res.status} ${res.text}`).toBe(400)
    expect(res.headers.get('content-type')).toMatch(problemJson)
    expect(res.body.code, what).toBe('request.validation')
    if (field) expect(res.body.errors.map((e: { field: string }) => e.field), what).toContain(field)
  }

  it('when a query number is beyond its column or not finite (1e309, 99999999999999999999999, 9007199254740993, Infinity), then 400 on every service', async () => {
    const t = await token(['admin'], `security-input-numbers-${randomUUID().slice(0, 8)}`)
    const cases: [Service, string, string][] = [
      ['inventory', '/api/inventory/items?page=', 'querystring.page'],
      ['inventory', '/api/inventory/items/available?minQuantity=', 'querystring.minQuantity'],
      ['inventory', '/api/inventory/reservations?size=', 'querystring.size'],
      ['orders', '/api/orders?page=', 'querystring.page'],
      ['payments', '/api/payments?page=', 'querystring.page'],
      ['relay', '/api/dlq?page=', 'querystring.page'],
      ['relay', '/api/events/unprocessed?page=', 'querystring.page'],
    ]
    for (const [service, path, field] of cases) {
      for (const value of ['1e309', '99999999999999999999999', '9007199254740993', 'Infinity']) {
        validation(await send(service, 'GET', `${path}${value}`, { token: t }), `${service} ${path}${value}`, field)
      }
    }
  })

  it('when \\u0000 is sent in a query, a path or a body, then 400 naming the field (the relay too: not 503), and nothing is written', async () => {
    const t = await token(['admin'], `security-input-nul-${randomUUID().slice(0, 8)}`)
    validation(await send('inventory', 'GET', '/api/inventory/items?category=a%00b', { token: t }), 'inventory category', 'querystring.category')
    validation(await send('relay', 'GET', '/api/dlq?key=a%00b', { token: t }), 'relay dlq key', 'querystring.key')
    validation(await send('relay', 'GET', '/api/events/aggregate/a%00b', { token: t }), 'relay aggregate', 'params.aggregateId')
    validation(await send('relay', 'POST', '/api/dlq/replay', { token: t, body: { key: 'a\u0000b' } }), 'relay replay body', 'key')
    const productId = `SEC-${randomUUID().slice(0, 12)}`
    validation(await send('inventory', 'POST', '/api/inventory/items', { token: t, body: newItem(productId, { productName: 'a\u0000b' }) }), 'inventory create', 'productName')
    expect((await send('inventory', 'GET', `/api/inventory/items/${productId}`, { token: t })).status).toBe(404)
    validation(await send('inventory', 'PUT', `/api/inventory/items/${product}`, { token: t, body: { description: 'x\u0000' } }), 'inventory update', 'description')
    expect((await send('inventory', 'GET', `/api/inventory/items/${product}`, { token: t })).body.description).toBe(canary.description)
  })
})

describe('rate-limit headers', () => {
  const window = Number(process.env.RATE_LIMIT_WINDOW_SECONDS ?? 60)
  const headersOf = (res: Raw) => ({
    limit: Number(res.headers.get('x-ratelimit-limit')),
    remaining: Number(res.headers.get('x-ratelimit-remaining')),
    reset: Number(res.headers.get('x-ratelimit-reset')),
  })

  const reads: [Service, (sub: string) => string, 'customer' | 'operator'][] = [
    ['orders', (sub) => `/api/orders/customer/${sub}`, 'customer'],
    ['inventory', () => '/api/inventory/items?size=1', 'customer'],
    ['payments', () => `/api/payments/order/${randomUUID()}`, 'customer'],
    ['relay', () => '/api/dlq/stats', 'operator'],
  ]
  for (const [service, path, role] of reads) {
    it(`when one subject calls ${service} three times, then X-RateLimit-Limit/Remaining/Reset are present and consistent`, async () => {
      const sub = randomUUID()
      const t = await token([role], sub)
      const seen: ReturnType<typeof headersOf>[] = []
      for (let i = 0; i < 3; i++) {
        const before = Math.floor(Date.now() / 1000)
        const res = await send(service, 'GET', path(sub), { token: t })
        expect(res.status).toBeLessThan(500)
        const h = headersOf(res)
        expect(Number.isInteger(h.limit) && h.limit > 0, `limit ${h.limit}`).toBe(true)
        expect(Number.isInteger(h.remaining) && h.remaining >= 0 && h.remaining < h.limit, `remaining ${h.remaining}`).toBe(true)
        expect(h.reset, 'reset is a future epoch second').toBeGreaterThanOrEqual(before)
        expect(h.reset, 'reset is within one window').toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + window)
        seen.push(h)
      }
      // A fresh subject starts with a full window; within one window each call takes one.
      const [a, b, c] = seen as [ReturnType<typeof headersOf>, ReturnType<typeof headersOf>, ReturnType<typeof headersOf>]
      expect(a.remaining).toBe(a.limit - 1)
      expect(b.limit).toBe(a.limit)
      if (b.reset === a.reset) expect(b.remaining).toBe(a.remaining - 1)
      if (c.reset === b.reset) expect(c.remaining).toBe(b.remaining - 1)
    })
  }

  it('when one subject reads and then writes, then reads and writes are counted against separate limits', async () => {
    const sub = randomUUID()
    const t = await token(['customer'], sub)
    const read = headersOf(await send('orders', 'GET', `/api/orders/customer/${sub}`, { token: t }))
    await send('orders', 'GET', `/api/orders/customer/${sub}`, { token: t })
    const write = await send('orders', 'POST', '/api/orders', { token: t, body: { customerId: sub, address, items: [{ productId: product, quantity: 1 }] } })
    const w = headersOf(write)
    expect(write.status).toBe(201)
    expect(w.remaining).toBe(w.limit - 1)
    expect(read.remaining).toBe(read.limit - 1)
  })

  it('when health, metrics and docs are called, then they are exempt (no rate-limit headers)', async () => {
    for (const path of ['/actuator/health', '/actuator/prometheus', '/docs/json', '/']) {
      const res = await send('orders', 'GET', path, { token: customer })
      expect(res.headers.get('x-ratelimit-limit'), path).toBeNull()
    }
  })
})
