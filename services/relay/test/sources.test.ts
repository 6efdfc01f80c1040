// How a failing read on the source databases is answered: a source that cannot be reached is 503 naming it;
// a value the database refuses (SQLSTATE 22xxx) is the request's fault and goes on as it is (the shared error
// handler answers 400), never as "source database unavailable".
import { afterAll, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import { AppError } from '@trackops/http'
import { dataExceptionOf, createDb } from '@trackops/runtime'
import { testEnv } from '../../../tests/support/env.ts'
import { fromEach, type Source } from '../src/sources.ts'

const reachable: Source = { name: 'orders', url: testEnv.componentRelayDbs.orders, db: createDb(testEnv.componentRelayDbs.orders, { max: 1 }), connector: 'trackops-orders-outbox' }
const unreachableUrl = 'postgres://relay_svc:relay_dev_pw@127.0.0.1:1/trackops_inventory'
const unreachable: Source = { name: 'inventory', url: unreachableUrl, db: createDb(unreachableUrl, { max: 1 }), connector: 'trackops-inventory-outbox' }

afterAll(async () => {
  await Promise.allSettled([reachable.db.destroy(), unreachable.db.destroy()])
})

const failureOf = async (work: Promise<unknown>) => work.then(() => null, (error: unknown) => error)

describe('fromEach', () => {
  it('when a source refuses a value of the request (22003, 22P02, 22P05), then that error is thrown as it is, not relay.unavailable', async () => {
    const reads = [
      (s: Source) => sql`SELECT ${'99999999999'}::int`.execute(s.db),
      (s: Source) => sql`SELECT ${'abc'}::int`.execute(s.db),
      (s: Source) => sql`SELECT ${'{"a":"\\u0000"}'}::jsonb`.execute(s.db),
    ]
    const states = []
    for (const read of reads) {
      const error = await failureOf(fromEach([reachable], read))
      expect(error).not.toBeInstanceOf(AppError)
      states.push(dataExceptionOf(error))
    }
    expect(states).toEqual(['22003', '22P02', '22P05'])
  })

  it('when one source refuses the value and another cannot be reached, then the value error wins (retrying would not help)', async () => {
    const error = await failureOf(fromEach([unreachable, reachable], (s) => sql`SELECT ${'abc'}::int`.execute(s.db)))
    expect(dataExceptionOf(error)).toBe('22P02')
  })

  it('when a source cannot be reached, then 503 relay.unavailable naming it', async () => {
    const error = await failureOf(fromEach([reachable, unreachable], (s) => sql`SELECT 1`.execute(s.db)))
    expect(error).toBeInstanceOf(AppError)
    expect((error as AppError).status).toBe(503)
    expect((error as AppError).code).toBe('relay.unavailable')
    expect((error as AppError).message).toContain('inventory')
    expect((error as AppError).message).not.toContain('orders:')
  })
})
