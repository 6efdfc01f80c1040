import { Type } from 'typebox'

/** `host:port,host:port` → the broker addresses, trimmed, empty entries dropped. */
export const brokerList = (text: string): string[] => text.split(',').map((b) => b.trim()).filter(Boolean)

/** Settings of a service that speaks to Kafka: the brokers (a list once loaded), Kafka Connect, and who publishes outbox rows. */
export const messagingSettings = {
  KAFKA_BROKERS: Type.Decode(Type.String({ default: '127.0.0.1:9092' }), brokerList),
  KAFKA_CONNECT_URL: Type.String({ default: 'http://127.0.0.1:8083' }),
  EVENT_PUBLISHING_STRATEGY: Type.Union([Type.Literal('debezium'), Type.Literal('outbox')], { default: 'debezium' }),
  /** At most this many records are applied in one consumer transaction (DESIGN §7). */
  CONSUMER_BATCH_MAX_RECORDS: Type.Integer({ minimum: 1, maximum: 1_000, default: 200 }),
  /** How long the first record of a batch waits for others when the consumer is idle (ms). */
  CONSUMER_BATCH_MAX_WAIT_MS: Type.Integer({ minimum: 0, maximum: 1_000, default: 5 }),
}

/** The consumer runner's batch policy from a loaded configuration. */
export const batchPolicyOf = (c: { CONSUMER_BATCH_MAX_RECORDS: number; CONSUMER_BATCH_MAX_WAIT_MS: number }) => ({
  maxRecords: c.CONSUMER_BATCH_MAX_RECORDS,
  maxWaitMs: c.CONSUMER_BATCH_MAX_WAIT_MS,
})
