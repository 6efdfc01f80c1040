// The AsyncAPI 3 document of every Kafka topic TrackOps uses, generated from the schemas that validate messages at
// both ends. Who sends and who receives what is declared below, as the services wire it: each use case enqueues
// its messages in its own outbox (Debezium's outbox router, or the relay under the outbox strategy, carries the
// row to its topic; the service that wrote the row is the sender), and each service's main.ts names its consumer
// groups and their topics.
import type { TSchema } from 'typebox'
import { aggregateKeys, EnvelopeBase, isTransient, messageCatalog, topicsOf, type MessageType } from './messages.ts'
import { rowChangeCatalog, type RowChangeType } from './row-changes.ts'
import { CdcTopics, Topics, dlqTopic, type Topic } from './topics.ts'
import { exampleMessage, exampleOf, exampleUuid } from './examples.ts'

type Service = 'orders' | 'inventory' | 'payments'

/** The one service whose outbox writes each business topic. */
const producers: Record<Topic, Service> = {
  [Topics.orderEvents]: 'orders',
  [Topics.inventoryCommands]: 'orders',
  [Topics.paymentCommands]: 'orders',
  [Topics.inventoryEvents]: 'inventory',
  [Topics.paymentEvents]: 'payments',
}

interface ConsumerGroup {
  service: Service
  group: string
  topics: string[]
  /** What the group does with the records. */
  purpose: string
  /** CDC groups read Debezium records: no inbox, no dead letters (the handlers are idempotent and fenced). */
  cdc?: true
  strategy?: 'debezium' | 'outbox'
}

export const consumerGroups: ConsumerGroup[] = [
  { service: 'orders', group: 'orders-saga', topics: [Topics.inventoryEvents, Topics.paymentEvents], purpose: "advances each order's saga (and answers to path probes)" },
  { service: 'orders', group: 'orders-cache-events', topics: [Topics.orderEvents], purpose: 'invalidates the order cache and feeds the live updates', strategy: 'outbox' },
  { service: 'orders', group: 'orders-cache', topics: [CdcTopics.orders], purpose: 'invalidates the order cache and feeds the live updates', cdc: true, strategy: 'debezium' },
  { service: 'orders', group: 'orders-catalog', topics: [CdcTopics.inventoryItems], purpose: "keeps the product-catalogue replica (names, prices, availability) the orders are priced from", cdc: true },
  { service: 'inventory', group: 'inventory-commands', topics: [Topics.inventoryCommands], purpose: 'reserves, releases and commits stock; answers path probes' },
  { service: 'inventory', group: 'inventory-cache', topics: [CdcTopics.inventoryItems], purpose: 'invalidates the item cache', cdc: true },
  { service: 'payments', group: 'payments-commands', topics: [Topics.paymentCommands], purpose: 'charges and refunds; answers path probes' },
]

/** The Debezium connector writing each CDC topic (infra/connectors: topic.prefix + table). */
const cdcConnectors: Record<string, string> = {
  [CdcTopics.orders]: 'trackops-orders-cdc',
  [CdcTopics.orderItems]: 'trackops-orders-cdc',
  [CdcTopics.inventoryItems]: 'trackops-inventory-cdc',
}

// Partitions and retention as infra/topics.txt creates the topics (test/asyncapi.test.ts keeps the two in step).
const week = { partitions: 3, topicConfiguration: { 'retention.ms': 604_800_000, 'retention.bytes': 1_073_741_824 } }
const month = { partitions: 3, topicConfiguration: { 'retention.ms': 2_592_000_000, 'retention.bytes': 1_073_741_824 } }
const kafkaBinding = { bindingVersion: '0.5.0' }

const MONEY =
  'Money has two representations. Inside TrackOps — events, commands, the databases — it is integer minor units (totalCents, unitPriceCents, amountCents). ' +
  'The REST APIs show the same amounts as decimal numbers in the currency (totalAmount, unitPrice, totalPrice, amount = cents / 100). ' +
  "The CDC row images carry the columns as stored: the orders' *_cents as integers, inventory_items.unit_price as decimal text (\"19.99\")."

const channelRef = (address: string) => ({ $ref: `#/channels/${address}` })
const messageRef = (name: string) => ({ $ref: `#/components/messages/${name}` })
const channelMessageRef = (address: string, name: string) => ({ $ref: `#/channels/${address}/messages/${name}` })
const json = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const keyOf = (type: MessageType) => aggregateKeys[messageCatalog[type].aggregateType]

