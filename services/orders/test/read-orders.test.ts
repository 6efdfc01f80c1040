import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import { addProduct, address, createTestApp, createTestDb, customer, forceStatus, legacyBody, operator } from './support.ts'

const db = createTestDb()
let app: App

beforeAll(async () => {
  ;({ app } = await createTestApp(db))
})
afterAll(async () => {
  await app.close()
  await db.destroy()
})

const get = async (url: string, auth?: string) => app.inject({ method: 'GET', url, headers: { authorization: auth ?? (await operator()) } })

async function place(customerId: string, totalAmount = 10) {
  const res = await app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await customer(customerId) }, payload: legacyBody(customerId, { totalAmount }) })
  expect(res.statusCode, res.body).toBe(201)
  return res.json() as { id: string; totalAmount: number; createdAt: string }
}

describe('GET /api/orders/{id}, /items and /history', () => {
  it('when the owner reads an order, then it comes with its items, an ETag, and its items and timeline are readable too', async () => {
    const p = await addProduct(db, { price: 2.5, name: 'Widget' })
    const me = randomUUID()
    const created = await app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await customer(me), 'x-correlation-id': 'corr-read-1' }, payload: { customerId: me, address: address(), items: [{ productId: p, quantity: 4 }] } })
    const id = created.json().id
    const res = await get(`/api/orders/${id}`, await customer(me))
    expect(res.statusCode).toBe(200)
    expect(res.headers.etag).toBe('"1"')
    expect(res.json()).toEqual(created.json())
    expect(res.json()).toMatchObject({ totalAmount: 10, items: [{ productId: p, productName: 'Widget', quantity: 4, unitPrice: 2.5, totalPrice: 10 }] })
    const items = await get(`/api/orders/${id}/items`, await customer(me))
    expect(items.json()).toEqual([{ productId: p, productName: 'Widget', quantity: 4, unitPrice: 2.5, totalPrice: 10 }])
    const history = await get(`/api/orders/${id}/history`, await customer(me))
    expect(history.json()).toEqual({
      orderId: id,
      entries: [{ at: created.json().createdAt, from: null, to: 'PENDING', cause: 'customer', reason: null, actor: me, correlationId: 'corr-read-1', version: 1 }],
    })
  })

  it("when a customer reads someone else's order, its items or its history, then 404 as if it did not exist", async () => {
    const owner = randomUUID()
    const { id } = await place(owner)
    const stranger = await customer(randomUUID())
    for (const url of [`/api/orders/${id}`, `/api/orders/${id}/items`, `/api/orders/${id}/history`]) {
      const res = await get(url, stranger)
      expect(res.statusCode).toBe(404)
      expect(res.json().code).toBe('order.not-found')
    }
    expect((await get(`/api/orders/${id}`)).statusCode).toBe(200) // operators see every order
  })

  it('when the order does not exist, then 404; when the id is not a uuid, then 400 naming it', async () => {
    expect((await get(`/api/orders/${randomUUID()}`)).statusCode).toBe(404)
    for (const url of ['/api/orders/12345', '/api/orders/12345/items', '/api/orders/12345/history']) {
      const res = await get(url)
      expect(res.statusCode).toBe(400)
      expect(res.json().errors).toEqual([{ field: 'params.id', message: 'must match format "uuid"' }])
    }
    const del = await app.inject({ method: 'DELETE', url: '/api/orders/12345', headers: { authorization: await operator() } })
    expect(del.statusCode).toBe(400)
  })

  it('when there is no token or a bad one, then 401', async () => {
    expect((await app.inject({ method: 'GET', url: `/api/orders/${randomUUID()}` })).statusCode).toBe(401)
    expect((await get(`/api/orders/${randomUUID()}`, 'Bearer a.b.c')).statusCode).toBe(401)
  })
})

