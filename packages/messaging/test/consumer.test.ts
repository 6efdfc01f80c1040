// The consumer runner against real Kafka and PostgreSQL: duplicates, poison records, parking and replay.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql, type Kysely } from 'kysely'
import type { AnyMessage } from '@trackops/contracts'
import { createConsumer, createKafkaAdmin, createKafkaProducer, messagingMetrics, newMessage, recordOf, type ConsumerRunner, type KafkaProducer } from '../src/index.ts'
import { collect, ensureTestTopics, eventually, logger, scratchDatabase, TEST_TOPIC, type TestDb } from './support.ts'
import { testEnv } from '../../../tests/support/env.ts'

let db: Kysely<TestDb>
let drop: () => Promise<void>
let producer: KafkaProducer
let runner: ConsumerRunner
const poisoned = new Set<string>()
const attemptsByKey = new Map<string, number>()
const mine = new Set<string>()
const probesApplied: string[] = []

const message = (orderId: string, n: number) =>
  newMessage('PAYMENT_PROCESSED', { orderId, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: n }, { correlationId: `test-${orderId}` })

const send = (m: AnyMessage) =>
  producer.send([recordOf({ id: m.id, topic: TEST_TOPIC, aggregateid: m.aggregateId, type: m.type, payload: JSON.stringify(m), correlation_id: m.correlationId, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })])

const fallbacks = async () => (await messagingMetrics.batchFallbacks.get()).values.find((v) => v.labels.group === runner.group)?.value ?? 0

const effects = async (key: string) =>
  (await sql<{ n: number; message_id: string }>`SELECT n, message_id FROM effects WHERE key = ${key} ORDER BY seq`.execute(db)).rows.map((r) => r.n)

beforeAll(async () => {
  await ensureTestTopics()
  ;({ db, drop } = await scratchDatabase('trackops_messaging_test'))
  producer = createKafkaProducer({ brokers: testEnv.brokers, clientId: 'messaging-test' })
  runner = createConsumer({
    db,
    brokers: testEnv.brokers,
    producer,
    logger,
    group: `messaging-test-${randomUUID()}`,
    topics: [TEST_TOPIC],
    retry: { attempts: 3, initialMs: 50, factor: 2, maxMs: 200 },
    resolveEveryMs: 200,
    // Long enough that records sent together land in one batch (one transaction).
    batch: { maxRecords: 100, maxWaitMs: 150 },
    handle: async (tx, msg) => {
      if (msg.type === 'PATH_PROBE') probesApplied.push(msg.data.probeId)
      if (!mine.has(msg.aggregateId)) return // records of earlier runs
      attemptsByKey.set(msg.aggregateId, (attemptsByKey.get(msg.aggregateId) ?? 0) + 1)
      if (poisoned.has(msg.aggregateId)) throw new Error('handler refuses this key')
      if (msg.type !== 'PAYMENT_PROCESSED') return
      await sql`INSERT INTO effects (message_id, key, n) VALUES (${msg.id}, ${msg.aggregateId}, ${msg.data.amountCents})`.execute(tx)
    },
  })
  await runner.start()
})

afterAll(async () => {
  await runner?.stop()
  await producer?.close()
  await drop?.()
})

