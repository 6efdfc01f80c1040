// The polling publisher (EVENT_PUBLISHING_STRATEGY=outbox). Each pass takes the transaction-scoped advisory
// locks of the outbox buckets no other relay holds, publishes those buckets' oldest unpublished rows in seq
// order, and marks them published only after the broker acknowledged them — all inside that transaction. An
// aggregate always hashes to one bucket, so two relays never interleave one aggregate's events. A crash
// between acknowledgement and commit republishes the batch: consumers dedupe by message id.
import pg from 'pg'
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { KafkaProducer } from './kafka.ts'
import { recordOf, type OutboxRow } from './outbox.ts'
import type { MessagingTables, OutboxTables } from './tables.ts'
import { messagingMetrics as m } from './metrics.ts'

const BUCKET_LOCK_SPACE = 7_310

export interface OutboxSource<DB extends OutboxTables = MessagingTables> {
  name: string
  db: Kysely<DB>
  /** Used for LISTEN outbox, so a new row is published without waiting for the next poll. */
  url: string
}

/** One pass over one source: returns the number of rows published. Throws when the broker refused the batch. */
export async function publishBatch<DB extends OutboxTables>(source: OutboxSource<DB>, producer: KafkaProducer, batchSize = 500): Promise<number> {
  const result = await source.db.transaction().execute(async (tx): Promise<{ published: number; failure?: Error }> => {
    const buckets = (
      await sql<{ b: number }>`SELECT b FROM generate_series(0, 15) AS b WHERE pg_try_advisory_xact_lock(${BUCKET_LOCK_SPACE}, b)`.execute(tx)
    ).rows.map((r) => r.b)
    if (buckets.length === 0) return { published: 0 }
    const rows = (
      await sql<Pick<OutboxRow, 'seq' | 'id' | 'topic' | 'aggregateid' | 'type' | 'payload' | 'correlation_id' | 'traceparent' | 'created_at'>>`
        SELECT seq, id, topic, aggregateid, type, payload, correlation_id, traceparent, created_at FROM outbox
        WHERE published_at IS NULL AND bucket = ANY(${buckets}::smallint[])
        ORDER BY seq LIMIT ${batchSize}`.execute(tx)
    ).rows
    if (rows.length === 0) return { published: 0 }
    const seqs = rows.map((r) => r.seq)
    try {
      await producer.send(rows.map(recordOf))
    } catch (error) {
      m.publishFailures.inc({ source: source.name })
      const reason = error instanceof Error ? error.message : String(error)
      // Recorded on the rows (and committed) so failures are visible; the rows stay unpublished and are retried.
      await sql`UPDATE outbox SET attempts = attempts + 1, last_error = ${reason.slice(0, 1000)} WHERE seq = ANY(${seqs}::bigint[])`.execute(tx)
      return { published: 0, failure: new Error(`publishing ${rows.length} outbox rows of ${source.name} failed: ${reason}`, { cause: error }) }
    }
    await sql`UPDATE outbox SET published_at = now(), last_error = NULL WHERE seq = ANY(${seqs}::bigint[])`.execute(tx)
    const now = Date.now()
    for (const r of rows) m.publishSeconds.observe({ source: source.name }, Math.max(0, now - new Date(r.created_at).getTime()) / 1000)
    m.published.inc({ source: source.name }, rows.length)
    return { published: rows.length }
  })
  if (result.failure) throw result.failure
  return result.published
}

export interface RelayOptions<DB extends OutboxTables> {
  sources: OutboxSource<DB>[]
  producer: KafkaProducer
  logger: Logger
  pollMs?: number
  batchSize?: number
  maxBackoffMs?: number
}

/** Runs publishBatch for every source until stopped: woken by NOTIFY, polling as a fallback, backing off while the broker is down. */
export function createRelay<DB extends OutboxTables>(opts: RelayOptions<DB>) {
  const pollMs = opts.pollMs ?? 1_000
  let stopping = false
  const loops: Promise<void>[] = []
  const listeners = new Set<pg.Client>()
  const wakers = new Map<string, () => void>()
  /** Sources notified while a pass ran: the row may have committed after the pass read, so another pass follows at once. */
  const notified = new Set<string>()

  /** LISTEN on a connection of its own; when it is lost (a database restart), polling carries on and it reconnects. */
  async function listen(source: OutboxSource<DB>, retryMs = 1_000): Promise<void> {
    if (stopping) return
    const client = new pg.Client({ connectionString: source.url, application_name: 'trackops-relay-listen' })
    let lost = false
    let delay = retryMs
    const reconnect = (error?: Error) => {
      if (lost || stopping) return
      lost = true
      listeners.delete(client)
      opts.logger.warn({ err: error, source: source.name, retryInMs: delay }, 'LISTEN connection lost; polling until it is back')
      setTimeout(() => void listen(source, Math.min(delay * 2, 30_000)), delay).unref()
    }
    client.on('error', reconnect)
    client.on('end', () => reconnect())
    client.on('notification', () => {
      notified.add(source.name)
      wakers.get(source.name)?.()
    })
    listeners.add(client)
    try {
      await client.connect()
      await client.query('LISTEN outbox')
      if (retryMs > 1_000) opts.logger.info({ source: source.name }, 'LISTEN connection restored')
      delay = 1_000
    } catch (error) {
      reconnect(error as Error)
      void client.end().catch(() => {})
    }
  }

  async function loop(source: OutboxSource<DB>) {
    let backoff = 0
    while (!stopping) {
      let published = 0
      notified.delete(source.name)
      try {
        published = await publishBatch(source, opts.producer, opts.batchSize)
        backoff = 0
      } catch (error) {
        // capped low: a pass is one cheap query, and after a broker outage the backlog should move at once
        backoff = Math.min(opts.maxBackoffMs ?? 2_000, backoff ? backoff * 2 : 250)
        opts.logger.warn({ err: error, source: source.name, backoffMs: backoff }, 'relay pass failed; backing off')
      }
      if ((published > 0 || notified.has(source.name)) && backoff === 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, backoff || pollMs)
        function done() {
          clearTimeout(timer)
          wakers.delete(source.name)
          resolve()
        }
        if (!backoff) wakers.set(source.name, done)
      })
    }
  }

  return {
    name: 'outbox relay',
    async start() {
      stopping = false
      for (const source of opts.sources) {
        await listen(source)
        loops.push(loop(source))
      }
      opts.logger.info({ sources: opts.sources.map((s) => s.name) }, 'outbox relay started')
    },
    async stop() {
      stopping = true
      for (const wake of wakers.values()) wake()
      await Promise.allSettled(loops)
      await Promise.allSettled([...listeners].map((c) => c.end()))
    },
  }
}

/**
 * Deletes outbox rows past retention: published ones; under Debezium every row, since its connector read it from
 * the WAL — but only while every logical slot of the database is being read (active) and none is lost. A stopped
 * connector or a lost slot keeps the whole outbox, so the rows it never read are still there to reconcile
 * (infra/stack.sh slots-recover; the slot's WAL bound bounds how long that can last).
 */
export async function pruneOutbox<DB extends OutboxTables>(db: Kysely<DB>, opts: { retentionSeconds: number; strategy: 'debezium' | 'outbox' }): Promise<number> {
  const r = await sql`
    DELETE FROM outbox WHERE created_at < now() - make_interval(secs => ${opts.retentionSeconds})
      AND (published_at IS NOT NULL OR (${opts.strategy === 'debezium'} AND NOT EXISTS (
        SELECT 1 FROM pg_replication_slots
         WHERE database = current_database() AND slot_type = 'logical' AND (NOT active OR wal_status = 'lost'))))`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
