// Reading the Prometheus text format and the few numbers the console charts: pure functions, no I/O.

export interface Series {
  name: string
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/g

const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))

function parseValue(raw: string): number {
  if (raw === '+Inf') return Infinity
  if (raw === '-Inf') return -Infinity
  return Number(raw)
}

/** Every sample line of an exposition; comments, blank and malformed lines are skipped. */
export function parsePrometheus(text: string): Series[] {
  const out: Series[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1] as string] = unescape(l[2] as string)
    const value = parseValue(m[3] as string)
    if (!Number.isNaN(value)) out.push({ name: m[1] as string, labels, value })
  }
  return out
}

/** Cumulative histogram buckets, upper bound → count, summed over every series that passes the filter. */
export type Buckets = Map<number, number>

export function histogramBuckets(series: Series[], metric: string, keep: (labels: Record<string, string>) => boolean = () => true): Buckets | null {
  const name = `${metric}_bucket`
  const buckets: Buckets = new Map()
  for (const s of series) {
    if (s.name !== name || s.labels.le === undefined || !keep(s.labels)) continue
    const le = parseValue(s.labels.le)
    buckets.set(le, (buckets.get(le) ?? 0) + s.value)
  }
  return buckets.size ? buckets : null
}

/** The sum of a counter or gauge over the series that pass the filter; null when the metric is absent. */
export function total(series: Series[], metric: string, keep: (labels: Record<string, string>) => boolean = () => true): number | null {
  let sum: number | null = null
  for (const s of series) if (s.name === metric && keep(s.labels)) sum = (sum ?? 0) + s.value
  return sum
}

/** Buckets observed between two scrapes; a process restart (counts going down) counts as starting from zero. */
export function bucketDelta(now: Buckets, before: Buckets | null): Buckets {
  if (!before) return now
  const count = (b: Buckets) => b.get(Infinity) ?? Math.max(0, ...b.values())
  if (count(now) < count(before)) return now
  const out: Buckets = new Map()
  for (const [le, c] of now) out.set(le, Math.max(0, c - (before.get(le) ?? 0)))
  return out
}

export const bucketCount = (b: Buckets) => b.get(Infinity) ?? Math.max(0, ...b.values())

/**
 * Prometheus' histogram_quantile: linear interpolation inside the bucket that holds the rank. A rank in the
 * +Inf bucket answers the highest finite bound. null when nothing was observed.
 */
export function quantile(q: number, buckets: Buckets): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0])
  const last = sorted.at(-1)
  if (!last || last[1] <= 0) return null
  const rank = q * last[1]
  let prevBound = 0
  let prevCount = 0
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound
      if (count === prevCount) return bound
      return prevBound + (bound - prevBound) * ((rank - prevCount) / (count - prevCount))
    }
    prevBound = bound
    prevCount = count
  }
  return prevBound
}

/** A counter's increase per minute between two readings; a decrease means the process restarted. */
export function perMinute(now: { at: number; value: number }, before: { at: number; value: number } | null): number | null {
  if (!before || now.at <= before.at) return null
  const increase = now.value >= before.value ? now.value - before.value : now.value
  return (increase / (now.at - before.at)) * 60_000
}
