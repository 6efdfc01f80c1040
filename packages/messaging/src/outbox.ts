import { sql, type Kysely } from 'kysely'
import { topicOf, type AnyMessage } from '@trackops/contracts'
import { currentTraceparent } from '@trackops/runtime'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Tx = Kysely<any>

/**
 * Writes the message into the outbox inside the caller's transaction: it is published if and only if the
 * transaction commits. Nothing else in TrackOps publishes.
 */
export async function enqueue(tx: Tx, message: AnyMessage): Promise<void> {
  const topic = topicOf(message)
  await sql`
    INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
    VALUES (${message.id}, ${topic}, ${message.aggregateType}, ${message.aggregateId}, ${message.type},
            ${JSON.stringify(message)}, ${message.correlationId}, ${currentTraceparent()})`.execute(tx)
}

/** A row of the outbox table (migrations/0001), as node-postgres returns it; `bucket` is generated and left out. */
export interface OutboxRow {
  seq: number
  id: string
  topic: string
  aggregatetype: string
  aggregateid: string
  type: string
  payload: string
  correlation_id: string
  traceparent: string
  created_at: Date
  published_at: Date | null
  attempts: number
  last_error: string | null
}

/** The Kafka record for an outbox row: byte for byte what Debezium's Outbox Event Router produces from it. */
export const recordOf = (row: Pick<OutboxRow, 'id' | 'topic' | 'aggregateid' | 'type' | 'payload' | 'correlation_id' | 'traceparent'>) => ({
  topic: row.topic,
  key: row.aggregateid,
  value: row.payload,
  headers: { id: row.id, type: row.type, correlationId: row.correlation_id, traceparent: row.traceparent },
})
