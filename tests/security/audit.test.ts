// The audit trail: every privileged change names who made it. Order and saga operations write an `audit` log line
// (actor, action, id); stock changes are rows of the item's adjustment history with their actor.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/stack.ts'
import { fixtures, send, token } from './support.ts'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const make = fixtures('audit')
const subjects = { customer: randomUUID(), operator: `security-audit-operator-${randomUUID().slice(0, 8)}`, admin: `security-audit-admin-${randomUUID().slice(0, 8)}` }
const tokens = { customer: '', operator: '', admin: '' }
let product: string

beforeAll(async () => {
  tokens.customer = await token(['customer'], subjects.customer)
  tokens.operator = await token(['operator'], subjects.operator)
  tokens.admin = await token(['admin'], subjects.admin)
  product = await make.newProduct(10_000, 3)
  await make.newOrder(subjects.customer, product) // waits for the catalogue replica
}, 120_000)

/** The audit line of a service log that mentions every one of the given strings (waits for the write: a loaded
 *  machine can take a while to get to it, and a line that never comes fails the caller's expectation anyway). */
async function auditLine(service: string, ...mentions: string[]) {
  return eventually(async () => {
    const log = await readFile(`${repo}/.stack/logs/${service}.log`, 'utf8')
    return log.split('\n').find((line) => line.includes('"audit"') && mentions.every((m) => line.includes(m)))
  }, 30_000, `an audit line in ${service}.log mentioning ${mentions.join(', ')}`).catch(() => undefined)
}

describe('audit trail', () => {
  it('when a customer places and cancels an order, then both are audited with the customer as actor', async () => {
    const placed = await send('orders', 'POST', '/api/orders', { token: tokens.customer, body: { customerId: subjects.customer, address: { streetAddress: '1 Audit Way', city: 'Springfield', postalCode: '62701', country: 'US' }, items: [{ productId: product, quantity: 1 }] } })
    expect(placed.status).toBe(201)
    expect(await auditLine('orders', 'order.create', placed.body.id, subjects.customer)).toBeDefined()
    expect([200, 202]).toContain((await send('orders', 'DELETE', `/api/orders/${placed.body.id}`, { token: tokens.customer })).status)
    expect(await auditLine('orders', 'order.cancel', placed.body.id, subjects.customer)).toBeDefined()
  })

  it("when an operator changes an order's status, then it is audited with the operator as actor", async () => {
    const order = await make.newOrder(subjects.customer, product)
    const res = await send('orders', 'PUT', `/api/orders/${order.id}/status`, { token: tokens.operator, body: { newStatus: 'CONFIRMED' } })
    expect(res.status).toBe(200)
    expect(await auditLine('orders', 'order.status', order.id, subjects.operator)).toBeDefined()
    const history = await send('orders', 'GET', `/api/orders/${order.id}/history`, { token: tokens.operator })
    expect(history.body.entries.some((e: { actor: string | null }) => e.actor === subjects.operator)).toBe(true)
  })

  it('when an admin forces the compensation of a saga, then it is audited with the admin as actor', async () => {
    const order = await make.newOrder(subjects.customer, product)
    const saga = await make.sagaOf(order.id)
    const res = await send('orders', 'POST', `/api/sagas/${saga}/compensate`, { token: tokens.admin, body: { reason: 'audit test' } })
    expect([202, 409]).toContain(res.status)
    if (res.status === 202) expect(await auditLine('orders', 'saga.compensate', saga, subjects.admin)).toBeDefined()
  })

  it("when an admin adjusts stock or sets availableQuantity, then the item's adjustment history names the admin", async () => {
    const productId = await make.newProduct(10)
    expect((await send('inventory', 'POST', `/api/inventory/items/${productId}/adjustments`, { token: tokens.admin, body: { quantity: 5, reason: 'RECEIVED' } })).status).toBe(201)
    expect((await send('inventory', 'PUT', `/api/inventory/items/${productId}`, { token: tokens.admin, body: { availableQuantity: 3 } })).status).toBe(200)
    const trail = await send('inventory', 'GET', `/api/inventory/items/${productId}/adjustments`, { token: tokens.operator })
    expect(trail.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'RECEIVED', quantity: 5, actor: subjects.admin }),
        expect.objectContaining({ reason: 'CORRECTION', quantity: -12, actor: subjects.admin }),
      ]),
    )
  })

  it("when an operator changes an item's price, then the change is audited with the operator as actor", async () => {
    const productId = await make.newProduct(10)
    expect((await send('inventory', 'PUT', `/api/inventory/items/${productId}`, { token: tokens.operator, body: { unitPrice: 0.01 } })).status).toBe(200)
    expect(await auditLine('inventory', productId, subjects.operator)).toBeDefined()
  })

  it('when an operator deletes an item, then the deletion is audited with the operator as actor', async () => {
    const productId = await make.newProduct(10)
    expect((await send('inventory', 'DELETE', `/api/inventory/items/${productId}`, { token: tokens.operator })).status).toBe(204)
    expect(await auditLine('inventory', productId, subjects.operator)).toBeDefined()
  })
})
