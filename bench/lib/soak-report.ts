// The soak's report: latency per time window, the slope per hour of every measure that must stay flat (least
// squares over the samples after the warm-up), charts over time, the checks, and what grows and where its bound is
// configured.
import { table } from './markdown.ts'
import { mib, type SoakResult } from './soak.ts'
import type { Sample } from './soak-watch.ts'
import { distribution } from './stats.ts'
import { lineChart, type Series } from './svg.ts'

export interface Trend {
  measure: string
  unit: string
  first: number
  last: number
  mean: number
  /** Fitted change per hour after the warm-up. */
  perHour: number
  flat: boolean
  /** Why it is expected to grow, when it is. */
  note?: string
}

interface Window {
  /** Minutes since the start, at the window's middle. */
  minute: number
  orders: number
  sagaP50: number | null
  sagaP99: number | null
  readP50: number | null
  readP99: number | null
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, p) => s + p[0], 0) / n
  const my = points.reduce((s, p) => s + p[1], 0) / n
  const sxx = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0)
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / sxx
}

export function windowsOf(result: SoakResult): Window[] {
  const { load } = result
  const seconds = (load.endedAt - load.startedAt) / 1000
  const size = seconds <= 600 ? 30 : 60
  const out: Window[] = []
  for (let from = 0; from < seconds - size / 2; from += size) {
    const inWindow = (at: number) => at >= load.startedAt + from * 1000 && at < load.startedAt + (from + size) * 1000
    const saga = load.orders.flatMap((o, i) => (inWindow(o.dueAt) ? [result.sagaMs[i] ?? null] : [])).filter((v): v is number => v !== null)
    const reads = load.reads.filter((r) => inWindow(r.at) && r.status === 200).map((r) => r.ms)
    const sd = distribution(saga)
    const rd = distribution(reads)
    out.push({ minute: (from + size / 2) / 60, orders: load.orders.filter((o) => inWindow(o.dueAt)).length, sagaP50: sd.p50, sagaP99: sd.p99, readP50: rd.p50, readP99: rd.p99 })
  }
  return out
}

/** The series each trend is fitted to: name → points (minute, value). */
function measures(result: SoakResult, windows: Window[]): { measure: string; unit: string; points: [number, number][]; note?: string }[] {
  const s = result.samples
  const at = (x: Sample) => x.t / 60
  const names = (pick: (x: Sample) => Record<string, number>) => [...new Set(s.flatMap((x) => Object.keys(pick(x))))].sort()
  const sum = (x: Sample, table: string) => Object.entries(x.tables).filter(([k]) => k.endsWith(`.${table}`)).reduce((n, [, v]) => n + v.rows, 0)
  const inboxHours = result.checks.find((c) => c.what.startsWith('no inbox'))?.detail.match(/inbox (\d+)/)?.[1] ?? '192'
  return [
    { measure: 'saga POST → CONFIRMED p99', unit: 'ms', points: windows.filter((w) => w.sagaP99 !== null).map((w) => [w.minute, w.sagaP99 as number]) },
    { measure: 'operator read p99', unit: 'ms', points: windows.filter((w) => w.readP99 !== null).map((w) => [w.minute, w.readP99 as number]) },
    ...names((x) => x.rssMiB).map((p) => ({ measure: `RSS ${p}`, unit: 'MiB', points: s.filter((x) => x.rssMiB[p] !== undefined).map((x) => [at(x), x.rssMiB[p] as number] as [number, number]) })),
    ...names((x) => x.heapMiB).map((p) => ({ measure: `heap used ${p}`, unit: 'MiB', points: s.filter((x) => x.heapMiB[p] !== undefined).map((x) => [at(x), x.heapMiB[p] as number] as [number, number]) })),
    { measure: 'inbox rows (processed_events, all databases)', unit: 'rows', points: s.map((x) => [at(x), sum(x, 'processed_events')]), note: `grows until rows reach INBOX_RETENTION_HOURS (${inboxHours} h), then is pruned at the rate it grows` },
    { measure: 'outbox rows (all databases)', unit: 'rows', points: s.map((x) => [at(x), sum(x, 'outbox')]) },
    { measure: 'WAL retained by the largest slot', unit: 'MiB', points: s.map((x) => [at(x), Math.max(0, ...Object.values(x.slots).map((v) => v.retainedBytes)) / 2 ** 20]) },
    { measure: 'Redis used memory', unit: 'MiB', points: s.filter((x) => x.redis).map((x) => [at(x), (x.redis?.usedBytes ?? 0) / 2 ** 20]) },
    ...(['orders', 'inventory', 'payments'] as const).map((db) => ({
      measure: `${db} database size (tables + indexes)`,
      unit: 'MiB',
      points: s.map((x) => [at(x), Object.entries(x.tables).filter(([k]) => k.startsWith(`${db}.`)).reduce((n, [, v]) => n + v.bytes, 0) / 2 ** 20] as [number, number]),
      note: 'business data (orders, history, sagas, payments, reservations) is kept: grows with the orders placed',
    })),
  ]
}

