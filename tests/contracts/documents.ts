// The five HTTP processes built as their main.ts builds them, without listening and without their
// dependencies: databases are pools that never connect (building an app runs no query), Kafka and the live
// fan-out are stand-ins no route is asked to use. Enough to read each app's routes and its OpenAPI document.
import pino from 'pino'
import { createApp, createVerifier, DEV_JWT_SECRET, routesOf, type App } from '@trackops/http'
import { createDb, createHealth } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import { buildApp as buildOrders } from '../../services/orders/src/http.ts'
import { createSaga } from '../../services/orders/src/saga/create-saga.ts'
import type { LiveOrders } from '../../services/orders/src/live-orders.ts'
import type { OrdersDb } from '../../services/orders/src/order-store.ts'
import type { InventoryDb } from '../../services/inventory/src/inventory-db.ts'
import type { PaymentsDb } from '../../services/payments/src/payment-store.ts'
import { buildApp as buildInventory } from '../../services/inventory/src/http.ts'
import { buildApp as buildPayments } from '../../services/payments/src/http.ts'
import { buildApp as buildRelay } from '../../services/relay/src/http.ts'
import { createSources } from '../../services/relay/src/sources.ts'
import { registerOps } from '../../console/src/server/ops.ts'
import { registerDevTokens } from '../../console/src/server/dev-tokens.ts'
import { consoleAppInfo } from '../../console/src/server/app-info.ts'

export const serviceNames = ['orders', 'inventory', 'payments', 'relay', 'console'] as const
export type ServiceName = (typeof serviceNames)[number]

const UNUSED_DB = 'postgres://unused@127.0.0.1:1/unused'

/** Builds every service's app (ready, not listening); `close` releases them. */
export async function buildServiceApps() {
  const logger = pino({ level: 'silent' })
  const base = () => ({
    logger,
    health: createHealth(),
    verify: createVerifier({ secret: DEV_JWT_SECRET, issuer: 'trackops', audience: 'trackops' }),
    // Production limits every process's requests (RATE_LIMIT_ENABLED defaults to true): 429 is part of the API.
    rateLimit: async () => null,
  })
  const dbs: { destroy(): Promise<void> }[] = []
  const db = <T>() => {
    const d = createDb<T>(UNUSED_DB)
    dbs.push(d)
    return d
  }
  const clock = { now: () => new Date(), newId: () => crypto.randomUUID() }
  const ordersDb = db<OrdersDb>()
  const sources = createSources({ orders: UNUSED_DB, inventory: UNUSED_DB, payments: UNUSED_DB })

  const apps: Record<ServiceName, App> = {
    orders: await buildOrders({
      ...base(), ...clock, db: ordersDb, saga: createSaga({ db: ordersDb, logger, ...clock, stepTimeoutSeconds: 30 }), live: {} as LiveOrders,
    }),
    inventory: await buildInventory({ ...base(), db: db<InventoryDb>(), reservationTtlSeconds: 1800 }),
    payments: await buildPayments({ ...base(), db: db<PaymentsDb>() }),
    relay: await buildRelay({ ...base(), sources, strategy: 'debezium', producer: null }),
    console: await createApp({ ...consoleAppInfo, ...base() }),
  }
  const unused = () => Promise.reject(new Error('Kafka is not used while building'))
  const admin = { describeCluster: unused, topicEndOffsets: unused, listGroups: unused, groupLag: unused, close: async () => undefined } as unknown as KafkaAdmin
  registerOps(apps.console, { services: [], connectUrl: 'http://127.0.0.1:1', admin, health: createHealth() })
  registerDevTokens(apps.console, { TRACKOPS_DEV_MODE: true, JWT_SECRET: DEV_JWT_SECRET, JWT_ISSUER: 'trackops', JWT_AUDIENCE: 'trackops' })
  await Promise.all(Object.values(apps).map((app) => app.ready()))
  return {
    apps,
    routes: (name: ServiceName) => routesOf(apps[name]),
    close: async () => {
      await Promise.allSettled(Object.values(apps).map((app) => app.close()))
      await Promise.allSettled([...dbs, ...sources.map((s) => s.db)].map((d) => d.destroy()))
    },
  }
}
