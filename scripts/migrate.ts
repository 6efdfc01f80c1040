// Applies the messaging tables and then each service's own migrations to its database, as that service's role.
import { runner } from 'node-pg-migrate'
import { messagingMigrationsDir } from '@trackops/messaging'

const env = process.env
const targets = [
  { service: 'orders', url: env.ORDERS_DATABASE_URL ?? 'postgres://orders_svc:orders_dev_pw@127.0.0.1:5432/trackops_orders' },
  { service: 'inventory', url: env.INVENTORY_DATABASE_URL ?? 'postgres://inventory_svc:inventory_dev_pw@127.0.0.1:5432/trackops_inventory' },
  { service: 'payments', url: env.PAYMENTS_DATABASE_URL ?? 'postgres://payments_svc:payments_dev_pw@127.0.0.1:5432/trackops_payments' },
]

for (const { service, url } of targets) {
  const started = Date.now()
  try {
    const common = { databaseUrl: url, direction: 'up' as const, count: Infinity, log: () => undefined, checkOrder: true }
    const a = await runner({ ...common, dir: messagingMigrationsDir, migrationsTable: 'pgmigrations_messaging' })
    const b = await runner({ ...common, dir: new URL(`../services/${service}/migrations`, import.meta.url).pathname, migrationsTable: 'pgmigrations' })
    console.log(`  migrated ${service.padEnd(9)} ${a.length + b.length} new migration(s) in ${Date.now() - started} ms`)
  } catch (error) {
    console.error(`  migration of ${service} failed: ${error instanceof Error ? error.message : String(error)}`)
    console.error(`  check that PostgreSQL runs and the stack created the role and database (npm run stack:up).`)
    process.exit(1)
  }
}
