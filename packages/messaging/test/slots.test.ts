// The WAL a database's replication slots keep, against real PostgreSQL: health and metrics name each slot of the
// service's own database with what it retains and what it may still add under max_slot_wal_keep_size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql, type Kysely } from 'kysely'
import client from 'prom-client'
import { registerTableMetrics } from '@trackops/runtime'
import { replicationSlotsComponent } from '../src/index.ts'
import { logger, scratchDatabase, type TestDb } from './support.ts'

const SLOT = 'trackops_slots_test'
let db: Kysely<TestDb>
let drop: () => Promise<void>

beforeAll(async () => {
  ;({ db, drop } = await scratchDatabase('trackops_slots_test'))
  await sql`SELECT pg_create_logical_replication_slot(${SLOT}, 'pgoutput')`.execute(db)
})
afterAll(async () => {
  // A slot left behind would keep WAL: always drop it.
  await sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${SLOT}`.execute(db).catch(() => undefined)
  await drop?.()
})

interface SlotDetails {
  walStatus: string
  retainedWalBytes: number
  safeWalBytes: number | null
  active: boolean
}
const slotOf = (result: { details?: Record<string, unknown> }): SlotDetails => {
  const slot = (result.details?.slots as Record<string, SlotDetails> | undefined)?.[SLOT]
  if (!slot) throw new Error(`slot ${SLOT} missing from ${JSON.stringify(result.details)}`)
  return slot
}

describe('replication slots of the service database', () => {
  it('when a slot nobody reads falls behind, then health reports it with the WAL it keeps, growing as WAL is written, and the metrics show the same slot', async () => {
    const check = replicationSlotsComponent(db)
    const first = await check.check()
    const bound = (await sql<{ v: string }>`SELECT current_setting('max_slot_wal_keep_size') AS v`.execute(db)).rows[0]!.v
    expect(first.status).toBe('UP')
    expect(first.details).toMatchObject({ maxSlotWalKeepSize: bound })
    expect(slotOf(first)).toMatchObject({ walStatus: 'reserved', active: false })
    if (bound !== '-1') expect(slotOf(first).safeWalBytes).toBeGreaterThan(0)

    await sql`INSERT INTO effects (message_id, key, n) SELECT gen_random_uuid(), 'k', g FROM generate_series(1, 5000) g`.execute(db)
    const later = await check.check()
    expect(slotOf(later).retainedWalBytes).toBeGreaterThan(slotOf(first).retainedWalBytes)

    registerTableMetrics(db, logger)
    const retained = await client.register.getSingleMetricAsString('trackops_replication_slot_retained_wal_bytes')
    expect(retained).toMatch(new RegExp(`trackops_replication_slot_retained_wal_bytes\\{slot="${SLOT}"\\} [1-9]`))
  })
})