describe('consumer runner', () => {
  it('when the same record is delivered twice, then it has one effect', async () => {
    const key = randomUUID()
    mine.add(key)
    const m = message(key, 1)
    await send(m)
    await send(m)
    const marker = message(key, 2)
    await send(marker)
    await eventually(async () => (await effects(key)).length >= 2, 30_000, 'both effects')
    expect(await effects(key)).toEqual([1, 2])
    const inbox = await sql<{ c: number }>`SELECT count(*)::int AS c FROM processed_events WHERE message_id = ${m.id}`.execute(db)
    expect(inbox.rows[0]?.c).toBe(1)
  })

  it('when a record fails every retry, then it is dead-lettered with its headers while other keys keep flowing', async () => {
    const bad = randomUUID()
    const good = randomUUID()
    mine.add(bad).add(good)
    poisoned.add(bad)
    const dlq = await collect([`${TEST_TOPIC}.dlq`], (r) => r.key === bad)
    await send(message(bad, 1))
    await send(message(good, 7))
    await eventually(async () => (await effects(good)).length === 1, 30_000, 'the healthy key')
    const letter = await eventually(async () => (await sql<any>`SELECT * FROM dead_letters WHERE record_key = ${bad}`.execute(db)).rows[0], 30_000, 'dead letter row')
    expect(letter).toMatchObject({ topic: TEST_TOPIC, attempts: 3, status: 'DEAD' })
    expect(letter.error).toContain('handler refuses this key')
    // Three attempts of its own; a first call may have run inside a batch that was rolled back for it.
    expect(attemptsByKey.get(bad)).toBeGreaterThanOrEqual(3)
    const copy = await eventually(() => dlq.seen[0], 30_000, 'the .dlq copy')
    expect(copy.headers).toMatchObject({ 'x-attempts': '3', 'x-original-topic': TEST_TOPIC, 'x-consumer-group': runner.group })
    expect(copy.headers['x-error']).toContain('handler refuses')
    await dlq.close()
  })

  it('when one poison record sits in a batch of good ones, then the batch is applied again one record at a time: the poison alone is dead-lettered, every good record applies once', async () => {
    const bad = randomUUID()
    mine.add(bad)
    poisoned.add(bad)
    const goods = Array.from({ length: 20 }, () => randomUUID())
    for (const g of goods) mine.add(g)
    const fallbacksBefore = await fallbacks()
    const batch = [...goods.slice(0, 10).map((g) => message(g, 1)), message(bad, 1), ...goods.slice(10).map((g) => message(g, 1))]
    await producer.send(batch.map((m) => recordOf({ id: m.id, topic: TEST_TOPIC, aggregateid: m.aggregateId, type: m.type, payload: JSON.stringify(m), correlation_id: m.correlationId, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })))
    await eventually(async () => (await sql`SELECT 1 FROM dead_letters WHERE record_key = ${bad}`.execute(db)).rows.length === 1, 30_000, 'the poison dead-lettered')
    // Records of other partitions may come in a later batch than the poison's: wait for all, then each applied once.
    await eventually(async () => (await Promise.all(goods.map(effects))).every((e) => e.length >= 1), 30_000, 'every good record applied')
    for (const g of goods) expect(await effects(g)).toEqual([1])
    const letter = (await sql<{ attempts: number }>`SELECT attempts FROM dead_letters WHERE record_key = ${bad}`.execute(db)).rows[0]
    expect(letter?.attempts).toBe(3)
    expect(await fallbacks()).toBeGreaterThan(fallbacksBefore)
  })

  it("when Kafka's data was reset and a new record takes an old dead letter's place (topic, partition, offset), then the new record's dead letter is stored too", async () => {
    const key = randomUUID()
    mine.add(key)
    // The old incarnation: a dead letter at the very place each partition's next record will take.
    const admin = createKafkaAdmin({ brokers: testEnv.brokers, clientId: 'messaging-test-admin' })
    const ends = await admin.topicEndOffsets([TEST_TOPIC])
    await admin.close()
    for (const [tp, end] of ends) {
      const partition = Number(tp.split(':').at(-1))
      await sql`INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers, error, attempts)
                VALUES (${randomUUID()}, ${runner.group}, ${TEST_TOPIC}, ${partition}, ${end.toString()}, 'old-key', 'an old record', '{}', 'old', 1)`.execute(db)
    }
    await producer.send([{ topic: TEST_TOPIC, key, value: '{not json', headers: {} }])
    const letter = await eventually(async () => (await sql<any>`SELECT error FROM dead_letters WHERE record_key = ${key}`.execute(db)).rows[0], 30_000, 'the new dead letter')
    expect(letter.error).toContain('not valid JSON')
  })

  it('when a record breaks its schema, then it is dead-lettered at once without retries', async () => {
    const key = randomUUID()
    mine.add(key)
    await producer.send([{ topic: TEST_TOPIC, key, value: JSON.stringify({ id: randomUUID(), type: 'PAYMENT_PROCESSED', data: {} }), headers: {} }])
    await producer.send([{ topic: TEST_TOPIC, key, value: '{not json', headers: {} }])
    const letters = await eventually(async () => {
      const rows = (await sql<any>`SELECT attempts, error FROM dead_letters WHERE record_key = ${key} ORDER BY "offset"`.execute(db)).rows
      return rows.length === 2 ? rows : undefined
    }, 30_000, 'two dead letters')
    expect(letters.map((l: { attempts: number }) => l.attempts)).toEqual([1, 1])
    expect(letters[0].error).toMatch(/^schema:/)
    expect(letters[1].error).toContain('not valid JSON')
  })

  /** A new key whose first record fails every retry and is dead-lettered (the handler stays poisoned for it). */
  async function deadLetteredKey(): Promise<string> {
    const key = randomUUID()
    mine.add(key)
    poisoned.add(key)
    await send(message(key, 1))
    await eventually(async () => (await sql`SELECT 1 FROM dead_letters WHERE record_key = ${key}`.execute(db)).rows.length === 1, 30_000, 'dead letter')
    return key
  }

  it('when a key is dead-lettered, then its later records are parked, and replaying applies both in order, once', async () => {
    const key = await deadLetteredKey()
    await send(message(key, 2))
    await send(message(key, 3))
    await eventually(async () => (await sql`SELECT 1 FROM parked_messages WHERE record_key = ${key}`.execute(db)).rows.length === 2, 30_000, 'two parked records')
    expect(await effects(key)).toEqual([])

    poisoned.delete(key) // the fix is deployed; an operator replays the dead letter
    await sql`UPDATE dead_letters SET status = 'REPLAY_REQUESTED' WHERE record_key = ${key}`.execute(db)
    await eventually(async () => (await effects(key)).length === 3, 30_000, 'replay and drain')
    expect(await effects(key)).toEqual([1, 2, 3])
    const parked = await sql`SELECT 1 FROM parked_messages WHERE record_key = ${key}`.execute(db)
    expect(parked.rows).toHaveLength(0)
    const status = await sql<{ status: string }>`SELECT status FROM dead_letters WHERE record_key = ${key}`.execute(db)
    expect(status.rows[0]?.status).toBe('REPLAYED')

    await send(message(key, 4)) // the key flows normally again
    await eventually(async () => (await effects(key)).length === 4, 30_000, 'normal flow')
    expect(await effects(key)).toEqual([1, 2, 3, 4])
  })

  it('when a dead letter is discarded, then the parked records behind it are applied', async () => {
    const key = await deadLetteredKey()
    await send(message(key, 2))
    await eventually(async () => (await sql`SELECT 1 FROM parked_messages WHERE record_key = ${key}`.execute(db)).rows.length === 1, 30_000, 'parked')
    poisoned.delete(key)
    await sql`UPDATE dead_letters SET status = 'DISCARDED' WHERE record_key = ${key}`.execute(db)
    await eventually(async () => (await effects(key)).length === 1, 30_000, 'drain after discard')
    expect(await effects(key)).toEqual([2])
  })

  it('when a path probe is delivered twice, then it is applied twice and leaves no inbox row (transient messages)', async () => {
    const probe = newMessage('PATH_PROBE', { participant: 'inventory', probeId: randomUUID(), sentAt: new Date().toISOString() }, { correlationId: `test-probe-${randomUUID()}` })
    await send(probe)
    await send(probe)
    await eventually(async () => probesApplied.filter((id) => id === probe.data.probeId).length === 2, 30_000, 'both deliveries applied')
    const inbox = await sql<{ c: number }>`SELECT count(*)::int AS c FROM processed_events WHERE message_id = ${probe.id}`.execute(db)
    expect(inbox.rows[0]?.c).toBe(0)
  })
})
