// GET /api/ops/metrics-summary: orders per minute, saga p50/p99 and CDC lag p99 over the last minute, from the
// services' Prometheus metrics, with the recent history the live charts draw.
import { errorText, fetchWithin, type Service } from './backends.ts'
import {
  bucketCount, bucketDelta, histogramBuckets, parsePrometheus, perMinute, quantile, total, type Buckets, type Series,
} from './prometheus.ts'

interface Reading {
  at: number
  orders: number | null
  saga: Buckets | null
  cdc: Buckets | null
  consumerLag: number | null
}

export interface SummaryPoint {
  at: string
  ordersPerMinute: number | null
  sagaP50Seconds: number | null
  sagaP99Seconds: number | null
  cdcLagP99Seconds: number | null
}

const WINDOW_MS = 60_000
export const MIN_INTERVAL_MS = 2_000
const KEEP_READINGS = 400
const KEEP_POINTS = 120

const created = (labels: Record<string, string>) => {
  const tags = Object.entries(labels).filter(([k]) => k === 'event' || k === 'status' || k === 'outcome' || k === 'type')
  return tags.length === 0 || tags.some(([, v]) => /^(created|placed|order_created)$/i.test(v))
}

/** The orders-created counter: trackops_orders_total (its "created" series when it has labels) or trackops_orders_placed_total. */
export function ordersCreated(series: Series[]): { metric: string; value: number } | null {
  const direct = total(series, 'trackops_orders_total', created)
  if (direct !== null) return { metric: 'trackops_orders_total', value: direct }
  const placed = total(series, 'trackops_orders_placed_total')
  return placed === null ? null : { metric: 'trackops_orders_placed_total', value: placed }
}

export function readingOf(series: Series[], at: number): Reading & { ordersMetric: string | null } {
  const orders = ordersCreated(series)
  return {
    at,
    orders: orders?.value ?? null,
    ordersMetric: orders?.metric ?? null,
    saga: histogramBuckets(series, 'trackops_saga_duration_seconds'),
    cdc: histogramBuckets(series, 'trackops_message_age_seconds', (l) => (l.topic ?? '').startsWith('trackops_')),
    consumerLag: total(series, 'trackops_consumer_lag'),
  }
}

const round = (v: number | null, digits = 3) => (v === null || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits)

export function createMetricsSampler(deps: { services: Service[]; now?: () => number }) {
  const readings: Reading[] = []
  const points: SummaryPoint[] = []
  let last: { at: number; body: unknown } | null = null
  let inFlight: Promise<unknown> | null = null

  async function scrape(auth: Record<string, string>) {
    const results = await Promise.all(
      deps.services.map(async (s) => {
        try {
          const res = await fetchWithin(`${s.url}/actuator/prometheus`, { headers: auth })
          if (!res.ok) return { name: s.name, ok: false, error: `HTTP ${res.status}`, series: [] as Series[] }
          return { name: s.name, ok: true, series: parsePrometheus(await res.text()) }
        } catch (error) {
          return { name: s.name, ok: false, error: errorText(error), series: [] as Series[] }
        }
      }),
    )
    return results
  }

  async function sample(auth: Record<string, string>) {
    const now = deps.now?.() ?? Date.now()
    const sources = await scrape(auth)
    const series = sources.flatMap((s) => s.series)
    const reading = readingOf(series, now)
    // The oldest reading still inside the window is the baseline for rates and windowed quantiles.
    const baseline = readings.find((r) => r.at >= now - WINDOW_MS - MIN_INTERVAL_MS && r.at < now) ?? null
    readings.push(reading)
    if (readings.length > KEEP_READINGS) readings.splice(0, readings.length - KEEP_READINGS)
    while (readings.length && (readings[0] as Reading).at < now - 10 * WINDOW_MS) readings.shift()

    const sagaWindow = reading.saga && baseline ? bucketDelta(reading.saga, baseline.saga) : null
    const cdcWindow = reading.cdc && baseline ? bucketDelta(reading.cdc, baseline.cdc) : null
    const point: SummaryPoint = {
      at: new Date(now).toISOString(),
      ordersPerMinute: round(reading.orders !== null && baseline?.orders != null ? perMinute({ at: now, value: reading.orders }, { at: baseline.at, value: baseline.orders }) : null, 2),
      sagaP50Seconds: round(sagaWindow ? quantile(0.5, sagaWindow) : null),
      sagaP99Seconds: round(sagaWindow ? quantile(0.99, sagaWindow) : null),
      cdcLagP99Seconds: round(cdcWindow ? quantile(0.99, cdcWindow) : null),
    }
    points.push(point)
    if (points.length > KEEP_POINTS) points.splice(0, points.length - KEEP_POINTS)
    return {
      ...point,
      windowSeconds: baseline ? Math.round((now - baseline.at) / 1000) : 0,
      ordersMetric: reading.ordersMetric,
      ordersTotal: reading.orders,
      sagasInWindow: sagaWindow ? bucketCount(sagaWindow) : null,
      sagaLifetime: reading.saga ? { count: bucketCount(reading.saga), p50Seconds: round(quantile(0.5, reading.saga)), p99Seconds: round(quantile(0.99, reading.saga)) } : null,
      cdcRecordsInWindow: cdcWindow ? bucketCount(cdcWindow) : null,
      cdcLifetime: reading.cdc ? { count: bucketCount(reading.cdc), p99Seconds: round(quantile(0.99, reading.cdc)) } : null,
      consumerLag: reading.consumerLag,
      sources: sources.map((s) => ({ name: s.name, ok: s.ok, ...(s.ok ? { series: s.series.length } : { error: s.error }) })),
      history: [...points],
    }
  }

  return async (auth: Record<string, string>, maxAgeMs = MIN_INTERVAL_MS) => {
    const now = deps.now?.() ?? Date.now()
    if (last && now - last.at < maxAgeMs) return last.body
    // Several browsers polling at once share one scrape.
    inFlight ??= sample(auth).then((body) => {
      last = { at: now, body }
      return body
    }).finally(() => {
      inFlight = null
    })
    return inFlight
  }
}
