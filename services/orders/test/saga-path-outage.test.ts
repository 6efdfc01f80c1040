// Saga deadlines against the real database while the messaging path to a participant is down (DESIGN §8): probes
// sent through the outbox, answers applied through the order service's message handler, the sweeper on an injected
// clock. The path rows are shared by the whole database, so each test starts them afresh and the file leaves them
// unwatched (never probed) for the files that run after it.
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import type { Participant } from '@trackops/contracts'
import { newMessage, type HandlerContext } from '@trackops/messaging'
import { createMessageHandler } from '../src/handlers.ts'
import { findSaga } from '../src/saga/store.ts'
import { placeOrder } from '../src/place-order.ts'
import { getOrder } from '../src/order-store.ts'
import { listHistory } from '../src/history-store.ts'
import { listPaths } from '../src/saga/path-store.ts'
import { messagingPathComponent, sendProbes } from '../src/saga/probe-paths.ts'
import { pathMetrics } from '../src/saga/metrics.ts'
import { STEP_TIMEOUT_SECONDS, addProduct, address, createTestDb, createTestSaga } from './support.ts'

const db = createTestDb()
const logger = pino({ level: 'silent' })
const paths = { probeIntervalMs: 2_000, outageBoundSeconds: 60 }
const saga = createTestSaga(db, { logger, paths })
const sweeper = saga.createSweeper()
const otherCopy = createTestSaga(db, { logger, paths }).createSweeper()
/** The saga as a copy whose clock reads `now`. */
const sagaAt = (now: Date) => createTestSaga(db, { logger, paths, now: () => now })

const unwatch = () => sql`UPDATE messaging_paths SET probing_since = NULL, probe_sent_at = NULL, answered_sent_at = NULL, answered_at = NULL, down_since = NULL, last_outage_seconds = NULL, last_recovered_at = NULL`.execute(db)
beforeEach(unwatch)
afterAll(async () => {
  await unwatch()
  await db.destroy()
})

let T0 = new Date()
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
beforeEach(() => {
  T0 = new Date(Math.ceil(Date.now() / 1000) * 1000)
})

const ctxFor = (m: { id: string; correlationId: string }): HandlerContext => ({ correlationId: m.correlationId, causationId: m.id, headers: {}, recordTimestamp: Date.now(), log: logger })

/** One probe round trip: probes enqueued at `sent` (for every participant due), answered by `answered` (default: all of them) at `received`. */
async function roundTrip(sent: Date, received: Date, answered: Participant[] = ['inventory', 'payments']) {
  await sendProbes(db, sent, paths, randomUUID)
  const rows = await sql<{ payload: string }>`SELECT payload FROM outbox WHERE type = 'PATH_PROBE' AND created_at >= now() - interval '1 minute' ORDER BY seq`.execute(db)
  const probes = rows.rows.map((r) => JSON.parse(r.payload) as { data: { participant: Participant; probeId: string; sentAt: string } })
  const handle = createMessageHandler({ saga: sagaAt(received) })
  for (const probe of probes.filter((p) => p.data.sentAt === sent.toISOString() && answered.includes(p.data.participant))) {
    const ack = newMessage('PATH_PROBE_ACK', probe.data, { correlationId: 'probe' }, received)
    await db.transaction().execute((tx) => handle(tx, ack, ctxFor(ack)))
  }
}

async function place(now: Date) {
  const productId = await addProduct(db, { price: 12.5 })
  const { order } = await placeOrder(
    { db, now: () => now, newId: randomUUID, saga: sagaAt(now) },
    {
      order: { customerId: randomUUID(), address: { ...address() }, deliveryInstructions: null, items: [{ productId, quantity: 1 }], totalCents: null, paymentToken: 'tok_visa' },
      cause: 'customer',
      ctx: { correlationId: `path-outage-${randomUUID()}` },
    },
  )
  return order.id
}
const sagaOf = async (orderId: string) => (await findSaga(db, { orderId }))!
const pathOf = async (participant: Participant) => (await listPaths(db)).find((p) => p.participant === participant)!
const extendedCount = async () => ((await pathMetrics.extended.get()).values.find((v) => v.labels.participant === 'inventory')?.value ?? 0)

