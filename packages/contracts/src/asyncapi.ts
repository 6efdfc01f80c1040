import { EnvelopeBase, isTransient, messageCatalog, topicsOf, type MessageType } from './messages.ts'
import { CdcTopics, Topics, dlqTopic } from './topics.ts'

/** The AsyncAPI 3 document, generated from the same schemas that validate messages at both ends. */
export function buildAsyncApi(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {}
  const channels: Record<string, { address: string; description: string; messages: Record<string, unknown> }> = {}
  const operations: Record<string, unknown> = {}
  for (const topic of Object.values(Topics)) {
    channels[topic] = { address: topic, description: `Business topic ${topic}; key = aggregate id.`, messages: {} }
    const dlq = dlqTopic(topic)
    channels[dlq] = {
      address: dlq,
      description: `Dead letters of ${topic}: original key and value; headers x-error, x-attempts, x-consumer-group, x-original-topic, x-original-partition, x-original-offset.`,
      messages: {},
    }
  }
  for (const [type, entry] of Object.entries(messageCatalog) as [MessageType, (typeof messageCatalog)[MessageType]][]) {
    messages[type] = {
      name: type,
      title: type,
      summary: entry.summary,
      ...(isTransient(type) ? { description: 'Transient: consumers keep no inbox row for it (answering twice is harmless) and never park it behind a dead letter.' } : {}),
      contentType: 'application/json',
      headers: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          type: { const: type },
          correlationId: { type: 'string' },
          traceparent: { type: 'string' },
        },
      },
      payload: { ...EnvelopeBase, properties: { ...EnvelopeBase.properties, type: { const: type }, aggregateType: { const: entry.aggregateType }, data: entry.data } },
    }
    for (const topic of topicsOf(type)) {
      const channel = channels[topic]
      if (channel) channel.messages[type] = { $ref: `#/components/messages/${type}` }
    }
  }
  for (const [name, address] of Object.entries(CdcTopics)) {
    channels[address] = {
      address,
      description: `Raw Debezium change events of ${address} ({before, after, source, op, ts_ms}); facts about rows, used for cache invalidation, the catalog replica and live updates (${name}).`,
      messages: {},
    }
  }
  for (const topic of Object.keys(channels)) {
    operations[`receive-${topic}`] = { action: 'receive', channel: { $ref: `#/channels/${topic.replaceAll('/', '~1')}` } }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'TrackOps events',
      version,
      description: 'Events and commands exchanged by TrackOps services over Kafka. Every value is a JSON envelope {id, type, version, occurredAt, aggregateType, aggregateId, correlationId, causationId?, data}.',
    },
    defaultContentType: 'application/json',
    servers: { local: { host: '127.0.0.1:9092', protocol: 'kafka' } },
    channels,
    operations,
    components: { messages },
  }
}
