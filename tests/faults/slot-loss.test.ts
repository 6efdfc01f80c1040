// A replication slot lost for good: the orders outbox connector stops, orders are placed (their events wait in the
// outbox), and more WAL than max_slot_wal_keep_size allows is written, so PostgreSQL invalidates the slot at the next
// checkpoint. Health says so; `bash infra/stack.sh slots-recover` makes a new slot, has the relay publish what the
// outbox still holds (pruning kept all of it meanwhile) and registers the connector again — and the orders placed
// while the slot was being lost complete, each applied once.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../support/env.ts'
import { admin, api, createProduct, eventually, placeOrder, publishedBy, waitForStatus } from '../support/stack.ts'

const run = promisify(execFile)
const CONNECTOR = 'trackops-orders-outbox'
const SLOT = 'trackops_orders_outbox'
const BOUND = '48MB'
const BOUND_BYTES = 48 * 2 ** 20
const FILLER_DB = 'trackops_slot_loss_test'

const server = new pg.Client({ connectionString: testEnv.adminDb })
let boundBefore = ''

const connect = (path: string, method = 'GET') => fetch(`${testEnv.connectUrl}${path}`, { method, signal: AbortSignal.timeout(30_000) })
const connectorState = async () => ((await (await connect(`/connectors/${CONNECTOR}/status`)).json()) as { connector: { state: string }; tasks: { state: string }[] })
const slots = async () => (await server.query<{ slot_name: string; active: boolean; wal_status: string; retained: string }>(
  `SELECT slot_name, active, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained FROM pg_replication_slots`)).rows

