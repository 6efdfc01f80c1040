// A participant's side of the messaging-path probe (DESIGN §8): the order service sends PATH_PROBE through the
// path its saga commands take, and the participant answers through its own outbox on its events topic, so an
// answer proves the whole round trip (outbox → publisher → Kafka → consumer → outbox → … → the saga's consumer).
import type { MessageOf, Participant } from '@trackops/contracts'
import { PermanentError } from './consumer.ts'
import { newMessage, type MessageContext } from './envelope.ts'
import type { Kysely } from 'kysely'
import { enqueue } from './outbox.ts'
import type { OutboxTables } from './tables.ts'

/** Answers a probe in the consumer's transaction; a probe meant for another participant is a routing error. */
export async function answerPathProbe<DB extends OutboxTables>(tx: Kysely<DB>, probe: MessageOf<'PATH_PROBE'>, participant: Participant, ctx: MessageContext, now: Date): Promise<void> {
  if (probe.data.participant !== participant) throw new PermanentError(`a PATH_PROBE for ${probe.data.participant} reached ${participant}`)
  const { probeId, sentAt } = probe.data
  await enqueue(tx, newMessage('PATH_PROBE_ACK', { participant, probeId, sentAt }, { correlationId: ctx.correlationId, ...(ctx.causationId ? { causationId: ctx.causationId } : {}) }, now))
}
