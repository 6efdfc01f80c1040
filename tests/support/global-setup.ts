// Component tests run against databases of their own (trackops_<service>_ct): same migrations and roles as the
// live ones, but no Debezium connector, relay or running service touches them, so nothing a test writes is
// published or acted on by the running system. Recreated at the start of every test run.
import pg from 'pg'
import { runner } from 'node-pg-migrate'
import { messagingMigrationsDir } from '@trackops/messaging'
import { componentDbName, testEnv } from './env.ts'

const services = ['orders', 'inventory', 'payments'] as const

export default async function setup() {
  const admin = new pg.Client({ connectionString: testEnv.adminDb })
  await admin.connect()
  try {
    for (const service of services) {
      const name = componentDbName(service)
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.query(`CREATE DATABASE ${name} OWNER ${service}_svc`)
      await admin.query(`REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC`)
      await admin.query(`GRANT CONNECT ON DATABASE ${name} TO ${service}_svc, relay_svc`)
    }
  } finally {
    await admin.end()
  }
  for (const service of services) {
    const common = { databaseUrl: testEnv.componentDbs[service], direction: 'up' as const, count: Infinity, log: () => undefined }
    await runner({ ...common, dir: messagingMigrationsDir, migrationsTable: 'pgmigrations_messaging' })
    await runner({ ...common, dir: new URL(`../../services/${service}/migrations`, import.meta.url).pathname, migrationsTable: 'pgmigrations' })
  }
}
