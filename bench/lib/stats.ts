// Exact percentiles over recorded samples (a run records at most a few hundred thousand), and the shapes every
// scenario reports them in. An unfinished operation is recorded as Infinity, so it pushes the tail up instead of
// silently leaving the sample.

export interface Distribution {
  count: number
  /** Samples that never finished (Infinity), included in count and in the percentiles. */
  unfinished: number
  min: number | null
  mean: number | null
  p50: number | null
  p90: number | null
  p95: number | null
  p99: number | null
  p999: number | null
  max: number | null
  /** Percentile curve for charts: [percentile (0–100), value] pairs, value null when beyond the finished samples. */
  curve: [number, number | null][]
}

const curvePoints = [0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100]

export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  const v = sorted[i] as number
  return Number.isFinite(v) ? v : null
}

export function distribution(samples: number[]): Distribution {
  const sorted = Float64Array.from(samples).sort()
  const arr = Array.from(sorted)
  const finite = arr.filter(Number.isFinite)
  const r = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100)
  return {
    count: arr.length,
    unfinished: arr.length - finite.length,
    min: r(finite.length ? (finite[0] as number) : null),
    mean: r(finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null),
    p50: r(quantile(arr, 0.5)),
    p90: r(quantile(arr, 0.9)),
    p95: r(quantile(arr, 0.95)),
    p99: r(quantile(arr, 0.99)),
    p999: r(quantile(arr, 0.999)),
    max: r(finite.length ? (finite[finite.length - 1] as number) : null),
    curve: curvePoints
      .filter((p) => p === 0 || p === 100 || arr.length * (1 - p / 100) >= 1)
      .map((p) => [p, r(p === 0 ? (finite[0] ?? null) : quantile(arr, p / 100))]),
  }
}

/** "12.3 ms", "1.20 s", "—" for missing, "> x" for an unfinished tail. */
export function ms(v: number | null | undefined, unfinishedNote = '—'): string {
  if (v === null || v === undefined) return unfinishedNote
  if (!Number.isFinite(v)) return unfinishedNote
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`
  if (v >= 100) return `${v.toFixed(0)} ms`
  if (v >= 10) return `${v.toFixed(1)} ms`
  return `${v.toFixed(2)} ms`
}

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits

export function ratio(value: number | null | undefined, ceiling: number | null | undefined): number | null {
  if (value === null || value === undefined || !ceiling) return null
  return Math.round((value / ceiling) * 1000) / 1000
}
