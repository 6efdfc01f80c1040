// Resolution of a consumer group's dead letters and parked records, for the consumer runner (consumer.ts): the
// replays an operator requested, then the parked records whose key is no longer blocked, one transaction each.
import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { AnyMessage } from '@trackops/contracts'
import type { KafkaRecordIn } from './kafka.ts'
import { messagingMetrics as m } from './metrics.ts'
import type { MessagingTables } from './tables.ts'
import { contextFromHeaders, isInfrastructureError, withSpan } from '@trackops/runtime'

type StoredRecord = { topic: string; partition: number; offset: string; record_key: string; record_value: string; headers: Record<string, string> }
const toRecord = (r: StoredRecord): KafkaRecordIn => ({
  topic: r.topic,
  partition: r.partition,
  offset: BigInt(r.offset),
  key: r.record_key,
  value: r.record_value,
  headers: r.headers,
  timestamp: BigInt(Date.now()),
})

export function createResolver<DB extends MessagingTables>(opts: {
  db: Kysely<DB>
  group: string
  logger: Logger
  /** The runner's decoding of a record's value: the message, or why it is not one. */
  decode: (value: string) => AnyMessage | Error
  /** The runner's text for an error, as dead letters keep it. */
  describe: (error: unknown) => string
  /** Inbox insert + handler in `tx`; false when the group already applied the message. */
  apply: (tx: Kysely<DB>, message: AnyMessage, record: KafkaRecordIn) => Promise<boolean>
  /** True once the runner is stopping: nothing more is resolved. */
  stopping: () => boolean
}): () => Promise<number> {
  const { db, group, logger, decode, describe, apply, stopping } = opts
  async function replayOne(): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const row = (
        await sql<StoredRecord & { id: string; attempts: number }>`
          SELECT id, topic, partition, "offset", record_key, record_value, headers, attempts FROM dead_letters
          WHERE consumer_group = ${group} AND status = 'REPLAY_REQUESTED'
          ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(tx)
      ).rows[0]
      if (!row) return false
      const message = decode(row.record_value)
      try {
        if (message instanceof Error) throw message
        await sql`SAVEPOINT replay`.execute(tx)
        await withSpan(`${message.type} replay`, 'consumer', contextFromHeaders(row.headers), () => apply(tx, message, toRecord(row)))
        await sql`UPDATE dead_letters SET status = 'REPLAYED', updated_at = now() WHERE id = ${row.id}`.execute(tx)
        m.replayed.inc({ group, outcome: 'applied' })
        logger.info({ group, deadLetterId: row.id, correlationId: row.headers.correlationId }, 'dead letter replayed')
      } catch (error) {
        if (isInfrastructureError(error)) throw error
        if (!(message instanceof Error)) await sql`ROLLBACK TO SAVEPOINT replay`.execute(tx)
        await sql`UPDATE dead_letters SET status = 'DEAD', attempts = attempts + 1, error = ${describe(error).slice(0, 4000)},
                    resolved_by = NULL, updated_at = now() WHERE id = ${row.id}`.execute(tx)
        m.replayed.inc({ group, outcome: 'failed' })
        logger.error({ err: error, group, deadLetterId: row.id }, 'dead letter replay failed; it stays dead')
      }
      return true
    })
  }

  /** Applies the oldest parked record of one unblocked key; false when there is nothing to do. */
  async function drainOne(): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const row = (
        await sql<StoredRecord & { seq: number }>`
          SELECT p.seq, p.topic, p.partition, p."offset", p.record_key, p.record_value, p.headers FROM parked_messages p
          WHERE p.consumer_group = ${group}
            AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.consumer_group = p.consumer_group AND d.topic = p.topic
                              AND d.record_key = p.record_key AND d.status IN ('DEAD', 'REPLAY_REQUESTED'))
            AND NOT EXISTS (SELECT 1 FROM parked_messages e WHERE e.consumer_group = p.consumer_group AND e.topic = p.topic
                              AND e.record_key = p.record_key AND e.seq < p.seq)
          ORDER BY p.seq LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(tx)
      ).rows[0]
      if (!row) return false
      const record = toRecord(row)
      const message = decode(row.record_value)
      try {
        if (message instanceof Error) throw message
        await sql`SAVEPOINT drain`.execute(tx)
        await withSpan(`${message.type} unpark`, 'consumer', contextFromHeaders(row.headers), () => apply(tx, message, record))
        m.consumed.inc({ group, topic: row.topic, outcome: 'applied' })
      } catch (error) {
        if (isInfrastructureError(error)) throw error
        if (!(message instanceof Error)) await sql`ROLLBACK TO SAVEPOINT drain`.execute(tx)
        // A parked record that fails becomes the key's new dead letter; the ones after it stay parked.
        await sql`
          INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers,
                                    message_id, message_type, error, attempts)
          VALUES (${randomUUID()}, ${group}, ${row.topic}, ${row.partition}, ${row.offset}, ${row.record_key},
                  ${row.record_value}, ${JSON.stringify(row.headers)}, ${row.headers.id ?? null}, ${row.headers.type ?? null},
                  ${describe(error).slice(0, 4000)}, 1)
          ON CONFLICT (consumer_group, topic, partition, "offset", md5(record_value)) DO UPDATE SET status = 'DEAD', error = EXCLUDED.error,
            attempts = dead_letters.attempts + 1, updated_at = now()`.execute(tx)
        m.consumed.inc({ group, topic: row.topic, outcome: 'dead_lettered' })
      }
      await sql`DELETE FROM parked_messages WHERE seq = ${row.seq}`.execute(tx)
      return true
    })
  }

  async function resolve(): Promise<number> {
    let done = 0
    while (!stopping() && (await replayOne())) done++
    while (!stopping() && (await drainOne())) done++
    return done
  }

  return resolve
}
