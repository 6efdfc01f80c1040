// What a service's own database holds and keeps, read when Prometheus scrapes: each table's estimated live rows
// (PostgreSQL's statistics, not count(*)) and bytes on disk with indexes and TOAST, and the WAL each replication
// slot of the database retains against max_slot_wal_keep_size. What grows without a bound shows here first.
import { sql, type Kysely, type QueryExecutorProvider } from 'kysely'
import type { Logger } from 'pino'
import { scrapedGauges } from './scraped-gauges.ts'

/** A replication slot of the current database against max_slot_wal_keep_size (`bound`; -1: none). */
export interface SlotWal {
  slot: string
  active: boolean
  walStatus: string | null
  /** WAL kept from removal: current LSN − restart LSN (0 once lost). */
  retained: number
  /** WAL that may still be written before the slot is invalidated; null without a bound or once lost. */
  safe: number | null
  bound: string
}

/** The replication slots of the database `db` is connected to, by name. */
export async function replicationSlotsOf(db: QueryExecutorProvider): Promise<SlotWal[]> {
  const { rows } = await sql<SlotWal>`
    SELECT slot_name AS slot, active, wal_status AS "walStatus", COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::float8 AS retained,
           safe_wal_size::float8 AS safe, current_setting('max_slot_wal_keep_size') AS bound
    FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name`.execute(db)
  return rows
}

interface Reading {
  tables: { table: string; rows: number; deadRows: number; bytes: number }[]
  slots: SlotWal[]
}

const gauges = scrapedGauges<Reading>([
  {
    name: 'trackops_table_rows',
    help: "Live rows of each table of the service database (PostgreSQL's estimate, refreshed by autovacuum and analyze).",
    labelNames: ['table'],
    samples: (r) => r.tables.map((t) => [{ table: t.table }, t.rows]),
  },
  {
    name: 'trackops_table_dead_rows',
    help: 'Dead rows of each table of the service database, waiting for (auto)vacuum to make their space reusable; growing without falling means vacuum does not run.',
    labelNames: ['table'],
    samples: (r) => r.tables.map((t) => [{ table: t.table }, t.deadRows]),
  },
  {
    name: 'trackops_table_bytes',
    help: 'Bytes on disk of each table of the service database, with its indexes and TOAST.',
    labelNames: ['table'],
    samples: (r) => r.tables.map((t) => [{ table: t.table }, t.bytes]),
  },
  {
    name: 'trackops_replication_slot_retained_wal_bytes',
    help: 'WAL a replication slot of the service database keeps from removal (current LSN − its restart LSN).',
    labelNames: ['slot'],
    samples: (r) => r.slots.map((s) => [{ slot: s.slot }, s.retained]),
  },
  {
    name: 'trackops_replication_slot_safe_wal_bytes',
    help: 'WAL that can still be written before the slot passes max_slot_wal_keep_size and is invalidated (0 once lost; absent when the server sets no bound).',
    labelNames: ['slot'],
    samples: (r) => r.slots.filter((s) => s.safe !== null || s.walStatus === 'lost').map((s) => [{ slot: s.slot }, s.safe ?? 0]),
  },
])

/** The table and replication-slot gauges report `db` from now on. */
export function registerTableMetrics<DB>(db: Kysely<DB>, logger: Logger): void {
  gauges.attach(async () => {
    const [tables, slots] = await Promise.all([
      sql<Reading['tables'][number]>`
        SELECT relname AS "table", GREATEST(n_live_tup, 0)::float8 AS rows, GREATEST(n_dead_tup, 0)::float8 AS "deadRows", pg_total_relation_size(relid)::float8 AS bytes
        FROM pg_stat_user_tables WHERE schemaname = 'public'`.execute(db),
      replicationSlotsOf(db),
    ])
    return { tables: tables.rows, slots }
  }, logger)
}
