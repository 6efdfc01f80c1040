// The polling relay against real Kafka and PostgreSQL: at-least-once publishing, per-aggregate order across
// two relays, and failures recorded on the rows.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql, type Kysely } from 'kysely'
import { createConsumer, createKafkaProducer, createRelay, newMessage, pruneOutbox, publishBatch, recordOf, type KafkaProducer } from '../src/index.ts'
import { collect, ensureTestTopics, eventually, logger, scratchDatabase, TEST_TOPIC, type TestDb } from './support.ts'
import { testEnv } from '../../../tests/support/env.ts'

let db: Kysely<TestDb>
let url: string
let drop: () => Promise<void>
let producer: KafkaProducer

async function insertRow(key: string, n: number) {
  const m = newMessage('PAYMENT_PROCESSED', { orderId: key, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: n }, { correlationId: `relay-${key}` })
  await sql`INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent)
            VALUES (${m.id}, ${TEST_TOPIC}, 'order', ${key}, ${m.type}, ${JSON.stringify(m)}, ${m.correlationId}, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')`.execute(db)
  return m
}
const amount = (value: string) => (JSON.parse(value) as { data: { amountCents: number } }).data.amountCents

beforeAll(async () => {
  await ensureTestTopics()
  ;({ db, url, drop } = await scratchDatabase('trackops_relay_test'))
  producer = createKafkaProducer({ brokers: testEnv.brokers, clientId: 'relay-test' })
})
afterAll(async () => {
  await producer?.close()
  await drop?.()
})

describe('outbox relay', () => {
  it('when a relay dies between publishing and marking, then the batch is published again but applied once', async () => {
    const key = randomUUID()
    const rows = [await insertRow(key, 1), await insertRow(key, 2)]
    // the "dead" relay: published, never marked
    const stored = (await sql<any>`SELECT * FROM outbox WHERE aggregateid = ${key} ORDER BY seq`.execute(db)).rows
    await producer.send(stored.map(recordOf))
    // the next relay pass publishes the same rows again and marks them
    const source = { name: 'test', db, url }
    while ((await publishBatch(source, producer)) > 0);
    const unpublished = await sql`SELECT 1 FROM outbox WHERE aggregateid = ${key} AND published_at IS NULL`.execute(db)
    expect(unpublished.rows).toHaveLength(0)

    // A marker after the four, under the same key (same partition): once it is applied, the runner has been
    // through both copies of the batch, so "applied once" is a fact, not the result of waiting long enough.
    const marker = newMessage('PAYMENT_PROCESSED', { orderId: key, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 99 }, { correlationId: `relay-${key}` })
    await producer.send([recordOf({ id: marker.id, topic: TEST_TOPIC, aggregateid: key, type: marker.type, payload: JSON.stringify(marker), correlation_id: marker.correlationId, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })])

    const applied: number[] = []
    const wire = await collect([TEST_TOPIC], (r) => r.key === key)
    const runner = createConsumer({
      db, brokers: testEnv.brokers, producer, logger, group: `relay-test-${randomUUID()}`, topics: [TEST_TOPIC],
      handle: async (_tx, msg) => {
        if (msg.aggregateId === key && msg.type === 'PAYMENT_PROCESSED') applied.push(msg.data.amountCents)
      },
    })
    await runner.start()
    await eventually(() => wire.seen.length >= 5, 30_000, 'five records on the wire')
    await eventually(() => applied.includes(99), 30_000, 'the marker applied')
    await runner.stop()
    await wire.close()
    expect(wire.seen.map((r) => r.headers.id)).toEqual([rows[0]!.id, rows[1]!.id, rows[0]!.id, rows[1]!.id, marker.id])
    expect(applied).toEqual([1, 2, 99])
  })

  it('when two relays run together, then every aggregate keeps its order and nothing is lost', async () => {
    const keys = Array.from({ length: 6 }, () => randomUUID())
    const perKey = 40
    for (let n = 1; n <= perKey; n++) for (const key of keys) await insertRow(key, n)
    const wire = await collect([TEST_TOPIC], (r) => (keys as string[]).includes(r.key))
    const producers = [createKafkaProducer({ brokers: testEnv.brokers, clientId: 'relay-a' }), createKafkaProducer({ brokers: testEnv.brokers, clientId: 'relay-b' })]
    const relays = producers.map((p) => createRelay({ sources: [{ name: 'test', db, url }], producer: p, logger, pollMs: 50, batchSize: 7 }))
    await Promise.all(relays.map((r) => r.start()))
    await eventually(() => wire.seen.length >= keys.length * perKey, 60_000, 'all records')
    await Promise.all(relays.map((r) => r.stop()))
    await Promise.all(producers.map((p) => p.close()))
    await wire.close()
    for (const key of keys) {
      const sequence = wire.seen.filter((r) => r.key === key).map((r) => amount(r.value))
      expect(sequence).toEqual(Array.from({ length: perKey }, (_, i) => i + 1))
    }
  })

  it('when the broker cannot be reached, then the rows stay unpublished with the attempt and error recorded', async () => {
    const key = randomUUID()
    await insertRow(key, 1)
    const dead = createKafkaProducer({ brokers: ['127.0.0.1:1'], clientId: 'relay-dead' })
    const source = { name: 'test', db, url }
    await expect(publishBatch(source, dead)).rejects.toThrow(/publishing .* outbox rows of test failed/)
    await dead.close().catch(() => undefined)
    const row = (await sql<any>`SELECT published_at, attempts, last_error FROM outbox WHERE aggregateid = ${key}`.execute(db)).rows[0]
    expect(row.published_at).toBeNull()
    expect(row.attempts).toBe(1)
    expect(row.last_error).toBeTruthy()
    while ((await publishBatch(source, producer)) > 0);
    const after = (await sql<any>`SELECT published_at, last_error FROM outbox WHERE aggregateid = ${key}`.execute(db)).rows[0]
    expect(after.published_at).not.toBeNull()
    expect(after.last_error).toBeNull()
  })

  it('when a replication slot of the database is not being read, then pruning under debezium keeps the outbox whole until it is', async () => {
    const key = randomUUID()
    await insertRow(key, 1)
    await sql`UPDATE outbox SET created_at = now() - interval '1 hour' WHERE aggregateid = ${key}`.execute(db)
    const slot = `trackops_prune_test_${process.pid}`
    await sql`SELECT pg_create_logical_replication_slot(${slot}, 'pgoutput')`.execute(db)
    try {
      // nobody reads the slot (a stopped connector): its rows may be all the outbox still has of them
      expect(await pruneOutbox(db, { retentionSeconds: 600, strategy: 'debezium' })).toBe(0)
      expect((await sql`SELECT 1 FROM outbox WHERE aggregateid = ${key}`.execute(db)).rows).toHaveLength(1)
    } finally {
      await sql`SELECT pg_drop_replication_slot(${slot})`.execute(db)
    }
    expect(await pruneOutbox(db, { retentionSeconds: 600, strategy: 'debezium' })).toBeGreaterThanOrEqual(1)
    expect((await sql`SELECT 1 FROM outbox WHERE aggregateid = ${key}`.execute(db)).rows).toHaveLength(0)
  })
})
