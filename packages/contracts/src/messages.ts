import { Type, type Static, type TSchema } from 'typebox'
import { Topics, type Topic } from './topics.ts'

// Money inside messages is integer minor units (cents); decimals exist only at the HTTP edge. The descriptions and
// examples below are part of the schemas: the AsyncAPI document shows them, and its examples are built from them.
const Uuid = Type.String({ format: 'uuid' })
const Cents = Type.Integer({
  minimum: 0,
  description: 'Integer minor units (cents) of the currency. The REST APIs show the same amount as a decimal number (cents / 100): totalAmount, unitPrice, totalPrice, amount.',
  examples: [1999],
})
const Currency = Type.String({ minLength: 3, maxLength: 3, description: 'ISO 4217 code.', examples: ['USD'] })
const Quantity = Type.Integer({ minimum: 1 })
const Timestamp = Type.String({ format: 'date-time' })
const ProductId = Type.String({ minLength: 1, examples: ['PROD-004'] })
const Reason = (example: string) => Type.String({ description: 'For people: logs, the order timeline.', examples: [example] })
const OrderStatus = Type.Enum(['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED'])
const ChangeCause = Type.Enum(['customer', 'operator', 'saga', 'timeout', 'system'])
const Line = Type.Object({ productId: ProductId, quantity: Quantity })
const PricedLine = Type.Object({
  productId: ProductId,
  productName: Type.String({ examples: ['Wireless Mouse'] }),
  quantity: Quantity,
  unitPriceCents: Cents,
})
const SagaRef = { orderId: Uuid, sagaId: Uuid }

/** The services the order saga sends commands to; each has a commands topic and an events topic. */
export const participants = ['inventory', 'payments'] as const
export type Participant = (typeof participants)[number]
const PathProbe = Type.Object({
  participant: Type.Enum(participants),
  probeId: Uuid,
  /** The order service's clock when it enqueued the probe; the answer carries it back unchanged. */
  sentAt: Timestamp,
})

// One entry per message type: its topic, the aggregate it is keyed by, and the schema of `data`.
export const messageCatalog = {
  ORDER_CREATED: {
    topic: Topics.orderEvents,
    aggregateType: 'order',
    summary: 'An order was placed (status PENDING).',
    data: Type.Object({
      orderId: Uuid,
      customerId: Uuid,
      status: Type.Literal('PENDING'),
      totalCents: Cents,
      currency: Currency,
      items: Type.Array(PricedLine),
      version: Type.Integer(),
    }),
  },
  ORDER_STATUS_UPDATED: {
    topic: Topics.orderEvents,
    aggregateType: 'order',
    summary: "An order's status changed.",
    data: Type.Object({
      orderId: Uuid,
      previousStatus: OrderStatus,
      newStatus: OrderStatus,
      cause: ChangeCause,
      version: Type.Integer(),
    }),
  },
  ORDER_CANCELLED: {
    topic: Topics.orderEvents,
    aggregateType: 'order',
    summary: 'An order was cancelled, with the reason.',
    data: Type.Object({
      orderId: Uuid,
      previousStatus: OrderStatus,
      reason: Reason('cancelled by the customer'),
      cause: ChangeCause,
      version: Type.Integer(),
    }),
  },
  ORDER_DELIVERED: {
    topic: Topics.orderEvents,
    aggregateType: 'order',
    summary: 'An order was delivered.',
    data: Type.Object({ orderId: Uuid, version: Type.Integer() }),
  },
  RESERVE_INVENTORY: {
    topic: Topics.inventoryCommands,
    aggregateType: 'order',
    summary: "Reserve every line of an order, all or nothing (saga step 1).",
    data: Type.Object({ ...SagaRef, items: Type.Array(Line, { minItems: 1 }) }),
  },
  RELEASE_INVENTORY: {
    topic: Topics.inventoryCommands,
    aggregateType: 'order',
    summary: "Return an order's reserved stock (compensation).",
    data: Type.Object({ ...SagaRef, reason: Reason('payment failed: The card was declined.') }),
  },
  COMMIT_RESERVATION: {
    topic: Topics.inventoryCommands,
    aggregateType: 'order',
    summary: "Make an order's reserved stock sold (the order was confirmed).",
    data: Type.Object(SagaRef),
  },
  INVENTORY_RESERVED: {
    topic: Topics.inventoryEvents,
    aggregateType: 'order',
    summary: 'Every line of the order is reserved until expiresAt.',
    data: Type.Object({ ...SagaRef, items: Type.Array(PricedLine), expiresAt: Timestamp }),
  },
  INVENTORY_RESERVATION_FAILED: {
    topic: Topics.inventoryEvents,
    aggregateType: 'order',
    summary: 'The order could not be reserved; nothing stays reserved.',
    data: Type.Object({
      ...SagaRef,
      failedItems: Type.Array(
        Type.Object({
          productId: ProductId,
          requested: Type.Integer(),
          available: Type.Integer(),
          reason: Type.Enum(['UNKNOWN', 'INACTIVE', 'DISCONTINUED', 'INSUFFICIENT']),
        }),
      ),
    }),
  },
  INVENTORY_RELEASED: {
    topic: Topics.inventoryEvents,
    aggregateType: 'order',
    summary: "The order's reserved stock was returned.",
    data: Type.Object({ ...SagaRef, items: Type.Array(Line), reason: Reason('payment failed: The card was declined.') }),
  },
  RESERVATION_EXPIRED: {
    topic: Topics.inventoryEvents,
    aggregateType: 'order',
    summary: "An unconfirmed reservation expired and its stock returned.",
    data: Type.Object({ orderId: Uuid, items: Type.Array(Line), expiredAt: Timestamp }),
  },
  LOW_STOCK: {
    topic: Topics.inventoryEvents,
    aggregateType: 'inventory_item',
    summary: "A product's available stock fell to or below its minimum level (keyed by productId).",
    data: Type.Object({ productId: ProductId, available: Type.Integer(), minStockLevel: Type.Integer() }),
  },
  PROCESS_PAYMENT: {
    topic: Topics.paymentCommands,
    aggregateType: 'order',
    summary: 'Charge the order total (saga step 2).',
    data: Type.Object({
      ...SagaRef,
      customerId: Uuid,
      amountCents: Cents,
      currency: Currency,
      paymentToken: Type.String({ examples: ['tok_visa'] }),
    }),
  },
  REFUND_PAYMENT: {
    topic: Topics.paymentCommands,
    aggregateType: 'order',
    summary: "Refund the order's charge (compensation).",
    data: Type.Object({ ...SagaRef, reason: Reason('cancelled by the customer') }),
  },
  PAYMENT_PROCESSED: {
    topic: Topics.paymentEvents,
    aggregateType: 'order',
    summary: 'The order was charged.',
    data: Type.Object({ ...SagaRef, paymentId: Uuid, amountCents: Cents }),
  },
  PAYMENT_FAILED: {
    topic: Topics.paymentEvents,
    aggregateType: 'order',
    summary: 'The charge was declined or could not be made.',
    data: Type.Object({ ...SagaRef, reason: Reason('The card was declined.'), code: Type.String({ examples: ['card_declined'] }) }),
  },
  PAYMENT_REFUNDED: {
    topic: Topics.paymentEvents,
    aggregateType: 'order',
    summary: 'The charge was refunded (or there was none to refund: amountCents 0).',
    data: Type.Object({ ...SagaRef, paymentId: Type.Union([Uuid, Type.Null()]), amountCents: Cents }),
  },
  // The messaging path to each participant, probed end to end through the saga's own topics (DESIGN §8). Keyed by
  // the participant's name; consumers keep no inbox row for probes (answering twice is harmless, and they come
  // every few seconds) and never park them behind a dead letter.
  PATH_PROBE: {
    topic: { inventory: Topics.inventoryCommands, payments: Topics.paymentCommands },
    aggregateType: 'messaging_path',
    summary: 'A probe of the messaging path from the order service to a participant (data.participant picks the commands topic); answered with PATH_PROBE_ACK.',
    data: PathProbe,
    transient: true,
  },
  PATH_PROBE_ACK: {
    topic: { inventory: Topics.inventoryEvents, payments: Topics.paymentEvents },
    aggregateType: 'messaging_path',
    summary: "A participant's answer to PATH_PROBE, on its events topic, echoing the probe's data.",
    data: PathProbe,
    transient: true,
  },
} as const satisfies Record<string, { topic: Topic | Record<Participant, Topic>; aggregateType: string; summary: string; data: TSchema; transient?: true }>

