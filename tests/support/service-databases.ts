// A service database of a test run's own: dropped if it exists, created for the service's role (the relay's role may
// connect too), and migrated like the live one (messaging tables first, then the service's own).
import pg from 'pg'
import { runner } from 'node-pg-migrate'
import { messagingMigrationsDir } from '@trackops/messaging'
import { testEnv } from './env.ts'

export type ServiceWithDb = 'orders' | 'inventory' | 'payments'

export async function recreateServiceDatabases(databases: { service: ServiceWithDb; name: string; url: string }[]): Promise<void> {
  const admin = new pg.Client({ connectionString: testEnv.adminDb })
  await admin.connect()
  try {
    for (const { service, name } of databases) {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${name} OWNER ${service}_svc`)
      await admin.query(`REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC`)
      await admin.query(`GRANT CONNECT ON DATABASE ${name} TO ${service}_svc, relay_svc`)
    }
  } finally {
    await admin.end()
  }
  await Promise.all(databases.map(async ({ service, url }) => {
    const common = { databaseUrl: url, direction: 'up' as const, count: Infinity, log: () => undefined }
    await runner({ ...common, dir: messagingMigrationsDir, migrationsTable: 'pgmigrations_messaging' })
    await runner({ ...common, dir: new URL(`../../services/${service}/migrations`, import.meta.url).pathname, migrationsTable: 'pgmigrations' })
  }))
}
