// The service databases the relay works on, each reached with the relay's own role (relay_svc: SELECT/UPDATE/
// DELETE on outbox, SELECT/UPDATE on dead_letters, SELECT on parked_messages and processed_events).
// Any of them may live on its own server, so nothing here joins across them: every read runs per source
// and the results are merged in memory.
import { sql, type Kysely } from 'kysely'
import { createDb, dataExceptionOf } from '@trackops/runtime'
import type { MessagingTables, OutboxSource } from '@trackops/messaging'
import { AppError } from '@trackops/http'
import type { Logger } from 'pino'

export const sourceNames = ['orders', 'inventory', 'payments'] as const
export type SourceName = (typeof sourceNames)[number]

/** Every service database carries the messaging tables; the relay reads and writes nothing else. */
export type Db = Kysely<MessagingTables>
export interface Source extends OutboxSource {
  name: SourceName
  db: Db
  url: string
  /** The Debezium connector that publishes this database's outbox under the debezium strategy. */
  connector: string
}

export function createSources(urls: Record<SourceName, string>, logger?: Logger): Source[] {
  return sourceNames.map((name) => ({
    name,
    url: urls[name],
    db: createDb<MessagingTables>(urls[name], { max: 4, applicationName: 'trackops-relay', logger }),
    connector: `trackops-${name}-outbox`,
  }))
}

export async function closeSources(sources: Source[]) {
  await Promise.allSettled(sources.map((s) => s.db.destroy()))
}

/** The sources a request is about: one (by name) or all. */
export function selectSources(sources: Source[], name?: string): Source[] {
  return name ? sources.filter((s) => s.name === name) : sources
}

/**
 * Runs a read on every source. A source that fails makes the request fail with 503 naming it, so an operator
 * can still look at the others with ?source=. A value the database refused (SQLSTATE 22xxx) is the request's
 * fault, not the source's: that error goes to the error handler as it is (400).
 */
export async function fromEach<T>(sources: Source[], read: (source: Source) => Promise<T>): Promise<{ source: Source; value: T }[]> {
  const settled = await Promise.allSettled(sources.map(async (source) => ({ source, value: await read(source) })))
  const refused = settled.find((r) => r.status === 'rejected' && dataExceptionOf(r.reason) !== null)
  if (refused) throw (refused as PromiseRejectedResult).reason
  const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [`${sources[i]!.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : []))
  if (failed.length) {
    throw new AppError('relay.unavailable', `Source database unavailable (${failed.join('; ')}). Query the other sources with ?source=.`)
  }
  return settled.map((r) => (r as PromiseFulfilledResult<{ source: Source; value: T }>).value)
}

/** Like fromEach, but a failing source is reported in place instead of failing the whole answer (stats, health). */
export type Settled<T> = { source: Source; value: T } | { source: Source; error: string }

export async function fromEachSettled<T>(sources: Source[], read: (source: Source) => Promise<T>): Promise<Settled<T>[]> {
  return Promise.all(
    sources.map(async (source): Promise<Settled<T>> => {
      try {
        return { source, value: await read(source) }
      } catch (error) {
        return { source, error: error instanceof Error ? error.message : String(error) }
      }
    }),
  )
}

/**
 * Replication slot lag of the slots in this source's database (Debezium's). pg_replication_slots is readable
 * by any role; returns null when the server does not let this role read it.
 */
export async function slotLag(source: Source): Promise<{ slot: string; active: boolean; lagBytes: number | null }[] | null> {
  try {
    const r = await sql<{ slot_name: string; active: boolean; lag: string | null }>`
      SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag
      FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name`.execute(source.db)
    return r.rows.map((row) => ({ slot: row.slot_name, active: row.active, lagBytes: row.lag === null ? null : Number(row.lag) }))
  } catch {
    return null
  }
}

/** Merges per-source sorted rows into one page. Each source must have returned its first (page+1)*size rows. */
export function mergePage<T>(lists: T[][], compare: (a: T, b: T) => number, page: number, size: number): T[] {
  return lists.flat().sort(compare).slice(page * size, page * size + size)
}
