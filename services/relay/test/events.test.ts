// /api/events over the real outbox tables of every service database: reads and publishing on demand (outbox
// strategy) with a stand-in producer; under the debezium strategy publishing answers 409. Stats: publishing.test.ts.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '@trackops/http'
import { sql } from 'kysely'
import { newMessage } from '@trackops/messaging'
import { auth, closeAll, insertOutboxRow, outboxRow, recordingProducer, relayApp, scratchSource, TEST_TOPIC } from './support.ts'

let debeziumApp: App
let scratch: Awaited<ReturnType<typeof scratchSource>>
beforeAll(async () => {
  debeziumApp = await relayApp('debezium')
  scratch = await scratchSource('trackops_relay_events_test')
})
afterAll(async () => {
  await debeziumApp?.close()
  await scratch?.drop()
  await closeAll()
})

/** An outbox row in the scratch database (publishing tests only). */
async function scratchRow(opts: { key?: string } = {}) {
  const m = newMessage('PAYMENT_PROCESSED', { orderId: opts.key ?? randomUUID(), sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 1 }, { correlationId: `relay-test-${randomUUID()}` })
  await sql`INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
            VALUES (${m.id}, ${TEST_TOPIC}, 'order', ${m.aggregateId}, ${m.type}, ${JSON.stringify(m)}, ${m.correlationId}, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')`.execute(scratch.db)
  return m
}
const scratchRowState = async (id: string) =>
  (await sql<{ published_at: Date | null; attempts: number; last_error: string | null }>`SELECT published_at, attempts, last_error FROM outbox WHERE id = ${id}`.execute(scratch.db)).rows[0]

type Page = { content: { id: string; source: string }[]; page: number; size: number; totalElements: number; totalPages: number }