function businessMessage(type: MessageType) {
  const entry = messageCatalog[type]
  const example = exampleMessage(type)
  const envelope = json(EnvelopeBase)
  const description = [
    isTransient(type) ? 'Transient: consumers keep no inbox row for it (answering twice is harmless) and never park it behind a dead letter.' : '',
    // every amount field is named *Cents (the Cents schema of messages.ts)
    JSON.stringify(entry.data).includes('Cents"') ? 'Amounts are integer cents; the REST APIs show them as decimals (cents / 100).' : '',
  ].filter(Boolean).join(' ')
  return {
    name: type,
    title: type,
    summary: entry.summary,
    ...(description ? { description } : {}),
    contentType: 'application/json',
    headers: {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid', description: 'The envelope id.' },
        type: { const: type },
        correlationId: { type: 'string' },
        traceparent: { type: 'string', description: 'W3C trace context.' },
      },
    },
    payload: { ...envelope, properties: { ...(envelope.properties as object), type: { const: type }, aggregateType: { const: entry.aggregateType }, data: json(entry.data) } },
    bindings: {
      kafka: {
        key: { type: 'string', description: `The aggregate id: data.${keyOf(type)} (${entry.aggregateType}); one aggregate's messages stay in order on one partition.`, examples: [example.aggregateId] },
        ...kafkaBinding,
      },
    },
    examples: [{ name: `${type}-example`, headers: { id: example.id, type, correlationId: example.correlationId, traceparent }, payload: example }],
  }
}

const deadLetterHeaders = {
  'x-dead-letter-id': { type: 'string', format: 'uuid', description: "The dead letter's row in the consuming service's dead_letters table (the durable copy; replay and discard at the relay's /api/dlq)." },
  'x-error': { type: 'string', description: 'The last error, up to 1,000 characters.' },
  'x-attempts': { type: 'string', description: 'Attempts made (3 by default: 1 s, then doubling).' },
  'x-consumer-group': { type: 'string', description: 'The consumer group that gave up.' },
  'x-original-topic': { type: 'string' },
  'x-original-partition': { type: 'string' },
  'x-original-offset': { type: 'string' },
}

function deadLetterMessage() {
  const original = exampleMessage('PROCESS_PAYMENT')
  return {
    name: 'DEAD_LETTER',
    title: 'Dead letter',
    summary: 'A record that exhausted its retries: its original key, value and headers, plus why and where from.',
    description: 'The value is the original record value, unchanged: usually one of the original topic\'s messages, possibly bytes that did not decode (often why it was dead-lettered). Later records of the same key wait (parked) until the dead letter is replayed or discarded.',
    contentType: 'application/json',
    headers: { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, correlationId: { type: 'string' }, traceparent: { type: 'string' }, ...deadLetterHeaders } },
    payload: { description: "The original record value (a message of the original topic, or what failed to decode as one)." },
    bindings: { kafka: { key: { type: 'string', description: 'The original key.' }, ...kafkaBinding } },
    examples: [{
      name: 'DEAD_LETTER-example',
      headers: {
        id: original.id, type: original.type, correlationId: original.correlationId, traceparent,
        'x-dead-letter-id': exampleUuid('deadLetterId'), 'x-error': 'payment gateway unavailable', 'x-attempts': '3',
        'x-consumer-group': 'payments-commands', 'x-original-topic': Topics.paymentCommands, 'x-original-partition': '1', 'x-original-offset': '4711',
      },
      payload: original,
    }],
  }
}

function rowChangeMessage(name: RowChangeType) {
  const entry = rowChangeCatalog[name]
  const value = exampleOf(entry.value) as Record<string, unknown>
  const example = { ...value, before: null, source: { ...(value.source as object), db: entry.topic.split('.')[0], table: entry.table }, op: 'u' }
  return {
    name,
    title: `${entry.table} row changed`,
    summary: `A committed change of a ${entry.table} row, as Debezium reads it from the WAL (not a business event).`,
    description: `Consumers must be idempotent and fence by the row's version; there is no envelope, no inbox, no dead letter. ${entry.table === 'inventory_items' ? 'unit_price is decimal text; the events carry it as unitPriceCents and the REST APIs as the number unitPrice.' : 'Amounts are integer cents, as in the events.'}`,
    contentType: 'application/json',
    payload: json(entry.value),
    bindings: { kafka: { key: { ...json(entry.key), description: "The row's primary key as JSON." }, ...kafkaBinding } },
    examples: [{ name: `${name}-example`, payload: example }],
  }
}

