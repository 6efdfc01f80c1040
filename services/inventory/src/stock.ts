// Stock rules, pure: no I/O, no clock. Money is integer cents here; decimals exist only at the HTTP edge.

export type FailureReason = 'UNKNOWN' | 'INACTIVE' | 'DISCONTINUED' | 'INSUFFICIENT'
export type ReservationStatus = 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED'
export type AdjustmentReason = 'RECEIVED' | 'WRITE_OFF' | 'CORRECTION'

export interface Line {
  productId: string
  quantity: number
}

export interface FailedItem {
  productId: string
  requested: number
  available: number
  reason: FailureReason
}

export interface PricedLine extends Line {
  productName: string
  unitPriceCents: number
}

/** The stock-relevant part of an item, as read under its row lock. */
export interface StockRow {
  productId: string
  productName: string
  availableQuantity: number
  unitPriceCents: number
  isActive: boolean
  isDiscontinued: boolean
  minStockLevel: number | null
}

/** Code-unit order: the one order in which product rows are locked (SQL: ORDER BY product_id COLLATE "C"). */
export const byProductId = (a: { productId: string }, b: { productId: string }) =>
  a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0

/** Sums the lines of each product (two lines of one product must be checked against stock together). */
export function aggregateLines(lines: readonly Line[]): Line[] {
  const totals = new Map<string, number>()
  for (const line of lines) totals.set(line.productId, (totals.get(line.productId) ?? 0) + line.quantity)
  return [...totals].map(([productId, quantity]) => ({ productId, quantity })).sort(byProductId)
}

export type ReservationCheck = { ok: true; lines: PricedLine[] } | { ok: false; failedItems: FailedItem[] }

/** All or nothing: every aggregated line must be satisfiable, otherwise every failing line is reported. */
export function checkReservation(lines: readonly Line[], rows: ReadonlyMap<string, StockRow>): ReservationCheck {
  const failedItems: FailedItem[] = []
  const priced: PricedLine[] = []
  for (const line of lines) {
    const row = rows.get(line.productId)
    const reason: FailureReason | null =
      !row ? 'UNKNOWN'
      : row.isDiscontinued ? 'DISCONTINUED'
      : !row.isActive ? 'INACTIVE'
      : row.availableQuantity < line.quantity ? 'INSUFFICIENT'
      : null
    if (reason) failedItems.push({ productId: line.productId, requested: line.quantity, available: row?.availableQuantity ?? 0, reason })
    else if (row) priced.push({ ...line, productName: row.productName, unitPriceCents: row.unitPriceCents })
  }
  return failedItems.length ? { ok: false, failedItems } : { ok: true, lines: priced }
}

export const expiryOf = (now: Date, ttlSeconds: number) => new Date(now.getTime() + ttlSeconds * 1000)

/** Derived stock flags, as the original's InventoryItemResponse carried them. */
export const isLowStock = (available: number, min: number | null) => min !== null && available <= min
export const isOutOfStock = (available: number) => available <= 0
export const needsReordering = (available: number, min: number | null, reorderQuantity: number | null) =>
  isLowStock(available, min) && (reorderQuantity ?? 0) > 0

export interface LowStockView {
  productId: string
  availableQuantity: number
  minStockLevel: number | null
}

/** LOW_STOCK data when a change moves the product from above its minimum to at-or-below it; otherwise null. */
export function lowStockAlert(before: LowStockView, after: LowStockView) {
  if (after.minStockLevel === null || !isLowStock(after.availableQuantity, after.minStockLevel)) return null
  if (isLowStock(before.availableQuantity, before.minStockLevel)) return null
  return { productId: after.productId, available: after.availableQuantity, minStockLevel: after.minStockLevel }
}

/** The fields an operator maintains on an item, declared once: the store's Item and NewItem derive from them. */
export interface ItemState {
  productName: string
  description: string | null
  availableQuantity: number
  unitPriceCents: number
  category: string | null
  minStockLevel: number | null
  maxStockLevel: number | null
  reorderQuantity: number | null
  isActive: boolean
  isDiscontinued: boolean
}

/** Fields a PUT may change; absent (or null, like the original) means "leave as it is". */
export type ItemPatch = { [K in keyof ItemState]?: ItemState[K] | null }

export function stockLevelsProblem(min: number | null, max: number | null): string | null {
  return min !== null && max !== null && min > max ? `minStockLevel (${min}) must not be greater than maxStockLevel (${max}).` : null
}

export type PatchResult = { ok: true; next: ItemState; changed: (keyof ItemState)[] } | { ok: false; problem: string }

/**
 * Applies a partial update. isDiscontinued=true also deactivates; isDiscontinued=false reactivates (the original's
 * discontinue()/reactivate()) unless isActive=false is sent with it. A discontinued product cannot be active.
 */
export function applyItemPatch(current: ItemState, patch: ItemPatch): PatchResult {
  const next: ItemState = { ...current }
  for (const key of Object.keys(patch) as (keyof ItemState)[]) {
    const value = patch[key]
    if (value !== undefined && value !== null) (next as unknown as Record<string, unknown>)[key] = value
  }
  if (patch.isDiscontinued === true) next.isActive = false
  if (patch.isDiscontinued === false && current.isDiscontinued) next.isActive = patch.isActive ?? true
  if (next.isDiscontinued && next.isActive) return { ok: false, problem: 'A discontinued product cannot be active; send isDiscontinued: false to reactivate it.' }
  const levels = stockLevelsProblem(next.minStockLevel, next.maxStockLevel)
  if (levels) return { ok: false, problem: levels }
  const changed = (Object.keys(next) as (keyof ItemState)[]).filter((k) => next[k] !== current[k])
  return { ok: true, next, changed }
}

/** Why an adjustment cannot be applied to the available stock, or null. */
export function adjustmentProblem(available: number, quantity: number, reason: AdjustmentReason): { kind: 'sign' | 'negative'; message: string } | null {
  if (reason === 'RECEIVED' && quantity < 0) return { kind: 'sign', message: 'RECEIVED adds stock: send a positive quantity.' }
  if (reason === 'WRITE_OFF' && quantity > 0) return { kind: 'sign', message: 'WRITE_OFF removes stock: send a negative quantity (e.g. -3).' }
  if (available + quantity < 0) {
    return { kind: 'negative', message: `Only ${available} unit(s) are available (reserved stock cannot be adjusted); removing ${-quantity} would make stock negative.` }
  }
  return null
}
