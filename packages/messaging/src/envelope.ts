import { randomUUID } from 'node:crypto'
import { messageCatalog, validateMessage, type MessageData, type MessageOf, type MessageType } from '@trackops/contracts'

export interface MessageContext {
  correlationId: string
  /** The id of the message (or request) that caused this one. */
  causationId?: string
}

/**
 * Builds a validated envelope. The aggregate (and so the Kafka key) is the order, the product for LOW_STOCK, or the
 * participant for path probes.
 */
export function newMessage<T extends MessageType>(
  type: T,
  data: MessageData<T>,
  ctx: MessageContext,
  now: Date = new Date(),
  id: string = randomUUID(),
): MessageOf<T> {
  const entry = messageCatalog[type]
  const d = data as { orderId?: string; productId?: string; participant?: string }
  const aggregateId = entry.aggregateType === 'order' ? d.orderId : entry.aggregateType === 'messaging_path' ? d.participant : d.productId
  if (!aggregateId) throw new Error(`${type}: data carries no aggregate id`)
  const message = {
    id,
    type,
    version: 1,
    occurredAt: now.toISOString(),
    aggregateType: entry.aggregateType,
    aggregateId,
    correlationId: ctx.correlationId,
    ...(ctx.causationId ? { causationId: ctx.causationId } : {}),
    data,
  }
  const checked = validateMessage(message)
  if (!checked.ok) {
    // A message we build that fails its own schema is a programmer error: crash loudly.
    throw new Error(`${type} does not match its schema: ${checked.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
  }
  return message as unknown as MessageOf<T>
}
