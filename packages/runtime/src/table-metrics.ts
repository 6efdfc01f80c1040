// The size of every table of a service's own database, read when Prometheus scrapes: estimated live rows
// (PostgreSQL's statistics, not count(*)) and bytes on disk with indexes and TOAST. What grows without a bound
// shows here first.
import { sql, type Kysely } from 'kysely'
import client from 'prom-client'
import type { Logger } from 'pino'

interface TableSize {
  table: string
  rows: number
  bytes: number
}

/** The process's database, set by registerTableMetrics; one query serves both gauges of a scrape. */
let source: { read: () => Promise<TableSize[]>; logger: Logger } | undefined
let sampled: { at: number; sizes: Promise<TableSize[]> } | undefined

async function collectInto(gauge: client.Gauge, pick: (t: TableSize) => number): Promise<void> {
  if (!source) return
  if (!sampled || Date.now() - sampled.at > 1_000) sampled = { at: Date.now(), sizes: source.read() }
  try {
    for (const t of await sampled.sizes) gauge.set({ table: t.table }, pick(t))
  } catch (error) {
    // The database does not answer: the scrape shows the last values read.
    source.logger.debug({ err: error }, 'table sizes not read; the metrics keep their last values')
  }
}

/** A gauge registered with the default registry when this module loads; prom-client calls collect() with it as `this`. */
const sizeGauge = (name: string, help: string, pick: (t: TableSize) => number) =>
  new client.Gauge({
    name,
    help,
    labelNames: ['table'],
    collect(this: client.Gauge): Promise<void> {
      return collectInto(this, pick)
    },
  })
sizeGauge('trackops_table_rows', "Live rows of each table of the service database (PostgreSQL's estimate, refreshed by autovacuum and analyze).", (t) => t.rows)
sizeGauge('trackops_table_bytes', 'Bytes on disk of each table of the service database, with its indexes and TOAST.', (t) => t.bytes)

/** trackops_table_rows and trackops_table_bytes report the tables of `db`'s public schema from now on. */
export function registerTableMetrics<DB>(db: Kysely<DB>, logger: Logger): void {
  source = {
    logger,
    read: async () =>
      (
        await sql<TableSize>`
          SELECT relname AS "table", GREATEST(n_live_tup, 0)::float8 AS rows, pg_total_relation_size(relid)::float8 AS bytes
          FROM pg_stat_user_tables WHERE schemaname = 'public'`.execute(db)
      ).rows,
  }
}
