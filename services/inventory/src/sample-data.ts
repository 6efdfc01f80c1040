// The original's five demo products, for local stacks and demos. Loaded by the stack's seed command
// (scripts/seed.ts), never at service start. Idempotent: products that exist are left as they are.
import { randomUUID } from 'node:crypto'
import type { Db } from './inventory-db.ts'
import { createItem } from './manage-items.ts'

export const sampleItems = [
  { productId: 'PROD-001', productName: 'Wireless Headphones', description: 'Over-ear wireless headphones with noise cancellation', availableQuantity: 50, unitPriceCents: 19999, category: 'Electronics' },
  { productId: 'PROD-002', productName: 'Smart Watch', description: 'Fitness tracking smart watch', availableQuantity: 30, unitPriceCents: 29999, category: 'Electronics' },
  { productId: 'PROD-003', productName: 'Coffee Maker', description: 'Programmable drip coffee maker', availableQuantity: 25, unitPriceCents: 8999, category: 'Appliances' },
  { productId: 'PROD-004', productName: 'Running Shoes', description: 'Lightweight running shoes', availableQuantity: 100, unitPriceCents: 12999, category: 'Sports' },
  { productId: 'PROD-005', productName: 'Laptop Stand', description: 'Ergonomic aluminium laptop stand', availableQuantity: 75, unitPriceCents: 4999, category: 'Accessories' },
].map((i) => ({ ...i, minStockLevel: 10, maxStockLevel: 500, reorderQuantity: 50 }))

/** Creates the sample products that do not exist yet; returns how many it created. */
export async function seedSampleData(db: Db, opts: { now?: () => Date; newId?: () => string } = {}): Promise<number> {
  const deps = { now: opts.now ?? (() => new Date()), newId: opts.newId ?? randomUUID }
  let created = 0
  for (const item of sampleItems) {
    const outcome = await createItem(db, deps, item, 'seed')
    if (outcome.ok) created++
  }
  return created
}
