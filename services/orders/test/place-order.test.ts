import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import { addressRules, deliveryInstructionsRule, paymentTokenRule, paymentTypeRule, productIdRule } from '../src/order-request.ts'
import { addProduct, address, countByType, createTestApp, createTestDb, customer, historyCount, legacyBody, operator, outboxOf } from './support.ts'

const db = createTestDb()
let app: App
let logs: Record<string, unknown>[]

beforeAll(async () => {
  ;({ app, logs } = await createTestApp(db))
})
afterAll(async () => {
  await app.close()
  await db.destroy()
})

const post = async (body: unknown, opts: { auth?: string; key?: string } = {}) =>
  app.inject({
    method: 'POST',
    url: '/api/orders',
    headers: { authorization: opts.auth ?? (await operator()), ...(opts.key ? { 'idempotency-key': opts.key } : {}) },
    payload: body as Record<string, unknown>,
  })

const s = (n: number, c = 'a') => c.repeat(n)

describe('POST /api/orders: every validation rule at its boundaries', () => {
  type Case = { name: string; change: (b: Record<string, unknown>) => unknown; field?: string; message?: string }
  const addr = (patch: Record<string, unknown>) => (b: Record<string, unknown>) => ({ ...b, address: { ...address(), ...patch } })
  const set = (patch: Record<string, unknown>) => (b: Record<string, unknown>) => ({ ...b, ...patch })
  const without = (key: string) => (b: Record<string, unknown>) => Object.fromEntries(Object.entries(b).filter(([k]) => k !== key))
  const withoutAddr = (key: string) => (b: Record<string, unknown>) => ({ ...b, address: Object.fromEntries(Object.entries(address()).filter(([k]) => k !== key)) })
  const ok = (name: string, change: Case['change']): Case => ({ name, change })
  const bad = (name: string, change: Case['change'], field: string, message: string): Case => ({ name, change, field, message })
  const r = addressRules

  const cases: Case[] = [
    bad('customerId missing', without('customerId'), 'customerId', 'is required'),
    bad('customerId not a uuid', set({ customerId: 'customer-1' }), 'customerId', 'must be a UUID'),
    bad('customerId not a string', set({ customerId: 42 }), 'customerId', 'must be a UUID'),
    bad('body not an object', () => [], 'body', 'must be a JSON object'),
    bad('address missing', without('address'), 'address', 'is required'),
    bad('address not an object', set({ address: 'Main Street 1' }), 'address', 'must be an object'),

    bad('streetAddress missing', withoutAddr('streetAddress'), 'address.streetAddress', 'is required'),
    bad('streetAddress blank', addr({ streetAddress: '      ' }), 'address.streetAddress', 'is required'),
    bad('streetAddress 4 chars', addr({ streetAddress: '1 Ma' }), 'address.streetAddress', r.streetAddress.message),
    ok('streetAddress 5 chars', addr({ streetAddress: '1 Mai' })),
    ok('streetAddress 255 chars', addr({ streetAddress: s(255) })),
    bad('streetAddress 256 chars', addr({ streetAddress: s(256) }), 'address.streetAddress', r.streetAddress.message),

    bad('city missing', withoutAddr('city'), 'address.city', 'is required'),
    bad('city 1 char', addr({ city: 'A' }), 'address.city', r.city.message),
    ok('city 2 chars', addr({ city: 'Ab' })),
    ok("city with space, hyphen and apostrophe", addr({ city: "O'Fallon-Sur Mer" })),
    ok('city 100 chars', addr({ city: s(100) })),
    bad('city 101 chars', addr({ city: s(101) }), 'address.city', r.city.message),
    bad('city with a digit', addr({ city: 'Paris 2' }), 'address.city', r.city.message),

    ok('state absent', withoutAddr('state')),
    ok('state null', addr({ state: null })),
    ok('state 100 chars', addr({ state: s(100) })),
    bad('state 101 chars', addr({ state: s(101) }), 'address.state', r.state.message),
    bad('state with a digit', addr({ state: 'NY1' }), 'address.state', r.state.message),

    bad('postalCode missing', withoutAddr('postalCode'), 'address.postalCode', 'is required'),
    bad('postalCode 2 chars', addr({ postalCode: '12' }), 'address.postalCode', r.postalCode.message),
    ok('postalCode 3 chars', addr({ postalCode: '123' })),
    ok('postalCode with space and hyphen', addr({ postalCode: 'SW1A 1AA-9' })),
    ok('postalCode 20 chars', addr({ postalCode: s(20, '1') })),
    bad('postalCode 21 chars', addr({ postalCode: s(21, '1') }), 'address.postalCode', r.postalCode.message),
    bad('postalCode with #', addr({ postalCode: '12#45' }), 'address.postalCode', r.postalCode.message),

    bad('country missing', withoutAddr('country'), 'address.country', 'is required'),
    bad('country 1 char', addr({ country: 'U' }), 'address.country', r.country.message),
    ok('country 2 chars', addr({ country: 'US' })),
    ok('country 100 chars', addr({ country: s(100) })),
    bad('country 101 chars', addr({ country: s(101) }), 'address.country', r.country.message),
    bad('country with a digit', addr({ country: 'U5' }), 'address.country', r.country.message),

    ok('phoneNumber absent', withoutAddr('phoneNumber')),
    ok('phoneNumber null', addr({ phoneNumber: null })),
    ok('phoneNumber blank', addr({ phoneNumber: '' })),
    bad('phoneNumber 6 digits', addr({ phoneNumber: '123456' }), 'address.phoneNumber', r.phoneNumber.message),
    ok('phoneNumber 7 digits', addr({ phoneNumber: '1234567' })),
    ok('phoneNumber 50 chars', addr({ phoneNumber: `+${s(49, '1')}` })),
    bad('phoneNumber 51 chars', addr({ phoneNumber: `+${s(50, '1')}` }), 'address.phoneNumber', r.phoneNumber.message),
    bad('phoneNumber with letters', addr({ phoneNumber: 'call 1234567' }), 'address.phoneNumber', r.phoneNumber.message),
    bad('phoneNumber with + inside', addr({ phoneNumber: '12+34567' }), 'address.phoneNumber', r.phoneNumber.message),

    ok('deliveryInstructions absent', without('deliveryInstructions')),
    ok('deliveryInstructions 500 chars', set({ deliveryInstructions: s(500) })),
    bad('deliveryInstructions 501 chars', set({ deliveryInstructions: s(501) }), 'deliveryInstructions', deliveryInstructionsRule.message),
    bad('deliveryInstructions with ;', set({ deliveryInstructions: 'Ring twice; then wait' }), 'deliveryInstructions', deliveryInstructionsRule.message),

    bad('totalAmount missing without items', without('totalAmount'), 'totalAmount', 'is required when the order has no items'),
    bad('totalAmount 0', set({ totalAmount: 0 }), 'totalAmount', 'must be an amount from 0.01 to 999999.99 with at most two decimals'),
    bad('totalAmount negative', set({ totalAmount: -5 }), 'totalAmount', 'must be an amount from 0.01 to 999999.99 with at most two decimals'),
    ok('totalAmount 0.01', set({ totalAmount: 0.01 })),
    ok('totalAmount 999999.99', set({ totalAmount: 999999.99 })),
    bad('totalAmount 1000000.00', set({ totalAmount: 1000000 }), 'totalAmount', 'must be an amount from 0.01 to 999999.99 with at most two decimals'),
    bad('totalAmount with three decimals', set({ totalAmount: 10.005 }), 'totalAmount', 'must be an amount from 0.01 to 999999.99 with at most two decimals'),
    bad('totalAmount not a number', set({ totalAmount: 'ten' }), 'totalAmount', 'must be an amount from 0.01 to 999999.99 with at most two decimals'),

    bad('items empty', set({ items: [] }), 'items', 'must be an array of 1 to 50 lines'),
    bad('items 51 lines', set({ items: Array.from({ length: 51 }, (_, i) => ({ productId: `P-${i}`, quantity: 1 })) }), 'items', 'must be an array of 1 to 50 lines'),
    bad('items not an array', set({ items: 'P-1' }), 'items', 'must be an array of 1 to 50 lines'),
    bad('item quantity 0', set({ items: [{ productId: 'P-1', quantity: 0 }] }), 'items[0].quantity', 'must be a whole number from 1 to 1000'),
    bad('item quantity 1001', set({ items: [{ productId: 'P-1', quantity: 1001 }] }), 'items[0].quantity', 'must be a whole number from 1 to 1000'),
    bad('item quantity 1.5', set({ items: [{ productId: 'P-1', quantity: 1.5 }] }), 'items[0].quantity', 'must be a whole number from 1 to 1000'),
    bad('item quantity missing', set({ items: [{ productId: 'P-1' }] }), 'items[0].quantity', 'is required'),
    bad('item productId missing', set({ items: [{ quantity: 1 }] }), 'items[0].productId', 'is required'),
    bad('item productId 101 chars', set({ items: [{ productId: s(101, 'P'), quantity: 1 }] }), 'items[0].productId', productIdRule.message),
    bad('item productId with a space', set({ items: [{ productId: 'P 1', quantity: 1 }] }), 'items[0].productId', productIdRule.message),
    bad('merged quantity over 1000', set({ items: [{ productId: 'P-1', quantity: 600 }, { productId: 'P-1', quantity: 401 }] }), 'items', 'product P-1 is ordered 1001 times in total; at most 1000'),
    bad('item not an object', set({ items: ['P-1'] }), 'items[0]', 'must be an object with productId and quantity'),

    ok('paymentMethod with token and type', set({ paymentMethod: { token: 'tok_mastercard', type: 'card' } })),
    ok('paymentMethod token 200 chars', set({ paymentMethod: { token: s(200, 't') } })),
    bad('paymentMethod token 201 chars', set({ paymentMethod: { token: s(201, 't') } }), 'paymentMethod.token', paymentTokenRule.message),
    bad('paymentMethod token with a space', set({ paymentMethod: { token: 'tok visa' } }), 'paymentMethod.token', paymentTokenRule.message),
    bad('paymentMethod type with a space', set({ paymentMethod: { type: 'credit card' } }), 'paymentMethod.type', paymentTypeRule.message),
    bad('paymentMethod not an object', set({ paymentMethod: 'tok_visa' }), 'paymentMethod', 'must be an object with token and/or type'),
  ]

  for (const c of cases) {
    it(`when ${c.name}, then ${c.field ? `400 naming ${c.field}` : '201'}`, async () => {
      const customerId = randomUUID()
      const res = await post(c.change(legacyBody(customerId)))
      if (!c.field) {
        expect(res.statusCode, res.body).toBe(201)
        return
      }
      expect(res.statusCode, res.body).toBe(400)
      expect(res.headers['content-type']).toContain('application/problem+json')
      const body = res.json()
      expect(body.code).toBe('order.validation')
      expect(body.errors).toContainEqual({ field: c.field, message: c.message })
      const orders = await db.selectFrom('orders').select('id').where('customer_id', '=', customerId).execute()
      expect(orders).toEqual([]) // never a partial write
    })
  }

  it('when several fields are wrong, then every one is named at once, each once', async () => {
    const res = await post({ customerId: 'x', address: { city: '1' }, totalAmount: 0, items: [{ productId: 'P 1', quantity: 0 }] })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual(
      expect.arrayContaining([
        { field: 'customerId', message: 'must be a UUID' },
        { field: 'address.city', message: addressRules.city.message },
        { field: 'address.streetAddress', message: 'is required' },
        { field: 'address.postalCode', message: 'is required' },
        { field: 'address.country', message: 'is required' },
        { field: 'totalAmount', message: 'must be an amount from 0.01 to 999999.99 with at most two decimals' },
        { field: 'items[0].productId', message: productIdRule.message },
        { field: 'items[0].quantity', message: 'must be a whole number from 1 to 1000' },
      ]),
    )
    expect(res.json().errors).toHaveLength(8)
  })

  it('when the JSON is malformed, then 400 malformed-json', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await operator(), 'content-type': 'application/json' }, payload: '{"customerId": ' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('request.malformed-json')
  })

  it('when unknown fields are sent, then they are ignored', async () => {
    const res = await post({ ...legacyBody(randomUUID()), status: 'DELIVERED', version: 99 })
    expect(res.statusCode).toBe(201)
    expect(res.json()).toMatchObject({ status: 'PENDING', version: 1 })
  })
})

