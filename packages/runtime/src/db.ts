import { createHash } from 'node:crypto'
import pg from 'pg'
import { Kysely, PostgresAdapter, PostgresDialect, PostgresIntrospector, PostgresQueryCompiler, type CompiledQuery, type DatabaseConnection, type Driver } from 'kysely'
import type { Logger } from 'pino'

// int8 (bigserial, counts) as JS strings would leak everywhere; values here stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v))
// numeric stays a string: money is converted explicitly at the edges.

/**
 * `notifyOutbox`: the sessions wake the polling relay on every outbox insert (only under the outbox strategy;
 * see packages/messaging/migrations/0002_outbox_notify_only_for_relay.sql for why not always).
 *
 * A restart of PostgreSQL must not end the process: node-postgres reports a connection that dies as an `error`
 * event — on the pool while the connection idles, on the client while it is checked out — and an `error` event
 * nobody listens to crashes Node. Both get a listener here; the query in flight fails with an infrastructure
 * error (503 / retried by the consumer runner), the pool drops the broken connection when it is released, and
 * the next checkout connects anew once the server is back.
 */
export function createDb<T>(url: string, opts: { max?: number; applicationName?: string; notifyOutbox?: boolean; logger?: Logger } = {}): Kysely<T> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'trackops',
    ...(opts.notifyOutbox ? { options: '-c trackops.notify_outbox=on' } : {}),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // Statements queued on one connection go out without waiting for each other's answers (writeTogether);
    // Kysely's own use, one statement at a time, is unchanged by it.
    pipeline: true,
  })
  const lost = (error: Error) => opts.logger?.warn({ err: error, pool: opts.applicationName }, 'database connection lost; it is replaced on next use')
  pool.on('connect', (client) => client.on('error', lost))
  pool.on('error', () => {}) // an idle connection's error: already logged by the listener above
  const db = new Kysely<T>({ dialect: new PostgresDialect({ pool }) })
  pools.set(db, pool)
  return db
}

const pools = new WeakMap<object, pg.Pool>()

/** A Kysely that compiles what it is asked to run and keeps it, answering every statement with no rows. */
function recorder<T>(statements: CompiledQuery[]): Kysely<T> {
  const connection: DatabaseConnection = {
    executeQuery: async (query) => {
      statements.push(query)
      return { rows: [] }
    },
    streamQuery: () => {
      throw new Error('writeTogether records writes; it cannot stream')
    },
  }
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  }
  return new Kysely<T>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })
}

/**
 * One transaction of writes in one flight. `write` issues its statements through a Kysely that records them
 * (each answers no rows, so it suits writes whose results nothing needs: inserts of a new order); then BEGIN, the
 * statements and COMMIT are sent together on one pipelined connection and answered together. When a statement
 * fails, the ones after it fail as "transaction aborted", the COMMIT rolls back, and that first error is thrown.
 * A Kysely not made by createDb (a test's logging one) runs the same statements as an ordinary transaction.
 */
export async function writeTogether<T>(db: Kysely<T>, write: (tx: Kysely<T>) => Promise<void>): Promise<void> {
  const pool = pools.get(db)
  if (!pool) return db.transaction().execute(write)
  const statements: CompiledQuery[] = []
  await write(recorder<T>(statements))
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    // Each statement is prepared once per connection, named by its text: a hot write is planned once, not per call.
    const prepared = (q: CompiledQuery) => ({ name: `w${createHash('sha1').update(q.sql).digest('base64url').slice(0, 24)}`, text: q.sql, values: q.parameters as unknown[] })
    // pg writes each pipelined statement as it is queued; corked, the whole flight leaves in one write.
    const socket = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream
    socket?.cork?.()
    let sent: Promise<unknown>[]
    try {
      sent = [client.query('BEGIN'), ...statements.map((q) => client.query(prepared(q))), client.query('COMMIT')]
    } finally {
      socket?.uncork?.()
    }
    const answers = await Promise.allSettled(sent)
    const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected')
    if (failed) {
      if (isInfrastructureError(failed.reason)) broken = failed.reason as Error
      throw failed.reason
    }
  } finally {
    client.release(broken)
  }
}

/**
 * The database (or another dependency) cannot take work right now — not a bug and not the caller's fault: the pool
 * had no free connection in time, connections are refused or dropped, the server is shutting down or full. The
 * consumer runner retries such errors until the database is back (never dead-letters them); HTTP answers 503 with
 * Retry-After. Looks through `cause` chains (a few levels).
 */
export function isInfrastructureError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') {
      if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return true
      // SQLSTATE class 08 (connection exception), too many connections, admin/crash shutdown, cannot connect now.
      if (code.startsWith('08') || ['53300', '57P01', '57P02', '57P03'].includes(code)) return true
    }
    if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message)) return true
  }
  return false
}

/**
 * The SQLSTATE of a PostgreSQL data exception (class 22: a value out of range, in an invalid format, or with a
 * character the database cannot store) in the error or its causes, or null. Such an error says a value given to
 * the database was bad (over HTTP: the request's), not that the database is unavailable.
 */
export function dataExceptionOf(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return code
  }
  return null
}

const dataExceptionMessages: Record<string, string> = {
  '22001': 'a text value is too long',
  '22003': 'a number is out of range',
  '22007': 'a date or time is invalid',
  '22008': 'a date or time is out of range',
  '22021': 'a text value contains a character that cannot be stored (such as \\u0000)',
  '22P02': 'a value is not in the expected format',
  '22P05': 'a text value contains a character that cannot be stored (such as \\u0000)',
}

/** What was wrong with the value, by SQLSTATE, without repeating the value. */
export function dataExceptionMessage(sqlState: string): string {
  return dataExceptionMessages[sqlState] ?? 'a value is not valid'
}
