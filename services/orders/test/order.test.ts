import { describe, expect, it } from 'vitest'
import { decideTransition, orderStatuses, type OrderStatus } from '../src/order.ts'
import { mergeLines, priceLines, type CatalogProduct } from '../src/pricing.ts'
import { dropAbsentFields, newOrderOf } from '../src/order-request.ts'

const allowed: [OrderStatus, OrderStatus][] = [
  ['PENDING', 'CONFIRMED'],
  ['CONFIRMED', 'PROCESSING'],
  ['PROCESSING', 'SHIPPED'],
  ['SHIPPED', 'DELIVERED'],
  ['PENDING', 'CANCELLED'],
  ['CONFIRMED', 'CANCELLED'],
  ['PROCESSING', 'CANCELLED'],
  ['SHIPPED', 'CANCELLED'],
]

describe('the order status machine', () => {
  for (const from of orderStatuses) {
    for (const to of orderStatuses) {
      const expected = from === to ? 'same' : allowed.some(([f, t]) => f === from && t === to) ? 'allowed' : 'refused'
      it(`given ${from}, when asked for ${to}, then ${expected}`, () => {
        const decision = decideTransition(from, to)
        expect(decision.kind).toBe(expected)
        if (decision.kind === 'refused') expect(decision.reason).toContain(to)
      })
    }
  }
})

describe('pricing', () => {
  const catalog = new Map<string, CatalogProduct>([
    ['A', { productId: 'A', productName: 'Apple', unitPriceCents: 125, isActive: true, isDiscontinued: false }],
    ['B', { productId: 'B', productName: 'Bread', unitPriceCents: 310, isActive: true, isDiscontinued: false }],
    ['OFF', { productId: 'OFF', productName: 'Off', unitPriceCents: 100, isActive: false, isDiscontinued: false }],
    ['OLD', { productId: 'OLD', productName: 'Old', unitPriceCents: 100, isActive: false, isDiscontinued: true }],
  ])
  it('when a product appears twice, then its lines merge and quantities add up, first appearance first', () => {
    expect(mergeLines([{ productId: 'B', quantity: 1 }, { productId: 'A', quantity: 2 }, { productId: 'B', quantity: 3 }])).toEqual([
      { productId: 'B', quantity: 4 },
      { productId: 'A', quantity: 2 },
    ])
  })
  it('when every product is sellable, then lines are priced and the total is their sum in cents', () => {
    const r = priceLines([{ productId: 'A', quantity: 3 }, { productId: 'B', quantity: 2 }], catalog)
    expect(r).toEqual({
      ok: true,
      totalCents: 995,
      items: [
        { productId: 'A', productName: 'Apple', quantity: 3, unitPriceCents: 125, totalCents: 375 },
        { productId: 'B', productName: 'Bread', quantity: 2, unitPriceCents: 310, totalCents: 620 },
      ],
    })
  })
  it('when products are unknown, inactive or discontinued, then each is named with its reason', () => {
    const r = priceLines([{ productId: 'A', quantity: 1 }, { productId: 'NOPE', quantity: 1 }, { productId: 'OFF', quantity: 1 }, { productId: 'OLD', quantity: 1 }], catalog)
    expect(r).toEqual({
      ok: false,
      problems: [
        { productId: 'NOPE', reason: 'unknown' },
        { productId: 'OFF', reason: 'inactive' },
        { productId: 'OLD', reason: 'discontinued' },
      ],
    })
  })
})

describe('a new order from a request the schema accepted', () => {
  const valid = {
    customerId: '6f1c2b0e-8a4d-4c3e-9b7a-1d2e3f4a5b6c',
    address: { streetAddress: '1 Long Road', city: 'Bath', postalCode: 'BA1 1AA', country: 'UK' },
    totalAmount: 10,
  }
  it('when optional fields are absent, then they are null and the amount is in cents', () => {
    expect(newOrderOf(valid)).toEqual({
      ok: true,
      value: { customerId: valid.customerId, address: { ...valid.address, state: null, phoneNumber: null }, deliveryInstructions: null, items: null, totalCents: 1000, paymentToken: null },
    })
  })
  it('when null or blank fields are dropped before the schema, then nested ones and array items go too', () => {
    expect(dropAbsentFields({ a: null, b: '  ', c: 'x', d: { e: '', f: 0 }, g: [{ h: null, i: 'y' }] })).toEqual({ c: 'x', d: { f: 0 }, g: [{ i: 'y' }] })
    expect(dropAbsentFields([1, ''])).toEqual([1, ''])
  })
  it('when neither items nor a total are given, then the total is required', () => {
    const { totalAmount: _, ...withoutTotal } = valid
    expect(newOrderOf(withoutTotal)).toEqual({ ok: false, errors: [{ field: 'totalAmount', message: 'is required when the order has no items' }] })
  })
  it('when items are given, then duplicates are merged and the total is optional', () => {
    const r = newOrderOf({ ...valid, totalAmount: undefined, items: [{ productId: 'P-1', quantity: 2 }, { productId: 'P-1', quantity: 5 }] })
    expect(r).toMatchObject({ ok: true, value: { items: [{ productId: 'P-1', quantity: 7 }], totalCents: null } })
  })
  it('when one product is ordered over 1000 times across its lines, then the merged quantity is refused', () => {
    const r = newOrderOf({ ...valid, items: [{ productId: 'P-1', quantity: 600 }, { productId: 'P-1', quantity: 401 }] })
    expect(r).toEqual({ ok: false, errors: [{ field: 'items', message: 'product P-1 is ordered 1001 times in total; at most 1000' }] })
  })
  it('when a customer id is upper case, then it is normalised', () => {
    const r = newOrderOf({ ...valid, customerId: valid.customerId.toUpperCase() })
    expect(r).toMatchObject({ ok: true, value: { customerId: valid.customerId } })
  })
})