describe('POST /api/orders: creating', () => {
  it('when a legacy client sends a total without items, then 201 PENDING with Location, the total as given, one ORDER_CREATED and a history row', async () => {
    const customerId = randomUUID()
    const res = await post(legacyBody(customerId, { totalAmount: 1234.56 }), { auth: await customer(customerId) })
    expect(res.statusCode).toBe(201)
    const order = res.json()
    expect(res.headers.location).toBe(`/api/orders/${order.id}`)
    expect(res.headers.etag).toBe('"1"')
    expect(order).toMatchObject({ customerId, status: 'PENDING', totalAmount: 1234.56, currency: 'USD', items: [], address: address(), version: 1 })
    expect(order).not.toHaveProperty('paymentToken')
    const row = await db.selectFrom('orders').selectAll().where('id', '=', order.id).executeTakeFirstOrThrow()
    expect(row.total_cents).toBe(123456)
    const outbox = await outboxOf(db, order.id)
    expect(countByType(outbox).ORDER_CREATED).toBe(1)
    const created = JSON.parse(outbox.find((r) => r.type === 'ORDER_CREATED')!.payload)
    expect(created).toMatchObject({ aggregateId: order.id, data: { orderId: order.id, customerId, status: 'PENDING', totalCents: 123456, currency: 'USD', items: [], version: 1 } })
    expect(await historyCount(db, order.id)).toBe(1)
  })

  it('when items are given, then unit prices come from the catalog, duplicates merge and the total is computed exactly', async () => {
    const a = await addProduct(db, { price: 0.1, name: 'Ten cents' })
    const b = await addProduct(db, { price: 199.99, name: 'Headphones' })
    const customerId = randomUUID()
    const res = await post({ customerId, address: address(), items: [{ productId: a, quantity: 2 }, { productId: b, quantity: 1 }, { productId: a, quantity: 1 }] })
    expect(res.statusCode, res.body).toBe(201)
    const order = res.json()
    expect(order.totalAmount).toBe(200.29)
    expect(order.items).toEqual([
      { productId: a, productName: 'Ten cents', quantity: 3, unitPrice: 0.1, totalPrice: 0.3 },
      { productId: b, productName: 'Headphones', quantity: 1, unitPrice: 199.99, totalPrice: 199.99 },
    ])
    const lines = await db.selectFrom('order_items').selectAll().where('order_id', '=', order.id).orderBy('line_no').execute()
    expect(lines.map((l) => [l.product_id, l.quantity, l.unit_price_cents, l.total_cents])).toEqual([[a, 3, 10, 30], [b, 1, 19999, 19999]])
    const created = JSON.parse((await outboxOf(db, order.id)).find((r) => r.type === 'ORDER_CREATED')!.payload)
    expect(created.data).toMatchObject({ totalCents: 20029, items: [{ productId: a, productName: 'Ten cents', quantity: 3, unitPriceCents: 10 }, { productId: b, quantity: 1, unitPriceCents: 19999 }] })
  })

  it('when 50 lines are sent, then they are accepted', async () => {
    const p = await addProduct(db, { price: 1 })
    const res = await post({ customerId: randomUUID(), address: address(), items: Array.from({ length: 50 }, () => ({ productId: p, quantity: 1 })) })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().items).toMatchObject([{ productId: p, quantity: 50 }])
  })

  it('when the client total agrees with the items, then 201; when it disagrees, then 422 naming both totals', async () => {
    const p = await addProduct(db, { price: 12.5 })
    const agree = await post({ customerId: randomUUID(), address: address(), items: [{ productId: p, quantity: 2 }], totalAmount: 25 })
    expect(agree.statusCode, agree.body).toBe(201)
    const customerId = randomUUID()
    const disagree = await post({ customerId, address: address(), items: [{ productId: p, quantity: 2 }], totalAmount: 20 })
    expect(disagree.statusCode).toBe(422)
    expect(disagree.json()).toMatchObject({ code: 'order.unprocessable', errors: [{ field: 'totalAmount' }] })
    expect(disagree.json().detail).toContain('20.00')
    expect(disagree.json().detail).toContain('25.00')
    expect(await db.selectFrom('orders').select('id').where('customer_id', '=', customerId).execute()).toEqual([])
  })

  it('when a product is unknown, inactive or discontinued, then 422 naming each line (not echoing the ids) and nothing is written', async () => {
    const fine = await addProduct(db, { price: 1 })
    const inactive = await addProduct(db, { price: 1, active: false })
    const discontinued = await addProduct(db, { price: 1, active: false, discontinued: true })
    const unknown = `T-${randomUUID()}`
    const customerId = randomUUID()
    const res = await post({ customerId, address: address(), items: [fine, inactive, discontinued, unknown].map((productId) => ({ productId, quantity: 1 })) })
    expect(res.statusCode).toBe(422)
    const body = res.json()
    expect(body.code).toBe('order.unprocessable')
    expect(body.errors).toEqual([
      { field: 'items[1].productId', message: 'is inactive (not available for sale)' },
      { field: 'items[2].productId', message: 'is discontinued' },
      { field: 'items[3].productId', message: 'is unknown (not in the catalog)' },
    ])
    for (const id of [fine, inactive, discontinued, unknown]) expect(res.body).not.toContain(id)
    expect(await db.selectFrom('orders').select('id').where('customer_id', '=', customerId).execute()).toEqual([])
  })

  it('when the computed total exceeds 999999.99, then 422', async () => {
    const p = await addProduct(db, { price: 99999.99 })
    const res = await post({ customerId: randomUUID(), address: address(), items: [{ productId: p, quantity: 11 }] })
    expect(res.statusCode).toBe(422)
    expect(res.json().detail).toContain('999999.99')
  })

  it('when a payment token is given, then the saga is started with it; without one, with the sandbox default', async () => {
    const p = await addProduct(db, { price: 3 })
    const withToken = await post({ customerId: randomUUID(), address: address(), items: [{ productId: p, quantity: 1 }], paymentMethod: { token: 'tok_mastercard', type: 'card' } })
    expect(withToken.statusCode).toBe(201)
    const row = await db.selectFrom('orders').select('payment_token').where('id', '=', withToken.json().id).executeTakeFirstOrThrow()
    expect(row.payment_token).toBe('tok_mastercard')
    const without = await post(legacyBody(randomUUID()))
    const bare = await db.selectFrom('orders').select('payment_token').where('id', '=', without.json().id).executeTakeFirstOrThrow()
    expect(bare.payment_token).toBeNull()
  })

  it('when an order is placed, then one audit record names the actor, the action and the order', async () => {
    const customerId = randomUUID()
    const res = await post(legacyBody(customerId), { auth: await customer(customerId) })
    const id = res.json().id
    expect(logs.filter((l) => l.audit === true && l.orderId === id)).toEqual([expect.objectContaining({ actor: customerId, action: 'order.create' })])
    expect(JSON.stringify(logs.filter((l) => l.orderId === id))).not.toContain('Main Street')
  })
})

