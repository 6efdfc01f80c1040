// Pricing, pure: an order's lines (one per product) priced from the catalog replica.
import type { Line, OrderItem } from './order.ts'

export interface CatalogProduct {
  productId: string
  productName: string
  unitPriceCents: number
  isActive: boolean
  isDiscontinued: boolean
}

export type PricingProblem = { productId: string; reason: 'unknown' | 'inactive' | 'discontinued' }

/** One line per product, quantities summed, in the order products first appear. */
export function mergeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>()
  for (const line of lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity)
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }))
}

export function priceLines(
  lines: readonly Line[],
  catalog: ReadonlyMap<string, CatalogProduct>,
): { ok: true; items: OrderItem[]; totalCents: number } | { ok: false; problems: PricingProblem[] } {
  const problems: PricingProblem[] = []
  const items: OrderItem[] = []
  for (const line of lines) {
    const product = catalog.get(line.productId)
    if (!product) problems.push({ productId: line.productId, reason: 'unknown' })
    else if (product.isDiscontinued) problems.push({ productId: line.productId, reason: 'discontinued' })
    else if (!product.isActive) problems.push({ productId: line.productId, reason: 'inactive' })
    else {
      items.push({
        productId: product.productId,
        productName: product.productName,
        quantity: line.quantity,
        unitPriceCents: product.unitPriceCents,
        totalCents: product.unitPriceCents * line.quantity,
      })
    }
  }
  if (problems.length) return { ok: false, problems }
  return { ok: true, items, totalCents: items.reduce((sum, i) => sum + i.totalCents, 0) }
}
