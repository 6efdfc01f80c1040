import { describe, expect, it } from 'vitest'
import {
  amountToCents,
  centsToAmount,
  decideTransition,
  decimalToCents,
  formatCents,
  mergeLines,
  orderStatuses,
  priceLines,
  validateNewOrder,
  type CatalogProduct,
  type OrderStatus,
} from '../src/order.ts'

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

describe('money', () => {
  it('when an amount has at most two decimals, then it converts to exact cents and back', () => {
    expect(amountToCents(0.01)).toBe(1)
    expect(amountToCents(19.99)).toBe(1999)
    expect(amountToCents(0.1 + 0.2)).toBe(30)
    expect(amountToCents(999999.99)).toBe(99999999)
    expect(centsToAmount(1999)).toBe(19.99)
    expect(JSON.stringify(centsToAmount(30))).toBe('0.3')
  })
  it('when an amount has more precision than cents or is not finite, then it is refused', () => {
    expect(amountToCents(1.005)).toBeNull()
    expect(amountToCents(0.001)).toBeNull()
    expect(amountToCents(Number.NaN)).toBeNull()
    expect(amountToCents(Number.POSITIVE_INFINITY)).toBeNull()
  })
  it('when Debezium sends a numeric as a string, then it converts exactly', () => {
    expect(decimalToCents('199.99')).toBe(19999)
    expect(decimalToCents('5')).toBe(500)
    expect(decimalToCents('5.5')).toBe(550)
    expect(decimalToCents('0.10')).toBe(10)
    expect(decimalToCents('12.340')).toBe(1234)
    expect(decimalToCents('1.999')).toBeNull()
    expect(decimalToCents('abc')).toBeNull()
  })
  it('when cents are formatted, then they read as a decimal amount', () => {
    expect(formatCents(1)).toBe('0.01')
    expect(formatCents(123456)).toBe('1234.56')
  })
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

describe('validating a new order', () => {
  const valid = {
    customerId: '6f1c2b0e-8a4d-4c3e-9b7a-1d2e3f4a5b6c',
    address: { streetAddress: '1 Long Road', city: 'Bath', postalCode: 'BA1 1AA', country: 'UK' },
    totalAmount: 10,
  }
  it('when the body is not an object, then the whole body is named', () => {
    expect(validateNewOrder([])).toEqual({ ok: false, errors: [{ field: 'body', message: 'must be a JSON object' }] })
  })
  it('when optional fields are absent or blank, then they are null', () => {
    const r = validateNewOrder({ ...valid, deliveryInstructions: '  ', address: { ...valid.address, state: '', phoneNumber: null } })
    expect(r).toMatchObject({ ok: true, value: { deliveryInstructions: null, address: { state: null, phoneNumber: null }, items: null, totalCents: 1000, paymentToken: null } })
  })
  it('when several fields are wrong, then every one is reported at once', () => {
    const r = validateNewOrder({ customerId: 'x', address: { city: '1' }, totalAmount: 0 })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.errors.map((e) => e.field).sort()).toEqual(['address.city', 'address.country', 'address.postalCode', 'address.streetAddress', 'customerId', 'totalAmount'])
    }
  })
  it('when items are given, then duplicates are merged and the total is optional', () => {
    const r = validateNewOrder({ ...valid, totalAmount: undefined, items: [{ productId: 'P-1', quantity: 2 }, { productId: 'P-1', quantity: 5 }] })
    expect(r).toMatchObject({ ok: true, value: { items: [{ productId: 'P-1', quantity: 7 }], totalCents: null } })
  })
  it('when a customer id is upper case, then it is normalised', () => {
    const r = validateNewOrder({ ...valid, customerId: valid.customerId.toUpperCase() })
    expect(r).toMatchObject({ ok: true, value: { customerId: valid.customerId } })
  })
})
