import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import type { RowChange } from '@trackops/messaging'
import { createCatalogChangeHandler } from '../src/catalog-changes.ts'
import { address, createTestApp, createTestDb, operator } from './support.ts'

const db = createTestDb()
const handle = createCatalogChangeHandler({ db, logger: pino({ level: 'silent' }) })
let app: App

beforeAll(async () => {
  ;({ app } = await createTestApp(db))
})
afterAll(async () => {
  await app.close()
  await db.destroy()
})

/** An inventory_items row as the Debezium connector sends it (numeric as string, timestamps as ISO strings). */
function inventoryRow(productId: string, patch: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    product_id: productId,
    product_name: 'Noise-cancelling headphones',
    description: 'Over-ear',
    available_quantity: 40,
    reserved_quantity: 2,
    unit_price: '199.99',
    category: 'audio',
    min_stock_level: 5,
    max_stock_level: 100,
    reorder_quantity: 20,
    is_active: true,
    is_discontinued: false,
    created_at: '2026-01-05T10:00:00.000000Z',
    updated_at: '2026-01-05T10:00:00.000000Z',
    version: 1,
    ...patch,
  }
}

const change = (op: RowChange['op'], before: Record<string, unknown> | null, after: Record<string, unknown> | null): RowChange => ({
  op,
  before,
  after,
  committedAt: Date.now(),
  lsn: null,
  topic: 'trackops_inventory.public.inventory_items',
  key: JSON.stringify({ id: (after ?? before)?.id }),
})

const product = (productId: string) => db.selectFrom('catalog_products').selectAll().where('product_id', '=', productId).executeTakeFirst()

const order = async (productId: string) =>
  app.inject({ method: 'POST', url: '/api/orders', headers: { authorization: await operator() }, payload: { customerId: randomUUID(), address: address(), items: [{ productId, quantity: 1 }] } })

describe('the product-catalog replica', () => {
  it('when a product is created, then it is replicated with its price in cents and becomes orderable', async () => {
    const pid = `T-${randomUUID()}`
    const row = inventoryRow(pid)
    await handle(change('c', null, row))
    expect(await product(pid)).toEqual({
      product_id: pid,
      inventory_item_id: row.id,
      product_name: 'Noise-cancelling headphones',
      unit_price_cents: 19999,
      is_active: true,
      is_discontinued: false,
      version: 1,
      updated_at: new Date('2026-01-05T10:00:00.000Z'),
    })
    const res = await order(pid)
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().totalAmount).toBe(199.99)
  })

  it('when a newer version arrives, then it wins; when an older or the same version arrives late, then it is ignored', async () => {
    const pid = `T-${randomUUID()}`
    const v1 = inventoryRow(pid)
    await handle(change('c', null, v1))
    await handle(change('u', null, { ...v1, unit_price: '149.50', version: 3 }))
    expect((await product(pid))?.unit_price_cents).toBe(14950)
    await handle(change('u', null, { ...v1, unit_price: '120.00', version: 2 }))
    await handle(change('u', null, { ...v1, unit_price: '1.00', product_name: 'Stale', version: 3 }))
    expect(await product(pid)).toMatchObject({ unit_price_cents: 14950, version: 3, product_name: 'Noise-cancelling headphones' })
    await handle(change('u', null, { ...v1, unit_price: '99', version: 4 }))
    expect(await product(pid)).toMatchObject({ unit_price_cents: 9900, version: 4 })
  })

  it('when the same change is applied twice, then the replica is the same', async () => {
    const pid = `T-${randomUUID()}`
    const c = change('c', null, inventoryRow(pid, { version: 5 }))
    await handle(c)
    const once = await product(pid)
    await handle(c)
    expect(await product(pid)).toEqual(once)
  })

  it('when a snapshot read arrives, then it is applied like a create', async () => {
    const pid = `T-${randomUUID()}`
    await handle(change('r', null, inventoryRow(pid, { unit_price: '5.5' })))
    expect((await product(pid))?.unit_price_cents).toBe(550)
  })

  it('when a product is deactivated or discontinued, then an order for it is 422 naming its line', async () => {
    const inactive = `T-${randomUUID()}`
    const row = inventoryRow(inactive)
    await handle(change('c', null, row))
    await handle(change('u', null, { ...row, is_active: false, version: 2 }))
    const r1 = await order(inactive)
    expect(r1.statusCode).toBe(422)
    expect(r1.json().errors).toEqual([{ field: 'items[0].productId', message: 'is inactive (not available for sale)' }])

    const gone = `T-${randomUUID()}`
    const row2 = inventoryRow(gone)
    await handle(change('c', null, row2))
    await handle(change('u', null, { ...row2, is_active: false, is_discontinued: true, version: 2 }))
    expect((await order(gone)).json().errors).toEqual([{ field: 'items[0].productId', message: 'is discontinued' }])
  })

  it('when the inventory row is deleted (only its id known), then the product is marked inactive, not removed', async () => {
    const pid = `T-${randomUUID()}`
    const row = inventoryRow(pid, { version: 4 })
    await handle(change('c', null, row))
    await handle(change('d', { id: row.id, product_id: null, version: null }, null))
    expect(await product(pid)).toMatchObject({ is_active: false, version: 4, unit_price_cents: 19999 })
    expect((await order(pid)).statusCode).toBe(422)
  })

  it('when a deleted product is created again as a new inventory row, then the new row is replicated from its version 1', async () => {
    const pid = `T-${randomUUID()}`
    const old = inventoryRow(pid, { version: 9 })
    await handle(change('c', null, old))
    await handle(change('d', { id: old.id }, null))
    const fresh = inventoryRow(pid, { unit_price: '10.00', version: 1 })
    await handle(change('c', null, fresh))
    expect(await product(pid)).toMatchObject({ inventory_item_id: fresh.id, is_active: true, unit_price_cents: 1000, version: 1 })
  })

  it('when a change lacks the price or version, then it is skipped without failing the stream', async () => {
    const pid = `T-${randomUUID()}`
    await expect(handle(change('c', null, inventoryRow(pid, { unit_price: null })))).resolves.toBeUndefined()
    await expect(handle(change('c', null, inventoryRow(pid, { version: 'x' })))).resolves.toBeUndefined()
    expect(await product(pid)).toBeUndefined()
  })

  it('when an update carries no timestamp, then the commit time is used', async () => {
    const pid = `T-${randomUUID()}`
    const c = change('c', null, inventoryRow(pid, { updated_at: null }))
    await handle(c)
    expect((await product(pid))?.updated_at.getTime()).toBe(c.committedAt)
  })
})