/** Walks the pages of a listing until the id shows up (shared tables: never assume where it lands). */
async function findInPages(app: App, url: string, id: string): Promise<{ found: boolean; first: Page }> {
  let first: Page | undefined
  for (let page = 0; page < 50; page++) {
    const res = await app.inject({ method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}size=100&page=${page}`, headers: await auth('operator') })
    expect(res.statusCode).toBe(200)
    const body = res.json() as Page
    first ??= body
    if (body.content.some((e) => e.id === id)) return { found: true, first }
    if (page + 1 >= body.totalPages) break
  }
  return { found: false, first: first! }
}

describe('reading outbox rows', () => {
  it('when an event is asked for by id, then it comes from whichever database holds it, with its source and parsed payload', async () => {
    const message = await insertOutboxRow('payments')
    const res = await debeziumApp.inject({ method: 'GET', url: `/api/events/${message.id}`, headers: await auth('operator') })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      id: message.id, source: 'payments', topic: 'trackops.test.events', aggregateId: message.aggregateId, eventType: 'PAYMENT_PROCESSED',
      correlationId: message.correlationId, published: false, publishedAt: null, attempts: 0, lastError: null,
      payload: { id: message.id, type: 'PAYMENT_PROCESSED', data: { amountCents: 100 } },
    })
  })

  it('when the id is unknown, malformed, or the caller lacks the role, then 404, 400, 403 and 401', async () => {
    expect((await debeziumApp.inject({ method: 'GET', url: `/api/events/${randomUUID()}`, headers: await auth('admin') })).json()).toMatchObject({ status: 404, code: 'events.not-found' })
    expect((await debeziumApp.inject({ method: 'GET', url: '/api/events/nope', headers: await auth('admin') })).statusCode).toBe(400)
    expect((await debeziumApp.inject({ method: 'GET', url: `/api/events/${randomUUID()}`, headers: await auth('customer') })).statusCode).toBe(403)
    expect((await debeziumApp.inject({ method: 'GET', url: `/api/events/${randomUUID()}` })).statusCode).toBe(401)
  })

  it('when an aggregate has events in two databases, then both come back in write order, each with its source', async () => {
    const orderId = randomUUID()
    const first = await insertOutboxRow('inventory', { aggregateId: orderId, type: 'RESERVATION_EXPIRED', ageSeconds: 2 })
    const second = await insertOutboxRow('payments', { aggregateId: orderId })
    const res = await debeziumApp.inject({ method: 'GET', url: `/api/events/aggregate/${orderId}`, headers: await auth('operator') })
    expect(res.statusCode).toBe(200)
    expect(res.json().map((e: { id: string; source: string }) => [e.id, e.source])).toEqual([
      [first.id, 'inventory'],
      [second.id, 'payments'],
    ])
    expect((await debeziumApp.inject({ method: 'GET', url: `/api/events/aggregate/${randomUUID()}`, headers: await auth('operator') })).json()).toEqual([])
  })

  it('when listing by type, then the row is there and the page fields add up; an unknown type is 400', async () => {
    const message = await insertOutboxRow('inventory', { type: 'RESERVATION_EXPIRED', ageSeconds: 500 })
    const { found, first } = await findInPages(debeziumApp, '/api/events/type/RESERVATION_EXPIRED?source=inventory', message.id)
    expect(found).toBe(true)
    expect(first.totalPages).toBe(Math.ceil(first.totalElements / 100))
    expect(first.content.every((e) => e.source === 'inventory')).toBe(true)
    const bad = await debeziumApp.inject({ method: 'GET', url: '/api/events/type/NOT_A_TYPE', headers: await auth('operator') })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().errors).toEqual([{ field: 'params.eventType', message: 'is not a known message type' }])
  })

  it('when listing unpublished rows, then an old unpublished row is listed; paging beyond the window or a bad source is 400', async () => {
    const message = await insertOutboxRow('orders', { ageSeconds: 550 })
    expect((await findInPages(debeziumApp, '/api/events/unprocessed?source=orders', message.id)).found).toBe(true)
    expect((await debeziumApp.inject({ method: 'GET', url: '/api/events/unprocessed?page=200&size=100', headers: await auth('operator') })).statusCode).toBe(400)
    expect((await debeziumApp.inject({ method: 'GET', url: '/api/events/unprocessed?source=billing', headers: await auth('operator') })).statusCode).toBe(400)
  })
})

describe('publishing on demand', () => {
  it('when the strategy is debezium, then processing one row or all rows is 409 and nothing is published', async () => {
    const message = await insertOutboxRow('orders')
    const one = await debeziumApp.inject({ method: 'POST', url: `/api/events/${message.id}/process`, headers: await auth('admin') })
    expect(one.statusCode).toBe(409)
    expect(one.json().detail).toMatch(/Debezium/)
    expect((await debeziumApp.inject({ method: 'POST', url: '/api/events/process-all', headers: await auth('admin') })).statusCode).toBe(409)
    expect((await outboxRow('orders', message.id))?.published_at).toBeNull()
  })

  it('when the strategy is outbox, then processing a row publishes it (once) and marks it; asking again reports it already published', async () => {
    const producer = recordingProducer()
    const app = await relayApp('outbox', producer, [scratch])
    try {
      const message = await scratchRow()
      const res = await app.inject({ method: 'POST', url: `/api/events/${message.id}/process`, headers: await auth('operator') })
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ id: message.id, source: 'payments', published: true, alreadyPublished: false })
      const sent = producer.sent.filter((r) => r.headers.id === message.id)
      expect(sent).toHaveLength(1)
      expect(sent[0]).toMatchObject({ topic: 'trackops.test.events', key: message.aggregateId, headers: { type: 'PAYMENT_PROCESSED', correlationId: message.correlationId } })
      expect((await scratchRowState(message.id))?.published_at).toBeInstanceOf(Date)

      const again = await app.inject({ method: 'POST', url: `/api/events/${message.id}/process`, headers: await auth('operator') })
      expect(again.json()).toMatchObject({ published: true, alreadyPublished: true })
      expect(producer.sent.filter((r) => r.headers.id === message.id)).toHaveLength(1)
      expect((await app.inject({ method: 'POST', url: `/api/events/${randomUUID()}/process`, headers: await auth('operator') })).statusCode).toBe(404)
      expect((await app.inject({ method: 'POST', url: `/api/events/${message.id}/process`, headers: await auth('customer') })).statusCode).toBe(403)
    } finally {
      await app.close()
    }
  })

  it('when Kafka refuses the batch, then 503 and the row records the attempt and the error (counted as failed in stats)', async () => {
    const app = await relayApp('outbox', recordingProducer('broker not available'), [scratch])
    try {
      const message = await scratchRow()
      const res = await app.inject({ method: 'POST', url: `/api/events/${message.id}/process`, headers: await auth('operator') })
      expect(res.statusCode).toBe(503)
      expect(res.json().detail).toMatch(/broker not available/)
      const row = await scratchRowState(message.id)
      expect(row).toMatchObject({ published_at: null, attempts: 1, last_error: expect.stringMatching(/broker not available/) })
      const stats = (await app.inject({ method: 'GET', url: '/api/events/stats', headers: await auth('operator') })).json()
      expect(stats.strategy).toBe('outbox')
      expect(stats.sources).toEqual([expect.objectContaining({ source: 'payments', failed: 1, unpublished: 1 })])
    } finally {
      await app.close()
    }
  })

  it('when process-all runs under the outbox strategy, then one pass runs per source and the counts are returned', async () => {
    const producer = recordingProducer()
    const app = await relayApp('outbox', producer, [scratch])
    try {
      // Rows other tests left unpublished in the scratch database (a refused batch) go out in the same pass.
      const leftOver = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`.execute(scratch.db)).rows[0]!.n
      const key = randomUUID()
      const rows = [await scratchRow({ key }), await scratchRow({ key }), await scratchRow()]
      const res = await app.inject({ method: 'POST', url: '/api/events/process-all?batchSize=500', headers: await auth('admin') })
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body).toMatchObject({ strategy: 'outbox', batchSize: 500, published: leftOver + 3, sources: [{ source: 'payments', published: leftOver + 3 }] })
      for (const r of rows) expect(producer.sent.filter((s) => s.headers.id === r.id)).toHaveLength(1)
      // one aggregate's rows keep their order on the wire
      expect(producer.sent.filter((s) => s.key === key).map((s) => s.headers.id)).toEqual([rows[0]!.id, rows[1]!.id])
      const nothing = await app.inject({ method: 'POST', url: '/api/events/process-all', headers: await auth('admin') })
      expect(nothing.json()).toMatchObject({ published: 0, batchSize: 200 })
      expect((await app.inject({ method: 'POST', url: '/api/events/process-all?batchSize=0', headers: await auth('admin') })).statusCode).toBe(400)
    } finally {
      await app.close()
    }
  })

  it('when a source is reconciled under debezium (a lost slot), then every row nothing marked goes out in order, pass after pass, and a second run has nothing left', async () => {
    const producer = recordingProducer()
    const app = await relayApp('debezium', producer, [scratch])
    try {
      const key = randomUUID()
      const rows = [await scratchRow({ key }), await scratchRow({ key }), await scratchRow({ key }), await scratchRow()]
      const before = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`.execute(scratch.db)).rows[0]!.n
      expect((await app.inject({ method: 'POST', url: '/api/events/reconcile?source=payments', headers: await auth('operator') })).statusCode).toBe(403)
      const res = await app.inject({ method: 'POST', url: '/api/events/reconcile?source=payments&batchSize=2', headers: await auth('admin') })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ source: 'payments', strategy: 'debezium', published: before })
      expect(res.json().passes).toBeGreaterThanOrEqual(Math.ceil(before / 2) + 1)
      for (const r of rows) expect(producer.sent.filter((s) => s.headers.id === r.id)).toHaveLength(1)
      expect(producer.sent.filter((s) => s.key === key).map((s) => s.headers.id)).toEqual(rows.slice(0, 3).map((r) => r.id))
      expect((await scratchRowState(rows[3]!.id))?.published_at).toBeInstanceOf(Date)
      const again = await app.inject({ method: 'POST', url: '/api/events/reconcile?source=payments', headers: await auth('admin') })
      expect(again.json()).toMatchObject({ published: 0, passes: 1 })
      expect((await app.inject({ method: 'POST', url: '/api/events/reconcile?source=elsewhere', headers: await auth('admin') })).statusCode).toBe(400)
    } finally {
      await app.close()
    }
  })
})

