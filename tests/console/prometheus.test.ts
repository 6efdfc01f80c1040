import { describe, expect, it } from 'vitest'
import { bucketDelta, histogramBuckets, parsePrometheus, perMinute, quantile } from '../../console/src/server/prometheus.ts'
import { ordersCreated, readingOf } from '../../console/src/server/metrics-summary.ts'

const exposition = `
# HELP trackops_saga_duration_seconds From the start of a saga to its outcome.
# TYPE trackops_saga_duration_seconds histogram
trackops_saga_duration_seconds_bucket{le="0.1",outcome="completed"} 2
trackops_saga_duration_seconds_bucket{le="0.5",outcome="completed"} 8
trackops_saga_duration_seconds_bucket{le="1",outcome="completed"} 10
trackops_saga_duration_seconds_bucket{le="+Inf",outcome="completed"} 10
trackops_saga_duration_seconds_bucket{le="0.1",outcome="compensated"} 0
trackops_saga_duration_seconds_bucket{le="0.5",outcome="compensated"} 0
trackops_saga_duration_seconds_bucket{le="1",outcome="compensated"} 0
trackops_saga_duration_seconds_bucket{le="+Inf",outcome="compensated"} 10
trackops_saga_duration_seconds_sum{outcome="completed"} 3.2
trackops_saga_duration_seconds_count{outcome="completed"} 10
trackops_message_age_seconds_bucket{le="0.01",group="orders-cache",topic="trackops_orders.public.orders"} 5
trackops_message_age_seconds_bucket{le="+Inf",group="orders-cache",topic="trackops_orders.public.orders"} 5
trackops_message_age_seconds_bucket{le="0.01",group="orders-saga",topic="inventory.events"} 0
trackops_message_age_seconds_bucket{le="+Inf",group="orders-saga",topic="inventory.events"} 100
trackops_orders_placed_total{pricing="catalog"} 41
trackops_orders_placed_total{pricing="legacy_total"} 1
label_with_escapes{path="a\\"b,c"} 1
`

describe('the Prometheus summary', () => {
  it('when buckets of several label sets are summed, then quantiles interpolate inside the bucket holding the rank', () => {
    const series = parsePrometheus(exposition)
    const saga = histogramBuckets(series, 'trackops_saga_duration_seconds')
    expect(saga?.get(Infinity)).toBe(20)
    // rank 10 of 20 falls in (0.5, 1]: 8 → 10 observations
    expect(quantile(0.5, saga!)).toBeCloseTo(1)
    // rank 19.8 is in +Inf: the highest finite bound answers
    expect(quantile(0.99, saga!)).toBe(1)
  })

  it('when filtering CDC topics, then only trackops_* topics count', () => {
    const r = readingOf(parsePrometheus(exposition), 0)
    expect(r.cdc?.get(Infinity)).toBe(5)
    expect(quantile(0.99, r.cdc!)).toBeCloseTo(0.0099)
  })

  it('when only trackops_orders_placed_total exists, then it is the orders counter', () => {
    expect(ordersCreated(parsePrometheus(exposition))).toEqual({ metric: 'trackops_orders_placed_total', value: 42 })
    expect(ordersCreated(parsePrometheus('trackops_orders_total{event="created"} 7\ntrackops_orders_total{event="cancelled"} 2'))).toEqual({ metric: 'trackops_orders_total', value: 7 })
  })

  it('when a label value has escaped quotes, then it is read whole', () => {
    expect(parsePrometheus(exposition).find((s) => s.name === 'label_with_escapes')?.labels.path).toBe('a"b,c')
  })

  it('when counts go down between scrapes, then the process restarted and the new counts are the delta', () => {
    const before = new Map([[1, 5], [Infinity, 10]])
    const now = new Map([[1, 1], [Infinity, 2]])
    expect(bucketDelta(now, before)).toBe(now)
    expect([...bucketDelta(new Map([[1, 7], [Infinity, 13]]), before)]).toEqual([[1, 2], [Infinity, 3]])
    expect(perMinute({ at: 60_000, value: 3 }, { at: 0, value: 10 })).toBe(3)
    expect(perMinute({ at: 30_000, value: 13 }, { at: 0, value: 10 })).toBe(6)
  })

  it('when nothing was observed, then there is no quantile', () => {
    expect(quantile(0.5, new Map([[1, 0], [Infinity, 0]]))).toBeNull()
  })
})