/** Whatever happened, the stack is left as the next test needs it: the bound back, the connector running on a slot. */
async function heal() {
  await server.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '${boundBefore}'`)
  await server.query('SELECT pg_reload_conf()')
  const state = await connectorState().catch(() => null)
  if ((await slots()).some((s) => s.slot_name === SLOT && s.wal_status === 'lost')) await run('bash', ['infra/stack.sh', 'slots-recover'], { timeout: 300_000 })
  else if (state?.connector.state !== 'RUNNING') await connect(`/connectors/${CONNECTOR}/resume`, 'PUT')
}

beforeAll(async () => {
  await server.connect()
  boundBefore = (await server.query<{ v: string }>(`SELECT current_setting('max_slot_wal_keep_size') AS v`)).rows[0]!.v
  await server.query(`DROP DATABASE IF EXISTS ${FILLER_DB}`)
  await server.query(`CREATE DATABASE ${FILLER_DB}`)
})
afterAll(async () => {
  await heal().catch((error: unknown) => console.error('slot-loss: healing the stack failed', error))
  await server.query(`DROP DATABASE IF EXISTS ${FILLER_DB}`).catch(() => undefined)
  await server.end()
}, 360_000)

describe('a lost replication slot', () => {
  it('when the orders outbox slot is invalidated past its WAL bound, then health says so, slots-recover brings the connector back on a new slot and the orders placed meanwhile complete, each once', async () => {
    await publishedBy('debezium')
    const productId = await createProduct({ stock: 1_000, price: 2 })
    const warm = await placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_visa' })
    await waitForStatus(warm.order.id, ['CONFIRMED'], 120_000)

    // 1. The connector stops: nothing reads the slot any more, and its WAL is kept — up to the bound.
    await server.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '${BOUND}'`)
    await server.query('SELECT pg_reload_conf()')
    expect((await connect(`/connectors/${CONNECTOR}/stop`, 'PUT')).ok).toBe(true)
    await eventually(async () => (await connectorState()).connector.state === 'STOPPED', 60_000, 'the connector to stop')
    await eventually(async () => (await slots()).find((s) => s.slot_name === SLOT)?.active === false, 30_000, 'the slot to be released')

    // 2. Orders placed now wait in the outbox: their ORDER_CREATED and RESERVE_INVENTORY are written, not published.
    const waiting = await Promise.all([1, 2, 3].map(() => placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_visa' })))
    const ordersDb = new pg.Client({ connectionString: testEnv.adminDb.replace(/\/[^/]*$/, '/trackops_orders') })
    await ordersDb.connect()
    try {
      const held = await ordersDb.query(`SELECT count(*)::int AS n FROM outbox WHERE aggregateid = ANY($1)`, [waiting.map((w) => w.order.id)])
      expect(held.rows[0].n).toBeGreaterThanOrEqual(6)

      // 3. More WAL than the bound, elsewhere; once every other slot has caught up past it, a checkpoint drops ours.
      const filler = new pg.Client({ connectionString: testEnv.adminDb.replace(/\/[^/]*$/, `/${FILLER_DB}`) })
      await filler.connect()
      try {
        await filler.query('CREATE TABLE IF NOT EXISTS filler (payload text)')
        await filler.query(`INSERT INTO filler SELECT repeat(md5(g::text), 40) FROM generate_series(1, 100000) g`) // ≈ 130 MB of WAL
      } finally {
        await filler.end()
      }
      await server.query('SELECT pg_switch_wal()')
      await eventually(async () => (await slots()).filter((s) => s.slot_name !== SLOT && s.wal_status !== 'lost').every((s) => Number(s.retained) < BOUND_BYTES / 3), 120_000, 'the running connectors to confirm past the filler WAL')
      const ours = (await slots()).find((s) => s.slot_name === SLOT)!
      expect(Number(ours.retained)).toBeGreaterThan(BOUND_BYTES)
      await eventually(async () => {
        await server.query('CHECKPOINT')
        return (await slots()).find((s) => s.slot_name === SLOT)?.wal_status === 'lost'
      }, 30_000, `slot ${SLOT} to be invalidated`)
      for (const s of await slots()) if (s.slot_name !== SLOT) expect(s.wal_status, `slot ${s.slot_name}`).not.toBe('lost')

      // 4. Health names the lost slot; the outbox still holds every row the connector never read (pruning waits).
      const health = await api('orders', 'GET', '/actuator/health', { token: await admin() })
      expect(health.body.components.replicationSlots).toMatchObject({ status: 'DOWN', details: { lost: [SLOT] } })

      // 5. One command: a new slot, the outbox published again by the relay, the connector registered on it.
      const { stdout } = await run('bash', ['infra/stack.sh', 'slots-recover'], { timeout: 300_000 })
      expect(stdout).toMatch(/trackops_orders_outbox is lost/)
      expect(stdout).toMatch(/relay published the orders outbox again: \d+ rows/)
      const after = (await slots()).find((s) => s.slot_name === SLOT)
      expect(after).toMatchObject({ wal_status: 'reserved', active: true })
      expect((await connectorState()).connector.state).toBe('RUNNING')

      // 6. The orders that waited complete, each applied once; a new order flows through the new slot.
      for (const w of waiting) await waitForStatus(w.order.id, ['CONFIRMED'], 180_000)
      const fresh = await placeOrder({ items: [{ productId, quantity: 1 }], token: 'tok_visa' })
      await waitForStatus(fresh.order.id, ['CONFIRMED'], 120_000)
      const ids = [...waiting.map((w) => w.order.id), fresh.order.id]
      const twice = await ordersDb.query(`SELECT order_id FROM order_history WHERE order_id = ANY($1) GROUP BY order_id, to_status HAVING count(*) > 1`, [ids])
      expect(twice.rows).toEqual([])
      const payments = new pg.Client({ connectionString: testEnv.paymentsDb })
      await payments.connect()
      try {
        const charges = await payments.query(`SELECT count(*)::int AS n FROM gateway_sandbox_charges WHERE operation = 'charge' AND idempotency_key = ANY($1)`, [ids.map((id) => `charge:${id}`)])
        expect(charges.rows[0].n).toBe(ids.length)
      } finally {
        await payments.end()
      }
      // stock moved once per order: nothing left reserved, every unit sold once
      const settled = await eventually(async () => {
        const item = await api('inventory', 'GET', `/api/inventory/items/${productId}`, { token: await admin() })
        return item.body?.reservedQuantity === 0 ? item.body : undefined
      }, 60_000, 'the reservations to be committed')
      expect(settled).toMatchObject({ soldQuantity: 1 + ids.length, availableQuantity: 1_000 - 1 - ids.length })
    } finally {
      await ordersDb.end()
    }
  }, 900_000)
})