describe('saga deadlines and the messaging path', () => {
  it('when a step passes its deadline while the path to its participant is down, then it does not expire, and health says DEGRADED', async () => {
    await roundTrip(at(0), at(0.05))
    const orderId = await place(at(0))
    expect((await sagaOf(orderId)).stepDeadline).toEqual(at(STEP_TIMEOUT_SECONDS))

    await sweeper.sweepOnce(at(10)) // no answer for 10 s: the path to inventory is down since the last probe that got through
    expect((await pathOf('inventory')).downSince).toEqual(at(0))
    await sweeper.sweepOnce(at(STEP_TIMEOUT_SECONDS + 5))
    expect(await sagaOf(orderId)).toMatchObject({ status: 'RUNNING', currentStep: 'RESERVE_INVENTORY', stepDeadline: at(STEP_TIMEOUT_SECONDS) })

    const health = await messagingPathComponent(db, paths, () => at(STEP_TIMEOUT_SECONDS + 5)).check()
    expect(health.status).toBe('DEGRADED')
    expect(health.details).toMatchObject({ inventory: { status: 'DOWN', downForSeconds: STEP_TIMEOUT_SECONDS + 5, deadlinesHeld: true } })
  })

  it('when the path comes back, then deadlines held by the outage move later by its length, once, even with two sweepers', async () => {
    await roundTrip(at(0), at(0.05))
    const before = await place(at(0)) // waiting since before the outage: the whole outage is added
    await sweeper.sweepOnce(at(10))
    const during = await place(at(20)) // sent during the outage: only its part of it is added
    await sweeper.sweepOnce(at(35))
    const extendedBefore = await extendedCount()

    await roundTrip(at(38), at(40))
    await Promise.all([sweeper.sweepOnce(at(40)), otherCopy.sweepOnce(at(40))])
    expect(await sagaOf(before)).toMatchObject({ status: 'RUNNING', stepDeadline: at(STEP_TIMEOUT_SECONDS + 40) })
    expect(await sagaOf(during)).toMatchObject({ status: 'RUNNING', stepDeadline: at(20 + STEP_TIMEOUT_SECONDS + 20) })
    expect(await pathOf('inventory')).toMatchObject({ downSince: null, lastOutageSeconds: 40, lastRecoveredAt: at(40) })
    expect(await extendedCount()).toBeGreaterThanOrEqual(extendedBefore + 2)

    await roundTrip(at(41), at(41.05))
    await Promise.all([sweeper.sweepOnce(at(42)), otherCopy.sweepOnce(at(42))])
    expect((await sagaOf(before)).stepDeadline).toEqual(at(STEP_TIMEOUT_SECONDS + 40))
    const health = await messagingPathComponent(db, paths, () => at(42)).check()
    expect(health).toMatchObject({ status: 'UP', details: { inventory: { status: 'UP', lastOutageSeconds: 40 } } })
  })

  it('when the path is healthy, then an overdue step is cancelled as before, once a probe sent after its deadline came back', async () => {
    await roundTrip(at(0), at(0.05))
    const orderId = await place(at(0))
    for (let s = 2; s < STEP_TIMEOUT_SECONDS; s += 2) await roundTrip(at(s), at(s + 0.05))
    await sweeper.sweepOnce(at(STEP_TIMEOUT_SECONDS + 1)) // overdue, but no probe since the deadline has come back yet
    expect((await sagaOf(orderId)).status).toBe('RUNNING')

    await roundTrip(at(STEP_TIMEOUT_SECONDS + 1.5), at(STEP_TIMEOUT_SECONDS + 1.55))
    await sweeper.sweepOnce(at(STEP_TIMEOUT_SECONDS + 2))
    expect(await sagaOf(orderId)).toMatchObject({ status: 'COMPENSATING', currentStep: 'RELEASE_INVENTORY', cause: 'timeout', cancelReason: 'inventory reservation timed out' })
  })

  it('when the outage outlasts the bound, then the step times out and the order is cancelled with a reason naming the outage', async () => {
    await roundTrip(at(0), at(0.05))
    const orderId = await place(at(0))
    await sweeper.sweepOnce(at(10))
    await sweeper.sweepOnce(at(paths.outageBoundSeconds)) // at the bound: still held
    expect((await sagaOf(orderId)).status).toBe('RUNNING')

    await sweeper.sweepOnce(at(paths.outageBoundSeconds + 15))
    const reason = `inventory reservation timed out: the messaging path to inventory was unavailable for ${paths.outageBoundSeconds + 15} s`
    const timedOut = await sagaOf(orderId)
    expect(timedOut).toMatchObject({ status: 'COMPENSATING', currentStep: 'RELEASE_INVENTORY', cause: 'timeout', cancelReason: reason })
    expect(timedOut.steps.find((s) => s.name === 'RESERVE_INVENTORY')?.status).toBe('TIMED_OUT')

    const released = newMessage('INVENTORY_RELEASED', { orderId, sagaId: timedOut.id, items: [], reason }, { correlationId: 'r' })
    await db.transaction().execute((tx) => saga.handleReply(tx, released, ctxFor(released)))
    expect((await getOrder(db, orderId))!.status).toBe('CANCELLED')
    expect((await listHistory(db, orderId)).at(-1)).toMatchObject({ to: 'CANCELLED', cause: 'timeout', reason })
  })

  it('when only the path to payments is down, then steps waiting on inventory still expire', async () => {
    await roundTrip(at(0), at(0.05))
    const orderId = await place(at(0))
    for (let s = 2; s <= STEP_TIMEOUT_SECONDS + 2; s += 2) await roundTrip(at(s), at(s + 0.05), ['inventory'])
    await sweeper.sweepOnce(at(STEP_TIMEOUT_SECONDS + 3))
    expect((await pathOf('payments')).downSince).toEqual(at(0))
    expect(await sagaOf(orderId)).toMatchObject({ status: 'COMPENSATING', cancelReason: 'inventory reservation timed out' })
  })

  it('when two copies probe at once, then each participant gets one probe per interval', async () => {
    const [a, b] = await Promise.all([sendProbes(db, at(0), paths, randomUUID), sendProbes(db, at(0.3), paths, randomUUID)])
    expect([...a!, ...b!].sort()).toEqual(['inventory', 'payments'])
    expect(await sendProbes(db, at(1.9), paths, randomUUID)).toEqual([])
    expect(await sendProbes(db, at(2.5), paths, randomUUID)).toEqual(['inventory', 'payments']) // an interval after whichever went out
    // a copy whose clock is a little behind does not probe again; a send time far ahead (a clock stepped back) stops nothing
    expect(await sendProbes(db, at(1.5), paths, randomUUID)).toEqual([])
    expect(await sendProbes(db, at(-10), paths, randomUUID)).toEqual(['inventory', 'payments'])
  })

  it('when answers arrive out of order, then the newest answered probe is kept', async () => {
    await roundTrip(at(4), at(4.1))
    await roundTrip(at(0), at(4.2)) // not sent: a probe went out less than an interval before
    const handle = createMessageHandler({ saga: sagaAt(at(5)) })
    const late = newMessage('PATH_PROBE_ACK', { participant: 'inventory', probeId: randomUUID(), sentAt: at(1).toISOString() }, { correlationId: 'late' })
    await db.transaction().execute((tx) => handle(tx, late, ctxFor(late)))
    expect(await pathOf('inventory')).toMatchObject({ answeredSentAt: at(4), answeredAt: at(4.1) })
  })
})
