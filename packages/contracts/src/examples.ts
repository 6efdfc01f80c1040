// Examples for the AsyncAPI document, built from the contract schemas themselves: a field's own `examples` when it
// has them, else a value its schema accepts. Nothing is written by hand, so an example cannot drift from its schema
// (test/asyncapi.test.ts checks each one against the validator and against what newMessage builds).
import type { TSchema } from 'typebox'
import { aggregateKeys, messageCatalog, type AnyMessage, type MessageType } from './messages.ts'

interface JsonSchema {
  type?: string
  format?: string
  const?: unknown
  enum?: unknown[]
  examples?: unknown[]
  anyOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  items?: JsonSchema
  minimum?: number
  minLength?: number
}

export const exampleTime = '2026-12-07T10:15:30.000Z'

/** A stable UUID per name, so one example's orderId is the same order in every other example. */
export function exampleUuid(name: string): string {
  // FNV-1a of the name under four seeds: 32 hex digits, then the version and variant nibbles of a v4 UUID.
  const hex = [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]
    .map((seed) => {
      let h = seed
      for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
      return h.toString(16).padStart(8, '0')
    })
    .join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** A value the schema accepts; `name` is the property it is for. */
export function exampleOf(schema: TSchema, name = 'value'): unknown {
  const s = schema as JsonSchema
  if (s.examples?.length) return s.examples[0]
  if ('const' in s) return s.const
  if (s.enum?.length) return s.enum[0]
  if (s.anyOf?.length) return exampleOf(s.anyOf[0] as TSchema, name)
  switch (s.type) {
    case 'object':
      return Object.fromEntries(Object.entries(s.properties ?? {}).map(([key, property]) => [key, exampleOf(property as TSchema, key)]))
    case 'array':
      return s.items ? [exampleOf(s.items as TSchema, name)] : []
    case 'string':
      if (s.format === 'uuid') return exampleUuid(name)
      if (s.format === 'date-time') return exampleTime
      return name.padEnd(s.minLength ?? 0, '-')
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1)
    case 'boolean':
      return true
    case 'null':
      return null
    default:
      return null
  }
}

/** The envelope newMessage would build around the example data of `type`. */
export function exampleMessage<T extends MessageType>(type: T): AnyMessage {
  const entry = messageCatalog[type]
  const data = exampleOf(entry.data) as Record<string, unknown>
  return {
    id: exampleUuid(`message ${type}`),
    type,
    version: 1,
    occurredAt: exampleTime,
    aggregateType: entry.aggregateType,
    aggregateId: String(data[aggregateKeys[entry.aggregateType]]),
    correlationId: exampleUuid('correlationId'),
    causationId: exampleUuid('causationId'),
    data,
  } as AnyMessage
}