/** Flat: the fitted change over an hour is within 10 % of the mean level (or a small absolute floor). */
export function trendsOf(result: SoakResult, windows = windowsOf(result)): Trend[] {
  const total = (result.load.endedAt - result.load.startedAt) / 60_000
  const warmUp = Math.min(5, total * 0.2)
  const floors: Record<string, number> = { ms: 5, MiB: 5, rows: 100 }
  return measures(result, windows).map(({ measure, unit, points, note }) => {
    const after = points.filter((p) => p[0] >= warmUp)
    const used = after.length >= 2 ? after : points
    const perHour = slope(used) * 60
    const mean = used.reduce((n, p) => n + p[1], 0) / Math.max(1, used.length)
    const r = (v: number) => Math.round(v * 10) / 10
    return { measure, unit, first: r(used[0]?.[1] ?? 0), last: r(used.at(-1)?.[1] ?? 0), mean: r(mean), perHour: r(perHour), flat: Math.abs(perHour) <= Math.max(0.1 * Math.abs(mean), floors[unit] ?? 0), ...(note ? { note } : {}) }
  })
}

const number = (v: number) => (Math.abs(v) >= 100 ? String(Math.round(v)) : String(v))

function overTime(title: string, yLabel: string, series: Series[], minutes: number, yFormat: (v: number) => string, yLog = false): string {
  const step = minutes <= 10 ? 1 : minutes <= 30 ? 5 : 10
  return lineChart({
    title,
    xLabel: 'minutes since the start',
    yLabel,
    yLog,
    yFormat,
    series,
    xScale: (x) => x / Math.max(minutes, 1e-9),
    xTicks: Array.from({ length: Math.floor(minutes / step) + 1 }, (_, i) => ({ value: i * step, label: String(i * step) })),
  })
}