describe('POST /api/orders: who may place an order', () => {
  it('when a customer orders for themselves, then 201; for someone else, then 403 and nothing is written', async () => {
    const me = randomUUID()
    expect((await post(legacyBody(me), { auth: await customer(me) })).statusCode).toBe(201)
    const other = randomUUID()
    const res = await post(legacyBody(other), { auth: await customer(me) })
    expect(res.statusCode).toBe(403)
    expect(res.json().code).toBe('order.forbidden')
    expect(await db.selectFrom('orders').select('id').where('customer_id', '=', other).execute()).toEqual([])
  })
  it('when there is no token, then 401', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/orders', payload: legacyBody(randomUUID()) })
    expect(res.statusCode).toBe(401)
  })
})

describe('POST /api/orders with Idempotency-Key', () => {
  it('when the same request is retried, then the first order is returned with Idempotent-Replayed and only one order exists', async () => {
    const customerId = randomUUID()
    const key = `key-${randomUUID()}`
    const auth = await customer(customerId)
    const first = await post(legacyBody(customerId), { auth, key })
    const second = await post(legacyBody(customerId), { auth, key })
    expect(first.statusCode).toBe(201)
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    expect(second.statusCode).toBe(201)
    expect(second.headers['idempotent-replayed']).toBe('true')
    expect(second.headers.location).toBe(first.headers.location)
    expect(second.json()).toEqual(first.json())
    expect(await db.selectFrom('orders').select('id').where('customer_id', '=', customerId).execute()).toHaveLength(1)
    expect(countByType(await outboxOf(db, first.json().id)).ORDER_CREATED).toBe(1)
  })

  it('when the same key comes with a different body, then 409 and no second order', async () => {
    const customerId = randomUUID()
    const key = `key-${randomUUID()}`
    expect((await post(legacyBody(customerId), { key })).statusCode).toBe(201)
    const res = await post(legacyBody(customerId, { totalAmount: 99 }), { key })
    expect(res.statusCode).toBe(409)
    expect(res.json().code).toBe('order.idempotency-key.conflict')
    const other = randomUUID()
    expect((await post(legacyBody(other), { key })).statusCode).toBe(409)
    expect(await db.selectFrom('orders').select('id').where('customer_id', 'in', [customerId, other]).execute()).toHaveLength(1)
  })

  it('when identical requests arrive concurrently, then all get the same order and exactly one exists', async () => {
    const customerId = randomUUID()
    const key = `key-${randomUUID()}`
    const auth = await customer(customerId)
    const results = await Promise.all(Array.from({ length: 6 }, () => post(legacyBody(customerId), { auth, key })))
    expect(results.map((r) => r.statusCode)).toEqual(Array(6).fill(201))
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1)
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(5)
    expect(await db.selectFrom('orders').select('id').where('customer_id', '=', customerId).execute()).toHaveLength(1)
  })

  it('when the first attempt was refused, then the key is free for the corrected request', async () => {
    const p = await addProduct(db, { price: 5 })
    const customerId = randomUUID()
    const key = `key-${randomUUID()}`
    expect((await post({ customerId, address: address(), items: [{ productId: p, quantity: 1 }], totalAmount: 4 }, { key })).statusCode).toBe(422)
    expect((await post({ customerId, address: address(), items: [{ productId: p, quantity: 1 }], totalAmount: 4 }, { key })).statusCode).toBe(422)
    const ok = await post({ customerId, address: address(), items: [{ productId: p, quantity: 1 }], totalAmount: 5 }, { key })
    expect(ok.statusCode).toBe(201)
    expect(ok.headers['idempotent-replayed']).toBeUndefined()
  })

  it('when the key is longer than 128 characters or has spaces, then 400 naming the header', async () => {
    for (const key of ['k'.repeat(129), 'two words']) {
      const res = await post(legacyBody(randomUUID()), { key })
      expect(res.statusCode).toBe(400)
      expect(res.json().errors).toEqual([{ field: 'headers.idempotency-key', message: 'must be 1 to 128 printable characters without spaces' }])
    }
    expect((await post(legacyBody(randomUUID()), { key: randomUUID().replaceAll('-', '').repeat(4) })).statusCode).toBe(201)
  })
})
