// What a service's own database holds and keeps, read when Prometheus scrapes: each table's estimated live rows
// (PostgreSQL's statistics, not count(*)) and bytes on disk with indexes and TOAST, and the WAL each replication
// slot of the database retains against max_slot_wal_keep_size. What grows without a bound shows here first.
import { sql, type Kysely } from 'kysely'
import client from 'prom-client'
import type { Logger } from 'pino'

interface Reading {
  tables: { table: string; rows: number; bytes: number }[]
  slots: { slot: string; retained: number; safe: number | null; lost: boolean }[]
}

/** The process's database, set by registerTableMetrics; one reading serves every gauge of a scrape. */
let source: { read: () => Promise<Reading>; logger: Logger } | undefined
let sampled: { at: number; reading: Promise<Reading> } | undefined

async function collectInto(gauge: client.Gauge, samples: (r: Reading) => [Record<string, string>, number][]): Promise<void> {
  if (!source) return
  if (!sampled || Date.now() - sampled.at > 1_000) sampled = { at: Date.now(), reading: source.read() }
  try {
    const values = samples(await sampled.reading)
    gauge.reset() // a dropped table or slot leaves the scrape
    for (const [labels, value] of values) gauge.set(labels, value)
  } catch (error) {
    // The database does not answer: the scrape shows the last values read.
    source.logger.debug({ err: error }, 'database sizes not read; the metrics keep their last values')
  }
}

/** A gauge registered with the default registry when this module loads; prom-client calls collect() with it as `this`. */
const scrapedGauge = (name: string, help: string, label: string, samples: (r: Reading) => [Record<string, string>, number][]) =>
  new client.Gauge({
    name,
    help,
    labelNames: [label],
    collect(this: client.Gauge): Promise<void> {
      return collectInto(this, samples)
    },
  })
scrapedGauge('trackops_table_rows', "Live rows of each table of the service database (PostgreSQL's estimate, refreshed by autovacuum and analyze).", 'table', (r) =>
  r.tables.map((t) => [{ table: t.table }, t.rows]),
)
scrapedGauge('trackops_table_bytes', 'Bytes on disk of each table of the service database, with its indexes and TOAST.', 'table', (r) => r.tables.map((t) => [{ table: t.table }, t.bytes]))
scrapedGauge('trackops_replication_slot_retained_wal_bytes', 'WAL a replication slot of the service database keeps from removal (current LSN − its restart LSN).', 'slot', (r) =>
  r.slots.map((s) => [{ slot: s.slot }, s.retained]),
)
scrapedGauge(
  'trackops_replication_slot_safe_wal_bytes',
  'WAL that can still be written before the slot passes max_slot_wal_keep_size and is invalidated (0 once lost; absent when the server sets no bound).',
  'slot',
  (r) => r.slots.filter((s) => s.safe !== null || s.lost).map((s) => [{ slot: s.slot }, s.lost ? 0 : (s.safe ?? 0)]),
)

/** The table and replication-slot gauges report `db` from now on. */
export function registerTableMetrics<DB>(db: Kysely<DB>, logger: Logger): void {
  source = {
    logger,
    read: async () => {
      const [tables, slots] = await Promise.all([
        sql<Reading['tables'][number]>`
          SELECT relname AS "table", GREATEST(n_live_tup, 0)::float8 AS rows, pg_total_relation_size(relid)::float8 AS bytes
          FROM pg_stat_user_tables WHERE schemaname = 'public'`.execute(db),
        sql<Reading['slots'][number]>`
          SELECT slot_name AS slot, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::float8 AS retained,
                 safe_wal_size::float8 AS safe, wal_status = 'lost' AS lost
          FROM pg_replication_slots WHERE database = current_database()`.execute(db),
      ])
      return { tables: tables.rows, slots: slots.rows }
    },
  }
}
