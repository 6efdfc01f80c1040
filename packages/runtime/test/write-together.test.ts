import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { testEnv } from '../../../tests/support/env.ts'
import { createDb, writeTogether } from '../src/db.ts'

// A table of its own in the orders component database (recreated by every run's global setup).
interface Probe {
  write_together_probe: { id: number; note: string }
}
const db = createDb<Probe>(testEnv.componentDbs.orders, { max: 2, applicationName: 'write-together-test' })
const rows = async () => (await db.selectFrom('write_together_probe').select('id').orderBy('id').execute()).map((r) => r.id)

beforeAll(async () => {
  await sql`DROP TABLE IF EXISTS write_together_probe`.execute(db)
  await sql`CREATE TABLE write_together_probe (id int PRIMARY KEY, note text NOT NULL)`.execute(db)
})
afterAll(async () => {
  await sql`DROP TABLE IF EXISTS write_together_probe`.execute(db)
  await db.destroy()
})

describe('writeTogether: a transaction of writes in one flight', () => {
  it('when every statement succeeds, then all of them commit', async () => {
    await writeTogether(db, async (tx) => {
      await tx.insertInto('write_together_probe').values({ id: 1, note: 'a' }).execute()
      await tx.insertInto('write_together_probe').values([{ id: 2, note: 'b' }, { id: 3, note: 'c' }]).execute()
      await sql`UPDATE write_together_probe SET note = 'changed' WHERE id = 1`.execute(tx)
    })
    expect(await rows()).toEqual([1, 2, 3])
    expect((await db.selectFrom('write_together_probe').select('note').where('id', '=', 1).executeTakeFirstOrThrow()).note).toBe('changed')
  })

  it('when a statement in the middle fails, then nothing of the transaction stays, its own error is thrown and the connection serves again', async () => {
    const attempt = writeTogether(db, async (tx) => {
      await tx.insertInto('write_together_probe').values({ id: 10, note: 'before' }).execute()
      await tx.insertInto('write_together_probe').values({ id: 2, note: 'taken' }).execute() // duplicate key
      await tx.insertInto('write_together_probe').values({ id: 11, note: 'after' }).execute()
    })
    await expect(attempt).rejects.toMatchObject({ code: '23505', constraint: 'write_together_probe_pkey' })
    expect(await rows()).toEqual([1, 2, 3])
    // Both pooled connections, whichever ran the failed flight, are out of the aborted transaction.
    await Promise.all([4, 5].map((id) => writeTogether(db, async (tx) => void (await tx.insertInto('write_together_probe').values({ id, note: 'next' }).execute()))))
    expect(await rows()).toEqual([1, 2, 3, 4, 5])
  })

  it('when the same statement text comes again (prepared once per connection), then each call writes its own values', async () => {
    for (const id of [20, 21, 22]) await writeTogether(db, async (tx) => void (await tx.insertInto('write_together_probe').values({ id, note: `n${id}` }).execute()))
    const notes = await db.selectFrom('write_together_probe').select(['id', 'note']).where('id', '>=', 20).orderBy('id').execute()
    expect(notes).toEqual([{ id: 20, note: 'n20' }, { id: 21, note: 'n21' }, { id: 22, note: 'n22' }])
  })

  it('when the database is a Kysely of its own (not from createDb), then the same writes run as an ordinary transaction', async () => {
    const pool = new pg.Pool({ connectionString: testEnv.componentDbs.orders, max: 1 })
    const plain = new Kysely<Probe>({ dialect: new PostgresDialect({ pool }) })
    try {
      await writeTogether(plain, async (tx) => void (await tx.insertInto('write_together_probe').values({ id: 30, note: 'plain' }).execute()))
      await expect(
        writeTogether(plain, async (tx) => {
          await tx.insertInto('write_together_probe').values({ id: 31, note: 'x' }).execute()
          await tx.insertInto('write_together_probe').values({ id: 30, note: 'dup' }).execute()
        }),
      ).rejects.toMatchObject({ code: '23505' })
    } finally {
      await plain.destroy()
    }
    expect((await rows()).filter((id) => id >= 30)).toEqual([30])
  })
})
