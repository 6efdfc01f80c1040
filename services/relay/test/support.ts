// Relay component tests work on the component-test copies of the service databases (tests/support/global-setup.ts):
// rows are inserted as each service's own role (relay_svc may not insert), and the relay reads and updates
// them as relay_svc, exactly as in production. Nothing publishes from these databases.
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import pino from 'pino'
import { sql } from 'kysely'
import pg from 'pg'
import { runner } from 'node-pg-migrate'
import { createDb, createHealth } from '@trackops/runtime'
import { messagingMigrationsDir, newMessage, type KafkaProducer, type KafkaRecordOut, type MessagingTables } from '@trackops/messaging'
import { createVerifier } from '@trackops/http'
import { testEnv, tokenFor } from '../../../tests/support/env.ts'
import { buildApp, type RelayAppDeps } from '../src/http.ts'
import { createSources, type Source, type SourceName } from '../src/sources.ts'

export const TEST_TOPIC = 'trackops.test.events'

export const ownerDbs = {
  orders: createDb<MessagingTables>(testEnv.componentDbs.orders, { max: 2 }),
  inventory: createDb<MessagingTables>(testEnv.componentDbs.inventory, { max: 2 }),
  payments: createDb<MessagingTables>(testEnv.componentDbs.payments, { max: 2 }),
}
export const relayUrls = {
  orders: testEnv.componentRelayDbs.orders,
  inventory: testEnv.componentRelayDbs.inventory,
  payments: testEnv.componentRelayDbs.payments,
}
export const sources = createSources(relayUrls)

/** Log lines, for asserting the audit trail. */
export const logLines: Record<string, unknown>[] = []
export const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  }),
)

/** A stand-in for Kafka: remembers what it was asked to send, or refuses everything. */
export function recordingProducer(fail?: string): KafkaProducer & { sent: KafkaRecordOut[] } {
  const sent: KafkaRecordOut[] = []
  return {
    sent,
    async send(records) {
      if (fail) throw new Error(fail)
      sent.push(...records)
    },
    async close() {},
  }
}

export async function relayApp(strategy: 'debezium' | 'outbox', producer: KafkaProducer | null = null, over: Source[] = sources, extra: Partial<RelayAppDeps> = {}) {
  const app = await buildApp({ sources: over, strategy, producer, logger, health: createHealth(), verify: createVerifier(testEnv.jwt), batchSize: 200, ...extra })
  await app.ready()
  return app
}

/** Inserts an outbox row into a service database, as that service would (optionally backdated). */
export async function insertOutboxRow(source: SourceName, opts: { aggregateId?: string; type?: 'PAYMENT_PROCESSED' | 'RESERVATION_EXPIRED'; ageSeconds?: number } = {}) {
  const orderId = opts.aggregateId ?? randomUUID()
  const message =
    opts.type === 'RESERVATION_EXPIRED'
      ? newMessage('RESERVATION_EXPIRED', { orderId, items: [{ productId: 'SKU-TEST', quantity: 1 }], expiredAt: new Date().toISOString() }, { correlationId: `relay-test-${randomUUID()}` })
      : newMessage('PAYMENT_PROCESSED', { orderId, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 100 }, { correlationId: `relay-test-${randomUUID()}` })
  await sql`
    INSERT INTO outbox (id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent, created_at)
    VALUES (${message.id}, ${TEST_TOPIC}, ${message.aggregateType}, ${orderId}, ${message.type}, ${JSON.stringify(message)},
            ${message.correlationId}, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            now() - make_interval(secs => ${opts.ageSeconds ?? 0}))`.execute(ownerDbs[source])
  return message
}

export async function outboxRow(source: SourceName, id: string) {
  return (await sql<{ published_at: Date | null; attempts: number; last_error: string | null }>`
    SELECT published_at, attempts, last_error FROM outbox WHERE id = ${id}`.execute(ownerDbs[source])).rows[0]
}

/** Inserts a dead letter as the consumer runner would, plus `parked` records of the same key behind it. */
const testGroups = new Set<string>()

export async function insertDeadLetter(source: SourceName, opts: { group: string; key?: string; topic?: string; parked?: number; status?: string }) {
  testGroups.add(opts.group)
  const id = randomUUID()
  const key = opts.key ?? randomUUID()
  const topic = opts.topic ?? TEST_TOPIC
  const message = newMessage('PAYMENT_PROCESSED', { orderId: key, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 700 }, { correlationId: `dlq-test-${id}` })
  const offset = Math.floor(Math.random() * 1e12)
  const headers = { id: message.id, type: message.type, correlationId: message.correlationId }
  await sql`
    INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers, message_id, message_type, error, attempts, status)
    VALUES (${id}, ${opts.group}, ${topic}, 0, ${offset}, ${key}, ${JSON.stringify(message)}, ${JSON.stringify(headers)},
            ${message.id}, ${message.type}, 'Error: handler exploded', 3, ${opts.status ?? 'DEAD'})`.execute(ownerDbs[source])
  const parked = []
  for (let i = 1; i <= (opts.parked ?? 0); i++) {
    const later = newMessage('PAYMENT_PROCESSED', { orderId: key, sagaId: randomUUID(), paymentId: randomUUID(), amountCents: 700 + i }, { correlationId: `dlq-test-${id}` })
    await sql`
      INSERT INTO parked_messages (consumer_group, topic, partition, "offset", record_key, record_value, headers)
      VALUES (${opts.group}, ${topic}, 0, ${offset + i}, ${key}, ${JSON.stringify(later)},
              ${JSON.stringify({ id: later.id, type: later.type, correlationId: later.correlationId })})`.execute(ownerDbs[source])
    parked.push(later)
  }
  return { id, key, topic, message, parked }
}

export async function letterStatus(source: SourceName, id: string) {
  return (await sql<{ status: string; resolved_by: string | null }>`SELECT status, resolved_by FROM dead_letters WHERE id = ${id}`.execute(ownerDbs[source])).rows[0]
}

/** Removes this run's dead letters, parked records and inbox rows, so no DLQ alert keeps firing on test data. */
async function removeTestLetters() {
  const groups = [...testGroups]
  if (groups.length === 0) return
  for (const db of Object.values(ownerDbs)) {
    await sql`DELETE FROM parked_messages WHERE consumer_group = ANY(${groups}::text[])`.execute(db)
    await sql`DELETE FROM dead_letters WHERE consumer_group = ANY(${groups}::text[])`.execute(db)
    await sql`DELETE FROM processed_events WHERE consumer_group = ANY(${groups}::text[])`.execute(db)
  }
  testGroups.clear()
}

export async function closeAll() {
  await removeTestLetters()
  await Promise.all([...Object.values(ownerDbs).map((db) => db.destroy()), ...sources.map((s) => s.db.destroy())])
}

export const auth = async (role: 'customer' | 'operator' | 'admin', sub?: string) => ({ authorization: `Bearer ${await tokenFor(role, sub)}` })

/**
 * Publishing with a stand-in producer marks rows published that never reached Kafka, so those tests run on a
 * scratch database with the messaging tables (never on the shared ones, where a relay may be publishing).
 */
export async function scratchSource(name: string): Promise<Source & { drop: () => Promise<void> }> {
  const adminUrl = testEnv.adminDb
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`)
  await runner({ databaseUrl: url, dir: messagingMigrationsDir, direction: 'up', migrationsTable: 'pgmigrations_messaging', log: () => undefined })
  const db = createDb<MessagingTables>(url, { max: 4 })
  return { name: 'payments', url, db, connector: 'trackops-payments-outbox', drop: () => db.destroy() }
}
