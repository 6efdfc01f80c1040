// What the services measure about themselves, as deltas over a phase: per consumer group and topic, how long a
// record took to apply (transaction included) and how old it was when applied (broker timestamp → commit: time
// spent waiting in the consumer plus applying), and the relay's outbox → broker delay. Read from
// /actuator/prometheus before and after; a service restarted in between is left out.
import { url, type ServiceName } from './stack.ts'

type Histogram = { sum: number; count: number; buckets: Map<number, number> }
type Snapshot = Map<string, Histogram>

const families = ['trackops_message_handle_seconds', 'trackops_message_age_seconds', 'trackops_outbox_publish_delay_seconds']

function parse(service: string, text: string, into: Snapshot) {
  for (const line of text.split('\n')) {
    const m = /^(trackops_\w+?)_(sum|count|bucket)\{([^}]*)\} ([\d.e+-]+|\+Inf|NaN)$/.exec(line)
    if (!m) continue
    const [, family = '', part, labelText = '', value = '0'] = m
    if (!families.includes(family)) continue
    const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    const key = `${service}|${family.replace('trackops_', '')}|${labels.group ?? labels.source ?? ''}|${labels.topic ?? ''}`
    const h = into.get(key) ?? { sum: 0, count: 0, buckets: new Map() }
    if (part === 'sum') h.sum = Number(value)
    else if (part === 'count') h.count = Number(value)
    else h.buckets.set(labels.le === '+Inf' ? Infinity : Number(labels.le), Number(value))
    into.set(key, h)
  }
}

export async function scrapeServiceMetrics(services: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']): Promise<Snapshot> {
  const snap: Snapshot = new Map()
  await Promise.all(
    services.map(async (s) => {
      try {
        const res = await fetch(`${url(s)}/actuator/prometheus`, { signal: AbortSignal.timeout(3_000) })
        parse(s, await res.text(), snap)
      } catch {
        /* a service that does not answer is left out */
      }
    }),
  )
  return snap
}

export interface ConsumerTiming {
  service: string
  metric: string
  group: string
  topic: string
  count: number
  meanMs: number
  /** From the histogram buckets: the upper bound of the bucket holding the 99th percentile. */
  p99UpToMs: number | null
}

export function metricDeltas(before: Snapshot, after: Snapshot): ConsumerTiming[] {
  const out: ConsumerTiming[] = []
  for (const [key, b] of after) {
    const a = before.get(key) ?? { sum: 0, count: 0, buckets: new Map<number, number>() }
    const count = b.count - a.count
    if (count <= 0 || b.sum < a.sum) continue
    const [service = '', metric = '', group = '', topic = ''] = key.split('|')
    const buckets = [...b.buckets].map(([le, n]) => [le, n - (a.buckets.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0])
    const p99 = buckets.find(([, n]) => n >= 0.99 * count)?.[0]
    out.push({ service, metric, group, topic, count, meanMs: Math.round(((b.sum - a.sum) / count) * 10000) / 10, p99UpToMs: p99 === undefined || p99 === Infinity ? null : p99 * 1000 })
  }
  return out.sort((x, y) => x.metric.localeCompare(y.metric) || x.service.localeCompare(y.service) || x.group.localeCompare(y.group))
}
