import { Type } from 'typebox'

/** `host:port,host:port` → the broker addresses, trimmed, empty entries dropped. */
export const brokerList = (text: string): string[] => text.split(',').map((b) => b.trim()).filter(Boolean)

/** Settings of a service that speaks to Kafka: the brokers (a list once loaded), Kafka Connect, and who publishes outbox rows. */
export const messagingSettings = {
  KAFKA_BROKERS: Type.Decode(Type.String({ default: '127.0.0.1:9092' }), brokerList),
  KAFKA_CONNECT_URL: Type.String({ default: 'http://127.0.0.1:8083' }),
  EVENT_PUBLISHING_STRATEGY: Type.Union([Type.Literal('debezium'), Type.Literal('outbox')], { default: 'debezium' }),
}
