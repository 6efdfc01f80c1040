import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'

// int8 (bigserial, counts) as JS strings would leak everywhere; values here stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v))
// numeric stays a string: money is converted explicitly at the edges.

/**
 * `notifyOutbox`: the sessions wake the polling relay on every outbox insert (only under the outbox strategy;
 * see packages/messaging/migrations/0002_outbox_notify_only_for_relay.sql for why not always).
 */
export function createDb<T>(url: string, opts: { max?: number; applicationName?: string; notifyOutbox?: boolean } = {}): Kysely<T> {
  return new Kysely<T>({
    dialect: new PostgresDialect({
      pool: new pg.Pool({
        connectionString: url,
        max: opts.max ?? 10,
        application_name: opts.applicationName ?? 'trackops',
        ...(opts.notifyOutbox ? { options: '-c trackops.notify_outbox=on' } : {}),
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 30_000,
      }),
    }),
  })
}
