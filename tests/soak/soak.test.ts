// The short soak: three minutes of the steady mixed load `npm run soak` runs for an hour (orders, cancellations,
// SSE followers, operator reads, poison records), against the running stack. It asserts only what must hold
// however long the system runs — every order final, no error logged, each poison record dead-lettered once and
// nothing else, nothing kept past its retention or its bound — never a timing (those are the long run's report).
import { afterAll, describe, expect, it } from 'vitest'
import { closePools } from '../../bench/lib/pg.ts'
import { runSoak, soakDefaults } from '../../bench/lib/soak.ts'
import { soakCharts, trendsOf } from '../../bench/lib/soak-report.ts'

const MINUTES = 3
const RATE = 5

describe('soak (short)', () => {
  afterAll(() => closePools())

  it('when a steady mixed load runs for three minutes, then every order is final, nothing is logged as an error, only the poison is dead-lettered and nothing outlives its retention', { timeout: 480_000 }, async () => {
    const result = await runSoak({ ...soakDefaults, minutes: MINUTES, rate: RATE, readsPerSecond: 10, cancelShare: 0.1, sseShare: 0.05, poisonPerMinute: 2, sampleSeconds: 5, drainSeconds: 120 })

    expect(result.checks.filter((c) => !c.ok)).toEqual([])
    // The load really ran: every order due was sent, and each kind of traffic took place.
    expect(result.load.orders.length).toBe(MINUTES * 60 * RATE)
    expect(result.load.orders.filter((o) => o.cancelStatus !== undefined).length).toBeGreaterThanOrEqual(80)
    expect(result.load.orders.filter((o) => o.sse?.final).length).toBeGreaterThanOrEqual(40)
    expect(result.load.reads.length).toBeGreaterThanOrEqual(1_700)
    expect(result.load.poisonKeys).toHaveLength(6)
    // The watch sampled the whole run and saw every part of the stack the report charts.
    expect(result.samples.length).toBeGreaterThanOrEqual(30)
    const last = result.samples.at(-1)!
    expect(Object.keys(last.rssMiB)).toEqual(expect.arrayContaining(['orders', 'inventory', 'payments', 'relay', 'postgresql (all)', 'redis']))
    expect(Object.keys(last.heapMiB).sort()).toEqual(['inventory', 'orders', 'payments', 'relay'])
    expect(Object.keys(last.tables)).toEqual(expect.arrayContaining(['orders.processed_events', 'inventory.processed_events', 'payments.processed_events', 'orders.outbox']))
    expect(Object.keys(last.slots).length).toBeGreaterThan(0)
    expect(last.redis?.maxBytes).toBeGreaterThan(0)
    expect(trendsOf(result).map((t) => t.measure)).toEqual(expect.arrayContaining(['saga POST → CONFIRMED p99', 'inbox rows (processed_events, all databases)', 'WAL retained by the largest slot', 'RSS orders']))
    for (const chart of Object.values(soakCharts(result))) expect(chart.svg).toMatch(/<path d="M/)
  })
})
