// A scratch database with the messaging tables, recreated for each test file, plus Kafka helpers.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import pino from 'pino'
import { sql, type Generated, type Kysely } from 'kysely'
import { runner } from 'node-pg-migrate'
import { createDb } from '@trackops/runtime'
import { createKafkaAdmin, messagingMigrationsDir, type MessagingTables } from '../src/index.ts'
import { subscribe, type KafkaRecordIn } from '../src/kafka.ts'
import { testEnv } from '../../../tests/support/env.ts'

export const TEST_TOPIC = 'trackops.test.events'
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** The messaging tables plus the `effects` table test handlers write to. */
export interface TestDb extends MessagingTables {
  effects: { seq: Generated<number>; message_id: string; key: string; n: number }
}

export async function scratchDatabase(name: string): Promise<{ db: Kysely<TestDb>; url: string; drop: () => Promise<void> }> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`)
  await runner({ databaseUrl: url, dir: messagingMigrationsDir, direction: 'up', migrationsTable: 'pgmigrations_messaging', log: () => undefined })
  const db = createDb<TestDb>(url, { max: 8 })
  await sql`CREATE TABLE effects (seq bigserial PRIMARY KEY, message_id uuid NOT NULL, key text NOT NULL, n integer NOT NULL)`.execute(db)
  return {
    db,
    url,
    drop: async () => {
      await db.destroy()
    },
  }
}

export async function ensureTestTopics() {
  const admin = createKafkaAdmin({ brokers: testEnv.brokers, clientId: 'messaging-test-admin' })
  await admin.createTopics([{ name: TEST_TOPIC, partitions: 3 }, { name: `${TEST_TOPIC}.dlq`, partitions: 3 }])
  await admin.close()
}

/** Collects every record of the given topics from now on (a fresh group at the log end is not possible, so filter by key). */
export async function collect(topics: string[], accept: (r: KafkaRecordIn) => boolean) {
  const seen: KafkaRecordIn[] = []
  const sub = await subscribe({
    brokers: testEnv.brokers,
    groupId: `test-collector-${randomUUID()}`,
    clientId: 'test-collector',
    topics,
    onRecord: (record, commit) => {
      if (accept(record)) seen.push(record)
      void commit().catch(() => undefined)
    },
    onError: () => undefined,
  })
  return { seen, close: () => sub.close() }
}

export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