interface Channel {
  address: string
  description: string
  messages: Record<string, unknown>
  bindings: unknown
}

export function buildAsyncApi(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {}
  const channels: Record<string, Channel> = {}
  const operations: Record<string, unknown> = {}
  const channel = (address: string, description: string, layout: typeof week): Channel =>
    (channels[address] = { address, description, messages: {}, bindings: { kafka: { topic: address, ...layout, ...kafkaBinding } } })

  for (const topic of Object.values(Topics)) {
    channel(topic, `Business topic written by the ${producers[topic]} service's outbox; key = aggregate id.`, week)
    channel(dlqTopic(topic), `Dead letters of ${topic}, copied here by the consumer group that gave up (outside tools read it; no TrackOps service does).`, month)
      .messages.DEAD_LETTER = messageRef('DEAD_LETTER')
  }
  messages.DEAD_LETTER = deadLetterMessage()
  for (const type of Object.keys(messageCatalog) as MessageType[]) {
    messages[type] = businessMessage(type)
    for (const topic of topicsOf(type)) channels[topic]!.messages[type] = messageRef(type)
  }
  for (const name of Object.keys(rowChangeCatalog) as RowChangeType[]) {
    const { topic, table } = rowChangeCatalog[name]
    channel(topic, `Raw Debezium change events of the ${table} table (connector ${cdcConnectors[topic]}); facts about rows, not business events.`, week).messages[name] = messageRef(name)
    messages[name] = rowChangeMessage(name)
  }

  const allOf = (address: string) => Object.keys(channels[address]!.messages).map((name) => channelMessageRef(address, name))
  for (const topic of Object.values(Topics)) {
    const service = producers[topic]
    operations[`${service}.send.${topic}`] = {
      action: 'send', channel: channelRef(topic), messages: allOf(topic), tags: [{ name: service }],
      summary: `The ${service} service publishes ${topic} (through its outbox, in the transaction of the change).`,
    }
  }
  for (const c of consumerGroups) {
    const when = c.strategy ? ` Runs under the ${c.strategy} publishing strategy only.` : ''
    for (const topic of c.topics) {
      operations[`${c.group}.receive.${topic}`] = {
        action: 'receive', channel: channelRef(topic), messages: allOf(topic), tags: [{ name: c.service }],
        summary: `The ${c.service} service's consumer group ${c.group} ${c.purpose}.${when}`,
        bindings: { kafka: { groupId: { type: 'string', enum: [c.group] }, ...kafkaBinding } },
      }
      if (c.cdc) continue
      const dlq = dlqTopic(topic)
      operations[`${c.group}.send.${dlq}`] = {
        action: 'send', channel: channelRef(dlq), messages: allOf(dlq), tags: [{ name: c.service }],
        summary: `The consumer group ${c.group} copies a record of ${topic} it gave up on here (the durable dead letter is the row in its database).${when}`,
      }
    }
  }
  for (const name of Object.keys(rowChangeCatalog) as RowChangeType[]) {
    const { topic } = rowChangeCatalog[name]
    operations[`debezium.send.${topic}`] = {
      action: 'send', channel: channelRef(topic), messages: allOf(topic), tags: [{ name: 'debezium' }],
      summary: `Kafka Connect's Debezium connector ${cdcConnectors[topic]} publishes each committed change of the table, under either publishing strategy.`,
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'TrackOps events',
      version,
      description:
        'Events and commands exchanged by TrackOps services over Kafka, and the raw CDC topics Debezium writes. Every business value is a JSON envelope {id, type, version, occurredAt, aggregateType, aggregateId, correlationId, causationId?, data}; the key is the aggregate id. ' +
        'Operations are named <service or consumer group>.<send|receive>.<topic> and tagged with the service. ' + MONEY,
      tags: [
        { name: 'orders', description: 'The order service: orders, the saga orchestrator.' },
        { name: 'inventory', description: 'The inventory service: stock and reservations.' },
        { name: 'payments', description: 'The payment service.' },
        { name: 'debezium', description: 'Kafka Connect with the Debezium PostgreSQL connectors (CDC).' },
      ],
    },
    defaultContentType: 'application/json',
    servers: { local: { host: '127.0.0.1:9092', protocol: 'kafka', description: 'The local stack (npm run up).' } },
    channels,
    operations,
    components: { messages },
  }
}
