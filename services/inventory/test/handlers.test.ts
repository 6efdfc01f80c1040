// Path probes on inventory.commands (DESIGN §8): the order service checks that its commands reach inventory and
// that inventory's answers reach it; the answer travels through inventory's outbox like any reply.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { newMessage, PermanentError } from '@trackops/messaging'
import type { Db } from '../src/inventory-store.ts'
import { handler, logger, migrate, openDb } from './support.ts'

let db: Db
beforeAll(async () => {
  await migrate()
  db = openDb(4)
})
afterAll(() => db?.destroy())

const probe = (participant: 'inventory' | 'payments') =>
  newMessage('PATH_PROBE', { participant, probeId: randomUUID(), sentAt: new Date('2030-01-01T00:00:00.000Z').toISOString() }, { correlationId: `probe-${randomUUID()}` })
const handle = (message: ReturnType<typeof probe>, now = new Date()) =>
  db.transaction().execute((tx) => handler({ now: () => now })(tx, message, { correlationId: message.correlationId, causationId: message.id, log: logger, headers: {}, recordTimestamp: Date.now() }))
const answersTo = async (probeId: string) =>
  (await sql<{ type: string; topic: string; aggregateid: string; payload: string }>`
    SELECT type, topic, aggregateid, payload FROM outbox WHERE type = 'PATH_PROBE_ACK' AND payload::jsonb -> 'data' ->> 'probeId' = ${probeId}`.execute(db)).rows

describe('PATH_PROBE', () => {
  it('when a probe for inventory arrives, then PATH_PROBE_ACK echoing it goes out on inventory.events, keyed by the participant', async () => {
    const p = probe('inventory')
    const now = new Date('2030-01-01T00:00:01.000Z')
    await handle(p, now)
    const answers = await answersTo(p.data.probeId)
    expect(answers).toHaveLength(1)
    expect(answers[0]).toMatchObject({ type: 'PATH_PROBE_ACK', topic: 'inventory.events', aggregateid: 'inventory' })
    expect(JSON.parse(answers[0]!.payload)).toMatchObject({ aggregateType: 'messaging_path', correlationId: p.correlationId, causationId: p.id, occurredAt: now.toISOString(), data: p.data })
  })

  it('when the same probe is applied twice, then it is answered twice (harmless: the order service keeps the newest)', async () => {
    const p = probe('inventory')
    await handle(p)
    await handle(p)
    expect(await answersTo(p.data.probeId)).toHaveLength(2)
  })

  it('when a probe meant for payments reaches inventory, then it is refused permanently and nothing is answered', async () => {
    const p = probe('payments')
    await expect(handle(p)).rejects.toBeInstanceOf(PermanentError)
    expect(await answersTo(p.data.probeId)).toEqual([])
  })
})
