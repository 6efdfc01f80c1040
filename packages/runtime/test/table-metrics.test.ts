// Table sizes as Prometheus gauges, read from a real database when scraped.
import { describe, expect, it } from 'vitest'
import client from 'prom-client'
import pino from 'pino'
import { testEnv } from '../../../tests/support/env.ts'
import { createDb, registerTableMetrics } from '../src/index.ts'

const sample = (text: string, table: string) => Number(text.split('\n').find((l) => l.includes(`table="${table}"`))?.split(' ')[1])

describe('table metrics', () => {
  it('when scraped, then every table of the database has its rows, dead rows and bytes; when the database is gone, the scrape still answers', async () => {
    const db = createDb<unknown>(testEnv.componentDbs.orders, { max: 1 })
    registerTableMetrics(db, pino({ level: 'silent' }))
    const rows = await client.register.getSingleMetricAsString('trackops_table_rows')
    const bytes = await client.register.getSingleMetricAsString('trackops_table_bytes')
    const dead = await client.register.getSingleMetricAsString('trackops_table_dead_rows')
    for (const table of ['orders', 'processed_events', 'outbox', 'saga_instances']) {
      expect(sample(rows, table)).toBeGreaterThanOrEqual(0)
      expect(sample(dead, table)).toBeGreaterThanOrEqual(0)
      expect(sample(bytes, table)).toBeGreaterThan(0) // even an empty table has its index pages
    }
    await db.destroy()
    await new Promise((r) => setTimeout(r, 1_100)) // past the one-second reuse of a reading
    const after = await client.register.getSingleMetricAsString('trackops_table_bytes')
    expect(sample(after, 'orders')).toBe(sample(bytes, 'orders'))
  })
})