describe('lists', () => {
  it("when a customer lists their own orders, then they are paginated and sorted as asked", async () => {
    const me = randomUUID()
    for (const total of [30, 10, 20]) await place(me, total)
    const auth = await customer(me)
    const first = await get(`/api/orders/customer/${me}?size=2&sort=totalAmount,asc`, auth)
    expect(first.statusCode).toBe(200)
    expect(first.json()).toMatchObject({ page: 0, size: 2, totalElements: 3, totalPages: 2 })
    expect(first.json().content.map((o: { totalAmount: number }) => o.totalAmount)).toEqual([10, 20])
    const second = await get(`/api/orders/customer/${me}?size=2&page=1&sort=totalAmount,asc`, auth)
    expect(second.json().content.map((o: { totalAmount: number }) => o.totalAmount)).toEqual([30])
    const desc = await get(`/api/orders/customer/${me}?sort=totalAmount,desc`, auth)
    expect(desc.json().content.map((o: { totalAmount: number }) => o.totalAmount)).toEqual([30, 20, 10])
    const beyond = await get(`/api/orders/customer/${me}?page=5`, auth)
    expect(beyond.json()).toMatchObject({ content: [], page: 5, size: 20, totalElements: 3, totalPages: 1 })
  })

  it('when no sort is given, then the newest orders come first', async () => {
    const me = randomUUID()
    const a = await place(me)
    const b = await place(me)
    const res = await get(`/api/orders/customer/${me}`)
    expect(res.json().content.map((o: { id: string }) => o.id)).toEqual([b.id, a.id])
  })

  it("when a customer lists someone else's orders, then 404; operators may list anyone's", async () => {
    const other = randomUUID()
    await place(other)
    const res = await get(`/api/orders/customer/${other}`, await customer(randomUUID()))
    expect(res.statusCode).toBe(404)
    expect((await get(`/api/orders/customer/${other}`)).json().totalElements).toBe(1)
  })

  it('when operators list by status, then only orders in that status come back', async () => {
    const me = randomUUID()
    const shipped = await place(me)
    await place(me)
    await forceStatus(db, shipped.id, 'SHIPPED')
    const res = await get('/api/orders/status/SHIPPED?size=100&sort=updatedAt,desc')
    expect(res.statusCode).toBe(200)
    const content = res.json().content as { id: string; status: string }[]
    expect(content.every((o) => o.status === 'SHIPPED')).toBe(true)
    expect(content.map((o) => o.id)).toContain(shipped.id)
  })

  it('when operators list every order, then the page has the documented shape', async () => {
    await place(randomUUID())
    const res = await get('/api/orders?size=5&sort=createdAt,desc')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(Object.keys(body).sort()).toEqual(['content', 'page', 'size', 'totalElements', 'totalPages'])
    expect(body.content).toHaveLength(5)
    expect(body.totalPages).toBe(Math.ceil(body.totalElements / 5))
  })

  it('when a customer lists every order or a status, then 403', async () => {
    const auth = await customer(randomUUID())
    expect((await get('/api/orders', auth)).statusCode).toBe(403)
    expect((await get('/api/orders/status/PENDING', auth)).statusCode).toBe(403)
  })

  const badQueries: [string, string][] = [
    ['/api/orders?sort=price', 'sort'],
    ['/api/orders?sort=createdAt,sideways', 'sort'],
    ['/api/orders?sort=createdAt,asc,again', 'sort'],
    ['/api/orders?size=101', 'querystring.size'],
    ['/api/orders?size=0', 'querystring.size'],
    ['/api/orders?page=-1', 'querystring.page'],
    ['/api/orders?page=abc', 'querystring.page'],
    ['/api/orders/status/LOST', 'params.status'],
    ['/api/orders/status/pending', 'params.status'],
    ['/api/orders/customer/not-a-uuid', 'params.customerId'],
  ]
  for (const [url, field] of badQueries) {
    it(`when GET ${url}, then 400 naming ${field}`, async () => {
      const res = await get(url)
      expect(res.statusCode, res.body).toBe(400)
      expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field)
    })
  }

  it('when size is 100, then it is accepted', async () => {
    expect((await get('/api/orders?size=100')).statusCode).toBe(200)
  })
})

describe('shared HTTP behaviour on the order API', () => {
  it('when the route is unknown, then 404; when the method is wrong, then 405 with Allow', async () => {
    expect((await get('/api/orders/x/y/z')).statusCode).toBe(404)
    const res = await app.inject({ method: 'PATCH', url: `/api/orders/${randomUUID()}`, headers: { authorization: await operator() } })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toContain('GET')
    expect(res.headers.allow).toContain('DELETE')
  })

  it('when the status body is malformed JSON, then 400 malformed-json', async () => {
    const res = await app.inject({ method: 'PUT', url: `/api/orders/${randomUUID()}/status`, headers: { authorization: await operator(), 'content-type': 'application/json' }, payload: '{"newStatus":' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('request.malformed-json')
  })

  it('when the OpenAPI document is read, then it documents the order routes and the create rules', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    const doc = res.json()
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/orders', '/api/orders/{id}', '/api/orders/{id}/status', '/api/orders/{id}/history', '/api/orders/customer/{customerId}']))
    const create = doc.paths['/api/orders'].post.requestBody.content['application/json'].schema
    expect(create.properties.address.properties.city).toMatchObject({ minLength: 2, maxLength: 100, pattern: "^[A-Za-z\\s\\-']{2,100}$" })
  })
})
