// The fuzz suite's own databases (trackops_<service>_fuzz): migrated like the component-test databases, but
// written by nothing else, so a digest of a whole database before and after a rejected request proves that the
// request wrote nothing. Recreated by every run of the suite.
import pg from 'pg'
import { sql, type Kysely } from 'kysely'
import { createDb } from '@trackops/runtime'
import { testDbSuffix, testEnv } from '../support/env.ts'
import { recreateServiceDatabases } from '../support/service-databases.ts'

export const fuzzServices = ['orders', 'inventory', 'payments'] as const
export type FuzzService = (typeof fuzzServices)[number]

const fuzzName = (service: FuzzService) => `trackops_${service}_fuzz${testDbSuffix === 'ct' ? '' : `_${testDbSuffix}`}`
const swapDb = (url: string, service: FuzzService) => url.replace(/\/[^/?]+(\?|$)/, `/${fuzzName(service)}$1`)

/** Connection strings: each service's own role, and the relay's role on the same databases. */
export const fuzzDbs = {
  own: Object.fromEntries(fuzzServices.map((s) => [s, swapDb(testEnv.componentDbs[s], s)])) as Record<FuzzService, string>,
  relay: Object.fromEntries(fuzzServices.map((s) => [s, swapDb(testEnv.componentRelayDbs[s], s)])) as Record<FuzzService, string>,
}

export async function createFuzzDatabases(): Promise<void> {
  await recreateServiceDatabases(fuzzServices.map((service) => ({ service, name: fuzzName(service), url: fuzzDbs.own[service] })))
}

export async function dropFuzzDatabases(): Promise<void> {
  const admin = new pg.Client({ connectionString: testEnv.adminDb })
  await admin.connect()
  try {
    for (const service of fuzzServices) await admin.query(`DROP DATABASE IF EXISTS ${fuzzName(service)} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

export const openFuzzDb = <DB>(service: FuzzService, max = 4): Kysely<DB> => createDb<DB>(fuzzDbs.own[service], { max, applicationName: `fuzz-${service}` })

/**
 * A digest of a whole database: row count and newest row version (max xmin) of every table, so an insert,
 * update or delete anywhere changes it. Cheap on these small databases; meaningful only because nothing else
 * writes to them.
 */
export function digester<DB>(db: Kysely<DB>): () => Promise<string> {
  let query: ReturnType<typeof sql<{ t: string; n: string; x: string }>> | null = null
  return async () => {
    if (!query) {
      const tables = await sql<{ name: string }>`SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`.execute(db)
      const parts = tables.rows.map((t) => sql`SELECT ${t.name} AS t, count(*)::text AS n, coalesce(max(xmin::text::bigint), 0)::text AS x FROM ${sql.raw(t.name)}`)
      query = sql<{ t: string; n: string; x: string }>`${sql.join(parts, sql` UNION ALL `)}`
    }
    const rows = await query.execute(db)
    return rows.rows.map((r) => `${r.t}:${r.n}:${r.x}`).join(' ')
  }
}
