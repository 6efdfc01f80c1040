// The tables every service database carries (migrations/0001), as Kysely sees them. A service's database type
// extends MessagingTables, so the consumer runner and enqueue take that database without casts.
import type { ColumnType, Generated } from 'kysely'

type Defaulted<T> = ColumnType<T, T | undefined, T>
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export interface OutboxTable {
  seq: Generated<number>
  id: string
  topic: string
  aggregatetype: string
  aggregateid: string
  type: string
  payload: string
  correlation_id: string
  traceparent: string
  created_at: Timestamp
  published_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  attempts: Defaulted<number>
  last_error: string | null
  /** Generated from aggregateid: never written. */
  bucket: ColumnType<number, never, never>
}

export interface ProcessedEventsTable {
  message_id: string
  consumer_group: string
  message_type: string
  topic: string
  partition: number
  /** bigint: node-postgres returns it as a string. */
  offset: ColumnType<string, string | bigint, string | bigint>
  processed_at: Timestamp
}

export type DeadLetterStatus = 'DEAD' | 'REPLAY_REQUESTED' | 'REPLAYED' | 'DISCARDED'

/** The Kafka record a consumer group could not apply (yet), as dead letters and parked messages keep it. */
interface StoredRecordColumns {
  consumer_group: string
  topic: string
  partition: number
  offset: ColumnType<string, string | bigint, string | bigint>
  record_key: string
  record_value: string
  headers: ColumnType<Record<string, string>, string, string>
}

export interface DeadLettersTable extends StoredRecordColumns {
  id: string
  message_id: string | null
  message_type: string | null
  error: string
  attempts: number
  status: Defaulted<DeadLetterStatus>
  created_at: Timestamp
  updated_at: Timestamp
  resolved_by: string | null
}

export interface ParkedMessagesTable extends StoredRecordColumns {
  seq: Generated<number>
  parked_at: Timestamp
}

export interface MessagingTables {
  outbox: OutboxTable
  processed_events: ProcessedEventsTable
  dead_letters: DeadLettersTable
  parked_messages: ParkedMessagesTable
}

/** Any database with an outbox: what enqueue and the relay need. */
export type OutboxTables = Pick<MessagingTables, 'outbox'>