export function soakCharts(result: SoakResult, windows = windowsOf(result)): Record<string, { title: string; svg: string }> {
  const s = result.samples
  const minutes = Math.max(...s.map((x) => x.t / 60), windows.at(-1)?.minute ?? 1)
  const perProcess = (pick: (x: Sample) => Record<string, number>, scale = 1): Series[] =>
    [...new Set(s.flatMap((x) => Object.keys(pick(x))))].sort().map((name) => ({ name, points: s.filter((x) => pick(x)[name] !== undefined).map((x) => [x.t / 60, (pick(x)[name] as number) * scale] as [number, number]) }))
  const byTable = (names: string[], field: 'rows' | 'bytes'): Series[] =>
    [...new Set(s.flatMap((x) => Object.keys(x.tables)))]
      .filter((k) => names.some((n) => k.endsWith(`.${n}`)))
      .sort()
      .map((k) => ({ name: k, points: s.map((x) => [x.t / 60, field === 'rows' ? (x.tables[k]?.rows ?? 0) : (x.tables[k]?.bytes ?? 0) / 2 ** 20] as [number, number]) }))
  const ms = (v: number) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`)
  const mibs = (v: number) => `${number(v)} MiB`
  const plain = (v: number) => number(v)
  return {
    latency: {
      title: 'latency over time',
      svg: overTime('saga (POST → CONFIRMED) and operator reads, per window', 'latency', [
        { name: 'saga p50', points: windows.filter((w) => w.sagaP50 !== null).map((w) => [w.minute, Math.max(w.sagaP50 as number, 0.1)]) },
        { name: 'saga p99', points: windows.filter((w) => w.sagaP99 !== null).map((w) => [w.minute, Math.max(w.sagaP99 as number, 0.1)]) },
        { name: 'read p50', dashed: true, points: windows.filter((w) => w.readP50 !== null).map((w) => [w.minute, Math.max(w.readP50 as number, 0.1)]) },
        { name: 'read p99', dashed: true, points: windows.filter((w) => w.readP99 !== null).map((w) => [w.minute, Math.max(w.readP99 as number, 0.1)]) },
      ], minutes, ms, true),
    },
    rss: { title: 'resident memory per process', svg: overTime('resident memory per process (PostgreSQL: PSS of all its processes)', 'memory', perProcess((x) => x.rssMiB), minutes, mibs) },
    heap: { title: 'Node heap used', svg: overTime('heap used per Node service', 'memory', perProcess((x) => x.heapMiB), minutes, mibs) },
    loop: { title: 'event-loop lag p99', svg: overTime('event-loop lag p99 per Node service', 'lag', perProcess((x) => x.eventLoopLagP99Ms), minutes, ms) },
    lag: { title: 'consumer lag', svg: overTime('consumer lag per group (records behind the log end)', 'records', perProcess((x) => x.consumerLag), minutes, plain) },
    messaging: { title: 'inbox and outbox rows', svg: overTime('inbox (processed_events) and outbox rows per database', 'rows', byTable(['processed_events', 'outbox'], 'rows'), minutes, plain) },
    storage: {
      title: 'table sizes',
      svg: overTime('largest tables (table + indexes)', 'size', byTable(['processed_events', 'outbox', 'orders', 'order_history', 'saga_instances', 'saga_steps', 'payments', 'inventory_reservations', 'idempotency_keys', 'dead_letters'], 'bytes'), minutes, mibs),
    },
    wal: {
      title: 'WAL retained per slot',
      svg: overTime('WAL retained per replication slot', 'WAL', [...new Set(s.flatMap((x) => Object.keys(x.slots)))].sort().map((name) => ({ name, points: s.map((x) => [x.t / 60, (x.slots[name]?.retainedBytes ?? 0) / 2 ** 20] as [number, number]) })), minutes, mibs),
    },
    redis: { title: 'Redis memory', svg: overTime('Redis used memory', 'memory', [{ name: 'used_memory', points: s.filter((x) => x.redis).map((x) => [x.t / 60, (x.redis?.usedBytes ?? 0) / 2 ** 20]) }], minutes, mibs) },
  }
}

/** What grows, its bound, and where the bound is set. */
export const retentionTable = [
  ['inbox (processed_events), every consuming service', 'INBOX_RETENTION_HOURS, default 192 h (longer than the topics\' 168 h)', 'each service\'s "inbox retention" job (packages/messaging/src/retention.ts)'],
  ['dead letters replayed or discarded', 'INBOX_RETENTION_HOURS', 'the same job'],
  ['dead letters unresolved, parked records', 'kept until an operator resolves them (they hold back their key)', 'console DLQ view, relay /api/dlq'],
  ['outbox', 'OUTBOX_RETENTION_SECONDS, default 600 s', 'relay pruning'],
  ['idempotency keys', 'ORDER_IDEMPOTENCY_RETENTION_HOURS, default 24 h', 'orders "idempotency-key pruning" job'],
  ['orders, order history, sagas, payments, reservations, stock adjustments', 'business data: kept, indexed for the queries that read them', '—'],
  ['WAL kept by a replication slot', 'max_slot_wal_keep_size, 4 GB', 'infra/lib/postgres.sh (TRACKOPS_PG_SLOT_WAL_KEEP)'],
  ['live order history in Redis (SSE resume, about 5 KB an order)', 'ORDER_LIVE_HISTORY_TTL_SECONDS, default 900 s after the order\'s last event', 'orders'],
  ['Redis', 'maxmemory 256 MB, volatile-lru (only keys with a TTL are evicted)', 'infra/lib/redis.sh (TRACKOPS_REDIS_MAXMEMORY)'],
  ['dead rows of updated and deleted rows (outbox, inbox, sagas, orders)', 'autovacuum (the outbox after every 5,000 changes)', 'infra/lib/postgres.sh turns autovacuum on; packages/messaging/migrations/0003_outbox_autovacuum.sql'],
  ['Kafka topics', '7 days or 1 GiB per partition; dead-letter topics 30 days', 'infra/topics.txt'],
]

export function soakMarkdown(result: SoakResult, chartFile: (key: string) => string): string {
  const windows = windowsOf(result)
  const trends = trendsOf(result, windows)
  const { load, options } = result
  const placed = load.orders.filter((o) => o.orderId)
  const minutes = (load.endedAt - load.startedAt) / 60_000
  const saga = distribution(result.sagaMs.filter((v): v is number => v !== null))
  const reads = distribution(load.reads.filter((r) => r.status === 200).map((r) => r.ms))
  const fmt = (v: number | null) => (v === null ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`)
  const last = result.samples.at(-1)
  const charts = soakCharts(result, windows)
  return [
    `# Soak report`,
    '',
    `Started ${result.startedAt}; ${minutes.toFixed(1)} minutes of load (\`npm run soak -- --minutes ${options.minutes} --rate ${options.rate}\`), sampled every ${options.sampleSeconds} s.`,
    '',
    `Load: ${options.rate} orders/s open loop over ${options.products} products, ${options.readsPerSecond} operator reads/s (one order, then the order board), every ${Math.round(1 / options.cancelShare)}th order cancelled by its customer at once, every ${Math.round(1 / options.sseShare)}th followed over SSE to its final status, ${options.poisonPerMinute} poison record(s) per minute on inventory.events.`,
    '',
    table(
      ['orders placed', 'confirmed', 'cancelled', 'reads', 'SSE followed', 'poison', 'saga p50 / p99', 'read p50 / p99'],
      [[
        `${placed.length} of ${load.orders.length}`,
        result.sagaMs.filter((v) => v !== null).length,
        placed.length - result.sagaMs.filter((v) => v !== null).length,
        load.reads.length,
        placed.filter((o) => o.sse).length,
        load.poisonKeys.length,
        `${fmt(saga.p50)} / ${fmt(saga.p99)}`,
        `${fmt(reads.p50)} / ${fmt(reads.p99)}`,
      ]],
    ),
    '',
    '## What must hold',
    '',
    table(['check', 'held', 'detail'], result.checks.map((c) => [c.what, c.ok ? 'yes' : '**no**', c.detail])),
    '',
    '## Flat or growing: slope per hour after the warm-up',
    '',
    `Least squares over the samples after the first ${Math.min(5, minutes * 0.2).toFixed(1)} minutes. *Flat*: the fitted change in an hour is within 10 % of the mean (at least 5 ms, 5 MiB or 100 rows).`,
    '',
    table(
      ['measure', 'first', 'last', 'mean', 'per hour', 'flat'],
      trends.map((t) => [t.measure, `${number(t.first)} ${t.unit}`, `${number(t.last)} ${t.unit}`, `${number(t.mean)} ${t.unit}`, `${t.perHour >= 0 ? '+' : ''}${number(t.perHour)} ${t.unit}`, t.flat ? 'yes' : `no${t.note ? ` (${t.note})` : ''}`]),
    ),
    '',
    ...Object.entries(charts).flatMap(([key, c]) => [`![${c.title}](${chartFile(key)})`, '']),
    '## Per window',
    '',
    table(['minute', 'orders due', 'saga p50', 'saga p99', 'read p50', 'read p99'], windows.map((w) => [w.minute.toFixed(1), w.orders, fmt(w.sagaP50), fmt(w.sagaP99), fmt(w.readP50), fmt(w.readP99)])),
    '',
    '## What grows, and its bound',
    '',
    table(['what', 'bound', 'where it is set'], retentionTable),
    '',
    last ? `At the end: Redis ${last.redis ? mib(last.redis.usedBytes) : '—'} in ${last.redis?.keys ?? '—'} keys; slots ${Object.entries(last.slots).map(([n, v]) => `${n} ${mib(v.retainedBytes)} (${v.walStatus})`).join(', ')}.` : '',
    '',
  ].join('\n')
}
