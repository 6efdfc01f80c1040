// Retention of the inbox and of resolved dead letters, against real PostgreSQL: what is older than the bound and
// finished goes, in batches of the given size, oldest first; what is recent or still blocks its key stays.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql, type Kysely } from 'kysely'
import client from 'prom-client'
import { messagingRetention, pruneMessagingTables } from '../src/index.ts'
import { scratchDatabase, type TestDb } from './support.ts'

let db: Kysely<TestDb>
let drop: () => Promise<void>
const now = new Date('2026-12-07T12:00:00Z')
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000)

async function inbox(at: Date, group = 'g') {
  const id = randomUUID()
  await db.insertInto('processed_events').values({ message_id: id, consumer_group: group, message_type: 'T', topic: 't', partition: 0, offset: '1', processed_at: at }).execute()
  return id
}
let offset = 0
async function deadLetter(status: 'DEAD' | 'REPLAYED' | 'DISCARDED', updatedAt: Date) {
  const id = randomUUID()
  offset += 1
  await sql`INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers, message_id, message_type, error, attempts, status, created_at, updated_at)
            VALUES (${id}, 'g', 't', 0, ${offset}, 'k', '{}', '{}', ${randomUUID()}, 'T', 'boom', 1, ${status}, ${updatedAt}, ${updatedAt})`.execute(db)
  return id
}
const inboxIds = async () => (await db.selectFrom('processed_events').select('message_id').execute()).map((r) => r.message_id).sort()
const deadIds = async () => (await db.selectFrom('dead_letters').select('id').execute()).map((r) => r.id).sort()
const deletedCount = async (table: string) => (await client.register.getSingleMetricAsString('trackops_retention_deleted_total')).split('\n').find((l) => l.includes(`table="${table}"`))?.split(' ')[1]

beforeAll(async () => {
  ;({ db, drop } = await scratchDatabase('trackops_retention_test'))
})
afterAll(async () => {
  await drop?.()
})

describe('inbox and dead-letter retention', () => {
  it('when rows outlived the bound, then only those go: recent inbox rows and unresolved dead letters stay', async () => {
    await inbox(hoursAgo(300))
    await inbox(hoursAgo(200), 'h')
    const recent = [await inbox(hoursAgo(100)), await inbox(hoursAgo(1))]
    await deadLetter('REPLAYED', hoursAgo(300))
    await deadLetter('DISCARDED', hoursAgo(250))
    const oldDead = await deadLetter('DEAD', hoursAgo(300)) // still blocks its key: kept whatever its age
    const recentReplayed = await deadLetter('REPLAYED', hoursAgo(10))

    const counts = await pruneMessagingTables(db, hoursAgo(192))

    expect(counts).toEqual({ inbox: 2, deadLetters: 2 })
    expect(await inboxIds()).toEqual([...recent].sort())
    expect(await deadIds()).toEqual([oldDead, recentReplayed].sort())
    expect(Number(await deletedCount('processed_events'))).toBeGreaterThanOrEqual(2)
    expect(Number(await deletedCount('dead_letters'))).toBeGreaterThanOrEqual(2)
  })

  it('when more rows are due than a batch holds, then the oldest go first and the job reports more work until none is left', async () => {
    await db.deleteFrom('processed_events').execute()
    await db.deleteFrom('dead_letters').execute()
    const ages = [400, 390, 380, 370, 360]
    const ids = []
    for (const h of ages) ids.push(await inbox(hoursAgo(h)))
    const keep = await inbox(hoursAgo(5))

    expect(await pruneMessagingTables(db, hoursAgo(192), 2)).toEqual({ inbox: 2, deadLetters: 0 })
    expect(await inboxIds()).toEqual([...ids.slice(2), keep].sort()) // the two oldest went

    const job = messagingRetention({ db, hours: 192, now: () => now })
    const signal = new AbortController().signal
    expect(await job.run(signal)).toBe(false) // 3 due, fewer than a batch: all gone in one run, nothing more to do
    expect(await inboxIds()).toEqual([keep])
  })
})
