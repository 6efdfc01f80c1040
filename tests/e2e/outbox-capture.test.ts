// The relay's outbox stats against the running stack under its default strategy (debezium): what each outbox
// connector captured, read from Kafka Connect and from the replication slots themselves. Nothing marks rows
// published under debezium, so a placed order must show up as the slot's confirmed position moving past its
// commit, not as an "unpublished" row.
import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { testEnv, tokenFor } from '../support/env.ts'
import { api, createProduct, eventually, placeOrder } from '../support/stack.ts'

interface CaptureSource {
  source: string
  connector: { name: string; state: string; tasks: { state: string }[] }
  slot: { name: string; active: boolean; confirmedFlushLsn: string | null; currentWalLsn: string; lagBytes: number | null } | null
  retained: { rows: number; oldestAgeSeconds: number | null } | null
}
interface Stats {
  strategy: string
  publisher: string
  sources: CaptureSource[]
}

const lsn = (text: string) => {
  const [hi = '0', lo = '0'] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

async function stats(): Promise<Stats> {
  const res = await api<Stats>('relay', 'GET', '/api/events/stats', { token: await tokenFor('operator', 'e2e-outbox-capture') })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  return res.body
}

describe('outbox capture under debezium', () => {
  it('when an order is placed, then the orders outbox connector runs and its slot confirms a WAL position past the order\'s commit', async () => {
    const first = await stats()
    expect(first.strategy, 'the stack runs its default strategy (npm run strategy -- debezium)').toBe('debezium')
    expect(first.publisher).toBe('debezium')
    for (const s of first.sources) {
      expect(s.connector, s.source).toMatchObject({ name: `trackops-${s.source}-outbox`, state: 'RUNNING', tasks: [{ state: 'RUNNING' }] })
      expect(s.slot, s.source).toMatchObject({ name: `trackops_${s.source}_outbox`, active: true })
      expect(s).not.toHaveProperty('unpublished')
    }

    const productId = await createProduct({ stock: 5 })
    const { order } = await placeOrder({ items: [{ productId, quantity: 1 }] })
    // The order and its ORDER_CREATED outbox row are committed: the WAL now reaches at least this position.
    const db = new pg.Client({ connectionString: testEnv.ordersDb })
    await db.connect()
    let committedBy: bigint
    try {
      committedBy = lsn((await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn)
    } finally {
      await db.end()
    }
    expect(order.id).toBeTruthy()

    const captured = await eventually(async () => {
      const orders = (await stats()).sources.find((s) => s.source === 'orders')
      return orders?.slot?.confirmedFlushLsn && lsn(orders.slot.confirmedFlushLsn) >= committedBy ? orders : undefined
    }, 60_000, 'the orders outbox slot to confirm the order\'s commit')
    expect(captured.retained!.rows).toBeGreaterThanOrEqual(1) // its outbox row, kept for pruning
    expect(captured.slot!.lagBytes).toBe(Number(lsn(captured.slot!.currentWalLsn) - lsn(captured.slot!.confirmedFlushLsn!)))
  })
})
