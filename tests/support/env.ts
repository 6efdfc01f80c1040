// Settings for tests: the same variables as the services, with the local defaults of .env.example.
import { signToken, DEV_JWT_SECRET, type Role } from '@trackops/http'
import { brokerList } from '@trackops/messaging'

const env = process.env
// TEST_DB_SUFFIX gives a test run databases of its own (trackops_<service>_<suffix>), so two runs on one machine
// (a developer's and CI's) do not drop each other's databases at start.
export const testDbSuffix = env.TEST_DB_SUFFIX ?? 'ct'
export const componentDbName = (service: 'orders' | 'inventory' | 'payments') => `trackops_${service}_${testDbSuffix}`
const swapDb = (url: string, service: 'orders' | 'inventory' | 'payments') => url.replace(/\/[^/?]+(\?|$)/, `/${componentDbName(service)}$1`)
const live = {
  orders: env.ORDERS_DATABASE_URL ?? 'postgres://orders_svc:orders_dev_pw@127.0.0.1:5432/trackops_orders',
  inventory: env.INVENTORY_DATABASE_URL ?? 'postgres://inventory_svc:inventory_dev_pw@127.0.0.1:5432/trackops_inventory',
  payments: env.PAYMENTS_DATABASE_URL ?? 'postgres://payments_svc:payments_dev_pw@127.0.0.1:5432/trackops_payments',
}
const relay = {
  orders: env.RELAY_ORDERS_DATABASE_URL ?? 'postgres://relay_svc:relay_dev_pw@127.0.0.1:5432/trackops_orders',
  inventory: env.RELAY_INVENTORY_DATABASE_URL ?? 'postgres://relay_svc:relay_dev_pw@127.0.0.1:5432/trackops_inventory',
  payments: env.RELAY_PAYMENTS_DATABASE_URL ?? 'postgres://relay_svc:relay_dev_pw@127.0.0.1:5432/trackops_payments',
}
const component = (urls: typeof live) => ({
  orders: swapDb(urls.orders, 'orders'),
  inventory: swapDb(urls.inventory, 'inventory'),
  payments: swapDb(urls.payments, 'payments'),
})

export const testEnv = {
  /** The live databases the running services use (end-to-end tests only read them). */
  ordersDb: live.orders,
  inventoryDb: live.inventory,
  paymentsDb: live.payments,
  relayDbs: relay,
  /** Component tests' own databases, created by tests/support/global-setup.ts; nothing publishes from them. */
  componentDbs: component(live),
  componentRelayDbs: component(relay),
  adminDb: env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  brokers: brokerList(env.KAFKA_BROKERS ?? '127.0.0.1:9092'),
  connectUrl: env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083',
  /** Kafka Connect's JMX exporter (infra/lib/kafka.sh, CONNECT_METRICS_PORT). */
  connectMetricsUrl: `http://127.0.0.1:${env.CONNECT_METRICS_PORT ?? 9404}/metrics`,
  jwt: { secret: env.JWT_SECRET ?? DEV_JWT_SECRET, issuer: env.JWT_ISSUER ?? 'trackops-local', audience: env.JWT_AUDIENCE ?? 'trackops' },
  urls: {
    orders: `http://127.0.0.1:${env.ORDERS_PORT ?? 8081}`,
    inventory: `http://127.0.0.1:${env.INVENTORY_PORT ?? 8082}`,
    relay: `http://127.0.0.1:${env.RELAY_PORT ?? 8084}`,
    payments: `http://127.0.0.1:${env.PAYMENTS_PORT ?? 8085}`,
    console: `http://127.0.0.1:${env.CONSOLE_PORT ?? 8080}`,
  },
}

export const tokenFor = (role: Role, sub = '00000000-0000-4000-8000-0000000000ad', expiresInSeconds = 3600) =>
  signToken({ ...testEnv.jwt, sub, roles: [role], expiresInSeconds })
