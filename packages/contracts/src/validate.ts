import { Compile } from 'typebox/compile'
import { EnvelopeBase, messageCatalog, type AnyMessage, type MessageType } from './messages.ts'

export interface SchemaProblem {
  path: string
  message: string
}

const envelopeCheck = Compile(EnvelopeBase)
const dataChecks = Object.fromEntries(
  Object.entries(messageCatalog).map(([type, entry]) => [type, Compile(entry.data)]),
) as Record<MessageType, ReturnType<typeof Compile>>

export const isMessageType = (type: string): type is MessageType => Object.hasOwn(messageCatalog, type)

/** Checks a decoded value against the envelope and its type's data schema; every problem is reported. */
export function validateMessage(value: unknown): { ok: true; message: AnyMessage } | { ok: false; problems: SchemaProblem[] } {
  if (!envelopeCheck.Check(value)) {
    return { ok: false, problems: [...envelopeCheck.Errors(value)].map((e) => ({ path: e.instancePath || '/', message: e.message })) }
  }
  const envelope = value as { type: string; data: unknown }
  if (!isMessageType(envelope.type)) {
    return { ok: false, problems: [{ path: '/type', message: `unknown message type ${JSON.stringify(envelope.type)}` }] }
  }
  const check = dataChecks[envelope.type]
  if (!check.Check(envelope.data)) {
    return {
      ok: false,
      problems: [...check.Errors(envelope.data)].map((e) => ({ path: `/data${e.instancePath}`, message: e.message })),
    }
  }
  return { ok: true, message: value as AnyMessage }
}
