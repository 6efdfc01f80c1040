import { sql, type Kysely, type Selectable } from 'kysely'
import { topicOf, type AnyMessage } from '@trackops/contracts'
import { currentTraceparent } from '@trackops/runtime'
import type { OutboxTable, OutboxTables } from './tables.ts'

type PendingRow = Pick<OutboxRow, 'id' | 'topic' | 'aggregatetype' | 'aggregateid' | 'type' | 'payload' | 'correlation_id' | 'traceparent'>

/** Transactions whose outbox rows are collected in memory and written by `flushOutbox` (the consumer runner's batches). */
const collected = new WeakMap<object, PendingRow[]>()

/**
 * Writes the message into the outbox inside the caller's transaction: it is published if and only if the
 * transaction commits. Nothing else in TrackOps publishes. In a transaction opened with `collectOutbox`, the row
 * waits in memory and goes in with the others of that transaction, in one statement, at `flushOutbox`.
 */
export async function enqueue<DB extends OutboxTables>(tx: Kysely<DB>, message: AnyMessage): Promise<void> {
  const row: PendingRow = {
    id: message.id,
    topic: topicOf(message),
    aggregatetype: message.aggregateType,
    aggregateid: message.aggregateId,
    type: message.type,
    payload: JSON.stringify(message),
    correlation_id: message.correlationId,
    // Taken now: the row carries the trace of the work that enqueued it, whenever it is written.
    traceparent: currentTraceparent(),
  }
  const pending = collected.get(tx)
  if (pending) pending.push(row)
  else await insertRows(tx, [row])
}

/** From now on, the messages enqueued in `tx` are held until `flushOutbox(tx)`, which must run before the commit. */
export function collectOutbox<DB extends OutboxTables>(tx: Kysely<DB>): void {
  collected.set(tx, [])
}

/** Writes the messages held for `tx` (in the order they were enqueued) in one statement. */
export async function flushOutbox<DB extends OutboxTables>(tx: Kysely<DB>): Promise<void> {
  const rows = collected.get(tx) ?? []
  collected.delete(tx)
  if (rows.length > 0) await insertRows(tx, rows)
}

async function insertRows<DB extends OutboxTables>(tx: Kysely<DB>, rows: PendingRow[]): Promise<void> {
  const col = (k: keyof PendingRow) => rows.map((r) => r[k])
  // One statement whatever the number of rows; seq follows the order of the array (ORDER BY ordinality).
  await sql`
    INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
    SELECT id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent
    FROM unnest(${col('id')}::uuid[], ${col('topic')}::text[], ${col('aggregatetype')}::text[], ${col('aggregateid')}::text[],
                ${col('type')}::text[], ${col('payload')}::text[], ${col('correlation_id')}::text[], ${col('traceparent')}::text[])
      WITH ORDINALITY AS t(id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent, n)
    ORDER BY n`.execute(tx)
}

/** A row of the outbox table, as node-postgres returns it; `bucket` is generated and left out. */
export type OutboxRow = Omit<Selectable<OutboxTable>, 'bucket'>

/** The Kafka record for an outbox row: byte for byte what Debezium's Outbox Event Router produces from it. */
export const recordOf = (row: Pick<OutboxRow, 'id' | 'topic' | 'aggregateid' | 'type' | 'payload' | 'correlation_id' | 'traceparent'>) => ({
  topic: row.topic,
  key: row.aggregateid,
  value: row.payload,
  headers: { id: row.id, type: row.type, correlationId: row.correlation_id, traceparent: row.traceparent },
})
