import { describe, expect, it } from 'vitest'
import {
  adjustmentProblem, aggregateLines, applyItemPatch, checkReservation, lowStockAlert, needsReordering, type ItemState, type StockRow,
} from '../src/stock.ts'

const row = (productId: string, availableQuantity: number, o: Partial<StockRow> = {}): StockRow => ({
  productId, productName: `Name ${productId}`, availableQuantity, unitPriceCents: 1000, isActive: true, isDiscontinued: false, minStockLevel: null, ...o,
})
const rows = (...r: StockRow[]) => new Map(r.map((x) => [x.productId, x]))

describe('aggregateLines', () => {
  it('when a product appears on two lines, then its quantities are summed into one line, sorted by product id', () => {
    expect(aggregateLines([{ productId: 'B', quantity: 2 }, { productId: 'A', quantity: 1 }, { productId: 'B', quantity: 3 }])).toEqual([
      { productId: 'A', quantity: 1 },
      { productId: 'B', quantity: 5 },
    ])
  })
})

describe('checkReservation', () => {
  it('when every line has enough active stock, then it passes with names and prices', () => {
    const check = checkReservation([{ productId: 'A', quantity: 5 }], rows(row('A', 5, { unitPriceCents: 19999 })))
    expect(check).toEqual({ ok: true, lines: [{ productId: 'A', quantity: 5, productName: 'Name A', unitPriceCents: 19999 }] })
  })
  it('when lines fail for different reasons, then every failing line is reported and none passes', () => {
    const check = checkReservation(
      [{ productId: 'A', quantity: 1 }, { productId: 'B', quantity: 4 }, { productId: 'C', quantity: 1 }, { productId: 'D', quantity: 1 }, { productId: 'E', quantity: 1 }],
      rows(row('A', 9), row('B', 3), row('D', 5, { isActive: false }), row('E', 5, { isActive: false, isDiscontinued: true })),
    )
    expect(check).toEqual({
      ok: false,
      failedItems: [
        { productId: 'B', requested: 4, available: 3, reason: 'INSUFFICIENT' },
        { productId: 'C', requested: 1, available: 0, reason: 'UNKNOWN' },
        { productId: 'D', requested: 1, available: 5, reason: 'INACTIVE' },
        { productId: 'E', requested: 1, available: 5, reason: 'DISCONTINUED' },
      ],
    })
  })
})

describe('lowStockAlert', () => {
  const v = (available: number, min: number | null = 10) => ({ productId: 'A', availableQuantity: available, minStockLevel: min })
  it('when stock falls from above the minimum to it, then an alert', () => {
    expect(lowStockAlert(v(11), v(10))).toEqual({ productId: 'A', available: 10, minStockLevel: 10 })
  })
  it('when stock was already at or below the minimum, then no second alert', () => {
    expect(lowStockAlert(v(10), v(5))).toBeNull()
  })
  it('when there is no minimum or stock stays above it, then no alert', () => {
    expect(lowStockAlert(v(20, null), v(0, null))).toBeNull()
    expect(lowStockAlert(v(20), v(11))).toBeNull()
  })
  it('when the minimum is raised above the stock, then the product crosses into low stock', () => {
    expect(lowStockAlert(v(15, 10), v(15, 20))).toEqual({ productId: 'A', available: 15, minStockLevel: 20 })
  })
})

describe('applyItemPatch', () => {
  const item: ItemState = {
    productName: 'X', description: null, availableQuantity: 5, unitPriceCents: 100, category: null,
    minStockLevel: 2, maxStockLevel: 10, reorderQuantity: 5, isActive: true, isDiscontinued: false,
  }
  it('when a product is discontinued, then it is also deactivated', () => {
    const r = applyItemPatch(item, { isDiscontinued: true })
    expect(r.ok && r.next).toMatchObject({ isDiscontinued: true, isActive: false })
  })
  it('when a discontinued product is un-discontinued, then it is active again', () => {
    const r = applyItemPatch({ ...item, isActive: false, isDiscontinued: true }, { isDiscontinued: false })
    expect(r.ok && r.next).toMatchObject({ isDiscontinued: false, isActive: true })
  })
  it('when a discontinued product is made active, then the patch is refused', () => {
    expect(applyItemPatch({ ...item, isActive: false, isDiscontinued: true }, { isActive: true }).ok).toBe(false)
  })
  it('when min would exceed max, then the patch is refused', () => {
    expect(applyItemPatch(item, { minStockLevel: 11 })).toEqual({ ok: false, problem: expect.stringContaining('minStockLevel') })
  })
  it('when fields are null, then they are left as they are', () => {
    expect(applyItemPatch(item, { productName: null, minStockLevel: null })).toEqual({ ok: true, next: item, changed: [] })
  })
  it('when reorder is needed, then only below the minimum with a reorder quantity', () => {
    expect(needsReordering(2, 2, 5)).toBe(true)
    expect(needsReordering(2, 2, 0)).toBe(false)
    expect(needsReordering(3, 2, 5)).toBe(false)
  })
})

describe('adjustmentProblem', () => {
  it('when the sign does not match the reason, then it is refused', () => {
    expect(adjustmentProblem(5, -1, 'RECEIVED')?.kind).toBe('sign')
    expect(adjustmentProblem(5, 1, 'WRITE_OFF')?.kind).toBe('sign')
  })
  it('when stock would go negative, then it is refused', () => {
    expect(adjustmentProblem(5, -6, 'CORRECTION')?.kind).toBe('negative')
    expect(adjustmentProblem(5, -5, 'WRITE_OFF')).toBeNull()
  })
})