/** The field of `data` holding a message's aggregate id — its envelope's aggregateId and its Kafka key — by aggregate type. */
export const aggregateKeys = { order: 'orderId', inventory_item: 'productId', messaging_path: 'participant' } as const

export type MessageType = keyof typeof messageCatalog
export type MessageData<T extends MessageType> = Static<(typeof messageCatalog)[T]['data']>
export const messageTypes = Object.keys(messageCatalog) as MessageType[]

/** The topic a message travels on: its type's, or for a path probe the participant's. */
export function topicOf(message: { type: MessageType; data: unknown }): Topic {
  const topic: Topic | Record<Participant, Topic> = messageCatalog[message.type].topic
  return typeof topic === 'string' ? topic : topic[(message.data as { participant: Participant }).participant]
}

/** Every topic a message type may travel on. */
export function topicsOf(type: MessageType): Topic[] {
  const topic: Topic | Record<Participant, Topic> = messageCatalog[type].topic
  return typeof topic === 'string' ? [topic] : Object.values(topic)
}

/** Consumers keep no inbox row for these types and never park them (see PATH_PROBE). */
export const isTransient = (type: MessageType): boolean => {
  const entry = messageCatalog[type]
  return 'transient' in entry && entry.transient
}

export const EnvelopeBase = Type.Object({
  id: Uuid,
  type: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  occurredAt: Timestamp,
  aggregateType: Type.String(),
  aggregateId: Type.String({ minLength: 1 }),
  correlationId: Type.String({ minLength: 1 }),
  causationId: Type.Optional(Type.String()),
  data: Type.Unknown(),
})

export interface Message<T extends MessageType = MessageType> {
  id: string
  type: T
  version: number
  occurredAt: string
  aggregateType: string
  aggregateId: string
  correlationId: string
  causationId?: string
  data: MessageData<T>
}

/** Any message, discriminated by `type` so handlers can switch exhaustively. */
export type AnyMessage = { [T in MessageType]: Message<T> }[MessageType]
export type MessageOf<T extends MessageType> = Extract<AnyMessage, { type: T }>
