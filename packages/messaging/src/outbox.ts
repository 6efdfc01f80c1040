import { sql, type Kysely, type Selectable } from 'kysely'
import { topicOf, type AnyMessage } from '@trackops/contracts'
import { currentTraceparent } from '@trackops/runtime'
import type { OutboxTable, OutboxTables } from './tables.ts'

/**
 * Writes the message into the outbox inside the caller's transaction: it is published if and only if the
 * transaction commits. Nothing else in TrackOps publishes.
 */
export async function enqueue<DB extends OutboxTables>(tx: Kysely<DB>, message: AnyMessage): Promise<void> {
  const topic = topicOf(message)
  await sql`
    INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
    VALUES (${message.id}, ${topic}, ${message.aggregateType}, ${message.aggregateId}, ${message.type},
            ${JSON.stringify(message)}, ${message.correlationId}, ${currentTraceparent()})`.execute(tx)
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
