// Loads the sample catalogue (the original's five products) into the inventory database. Idempotent.
import { createDb } from '@trackops/runtime'
import { seedSampleData } from '../services/inventory/src/sample-data.ts'
import type { InventoryDb } from '../services/inventory/src/inventory-db.ts'

const url = process.env.INVENTORY_DATABASE_URL ?? 'postgres://inventory_svc:inventory_dev_pw@127.0.0.1:5432/trackops_inventory'
const db = createDb<InventoryDb>(url, { max: 1 })
try {
  const inserted = await seedSampleData(db)
  console.log(`  sample products: ${inserted} inserted (existing ones are left as they are)`)
} finally {
  await db.destroy()
}
