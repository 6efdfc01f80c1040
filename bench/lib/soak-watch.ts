// What the soak watches while its load runs, sampled every few seconds: memory of every process of the stack, the
// Node services' heap, event-loop lag and consumer lag (their /actuator/prometheus), every table's rows and size,
// each replication slot's retained WAL, and Redis memory.
import { Redis } from 'ioredis'
import { adminSql, serviceDatabases } from './pg.ts'
import { processMemoryMiB } from './resources.ts'
import { testEnv, url, type ServiceName } from './stack.ts'

const nodeServices: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']

export interface Sample {
  /** Seconds since the load started. */
  t: number
  rssMiB: Record<string, number>
  heapMiB: Record<string, number>
  eventLoopLagP99Ms: Record<string, number>
  /** Records behind the log end, summed per consumer group. */
  consumerLag: Record<string, number>
  /** `<database>.<table>` → live rows (statistics), total bytes (table, indexes, TOAST) and index bytes. */
  tables: Record<string, { rows: number; bytes: number; indexBytes: number }>
  /** slot → WAL kept for it (bytes behind the current position from its restart point) and its status. */
  slots: Record<string, { retainedBytes: number; walStatus: string }>
  redis: { usedBytes: number; maxBytes: number; keys: number } | null
}

/** One Prometheus text exposition: `name{labels} value` lines of the families asked for. */
function metricLines(text: string, names: string[]): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = []
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? ([\d.e+-]+)$/.exec(line)
    if (!m || !names.includes(m[1] as string)) continue
    out.push({ name: m[1] as string, labels: Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]])), value: Number(m[3]) })
  }
  return out
}

async function scrapeServices(sample: Sample) {
  await Promise.all(
    nodeServices.map(async (service) => {
      const text = await fetch(`${url(service)}/actuator/prometheus`, { signal: AbortSignal.timeout(3_000) })
        .then((r) => r.text())
        .catch(() => '')
      for (const m of metricLines(text, ['nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'trackops_consumer_lag'])) {
        if (m.name === 'nodejs_heap_size_used_bytes') sample.heapMiB[service] = Math.round((m.value / 2 ** 20) * 10) / 10
        else if (m.name === 'nodejs_eventloop_lag_p99_seconds') sample.eventLoopLagP99Ms[service] = Math.round(m.value * 10_000) / 10
        else {
          const group = m.labels.group ?? '?'
          sample.consumerLag[group] = (sample.consumerLag[group] ?? 0) + m.value
        }
      }
    }),
  )
}

async function readTables(sample: Sample) {
  for (const db of serviceDatabases) {
    const rows = await adminSql(
      db,
      `SELECT relname, n_live_tup::bigint AS rows, pg_total_relation_size(relid) AS bytes, pg_indexes_size(relid) AS index_bytes
         FROM pg_stat_user_tables WHERE schemaname = 'public'`,
    ).catch(() => [])
    for (const r of rows) sample.tables[`${db.replace('trackops_', '')}.${String(r.relname)}`] = { rows: Number(r.rows), bytes: Number(r.bytes), indexBytes: Number(r.index_bytes) }
  }
}

async function readSlots(sample: Sample) {
  const rows = await adminSql(
    'postgres',
    `SELECT slot_name, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint AS retained, coalesce(wal_status, 'unknown') AS wal_status FROM pg_replication_slots`,
  ).catch(() => [])
  for (const r of rows) sample.slots[String(r.slot_name)] = { retainedBytes: Number(r.retained), walStatus: String(r.wal_status) }
}

function infoField(info: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)
}

export interface Watch {
  samples: Sample[]
  stop(): Promise<Sample[]>
}

/** Samples every `everySeconds` from now (times relative to `startedAt`, epoch ms) until stopped. */
export function watchStack(startedAt: number, everySeconds: number): Watch {
  const redis = new Redis(testEnv.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  redis.on('error', () => undefined)
  const samples: Sample[] = []
  let stopped = false
  let wake: (() => void) | undefined

  const sampleOnce = async () => {
    const sample: Sample = { t: Math.round((Date.now() - startedAt) / 100) / 10, rssMiB: await processMemoryMiB(), heapMiB: {}, eventLoopLagP99Ms: {}, consumerLag: {}, tables: {}, slots: {}, redis: null }
    await Promise.all([scrapeServices(sample), readTables(sample), readSlots(sample)])
    try {
      if (redis.status === 'wait') await redis.connect()
      const memory = await redis.info('memory')
      sample.redis = { usedBytes: infoField(memory, 'used_memory'), maxBytes: infoField(memory, 'maxmemory'), keys: await redis.dbsize() }
    } catch {
      sample.redis = null
    }
    samples.push(sample)
  }

  const loop = (async () => {
    while (!stopped) {
      const t = Date.now()
      await sampleOnce().catch(() => undefined)
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, Math.max(0, everySeconds * 1000 - (Date.now() - t)))
      })
    }
  })()

  return {
    samples,
    async stop() {
      stopped = true
      wake?.()
      await loop
      await sampleOnce().catch(() => undefined)
      redis.disconnect()
      return samples
    },
  }
}
