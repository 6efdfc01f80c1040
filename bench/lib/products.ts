// The bench's products, created once with large stock and reused by later runs, and the order the bench places on
// one of them.
import { adminSql } from './pg.ts'
import { sleep } from './progress.ts'
import { address, adminToken, getJson, url } from './stack.ts'

export const BENCH_STOCK = 10_000_000

/**
 * The bench's products (BENCH-LOAD-01 …), created once with large stock and reused by later runs; returns when the
 * orders' catalogue replica holds all of them. Orders spread over several products, as real ones do, so stock
 * reservations do not all queue on one inventory row.
 */
export async function ensureProducts(count: number): Promise<string[]> {
  const token = await adminToken()
  const ids = Array.from({ length: count }, (_, i) => `BENCH-LOAD-${String(i + 1).padStart(2, '0')}`)
  for (const productId of ids) {
    const got = await getJson<{ availableQuantity?: number }>(`${url('inventory')}/api/inventory/items/${productId}`, { headers: { authorization: token } })
    if (got.status === 200 && (got.body.availableQuantity ?? 0) >= BENCH_STOCK / 10) continue
    if (got.status === 200) {
      const r = await getJson(`${url('inventory')}/api/inventory/items/${productId}/adjustments`, {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ quantity: BENCH_STOCK, reason: 'RECEIVED', note: 'bench restock' }),
      })
      if (r.status !== 201) throw new Error(`restocking ${productId}: ${r.status} ${JSON.stringify(r.body)}`)
      continue
    }
    const r = await getJson(`${url('inventory')}/api/inventory/items`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json' },
      body: JSON.stringify({ productId, productName: `Bench load product ${productId.slice(-2)}`, availableQuantity: BENCH_STOCK, unitPrice: 10, category: 'BENCH', minStockLevel: 0 }),
    })
    if (r.status !== 201) throw new Error(`creating ${productId}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  const deadline = Date.now() + 120_000
  for (;;) {
    const rows = await adminSql('trackops_orders', `SELECT count(*)::int AS n FROM catalog_products WHERE product_id = ANY($1) AND is_active`, [ids])
    if ((rows[0]?.n as number) === ids.length) return ids
    if (Date.now() > deadline) throw new Error('bench products did not reach the orders catalogue replica within 120 s (is the inventory CDC connector running?)')
    await sleep(500)
  }
}

export const orderBody = (customerId: string, productId: string) => ({ customerId, address, items: [{ productId, quantity: 1 }] })
