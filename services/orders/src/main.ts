// The order service: HTTP API, saga replies (orders-saga), the product-catalog replica (orders-catalog), the
// order cache's invalidation and the live feed (orders-cache, or orders-cache-events under the outbox strategy),
// the saga sweeper and the messaging-path probes it relies on, idempotency-key pruning. Kafka and Redis may be
// down at start: HTTP serves, consumers keep trying to join.
import { randomUUID } from 'node:crypto'
import { CdcTopics, Topics } from '@trackops/contracts'
import { configOrExit, createDb, createHealth, createLogger, createRedis, databaseComponent, initTracing, redisComponent, registerRedisMetrics, registerTableMetrics, runService } from '@trackops/runtime'
import { edgeOptions } from '@trackops/http'
import { cacheComponent, createCacheRegistry } from '@trackops/cache'
import { batchPolicyOf, createChangeConsumer, createConsumer, createKafkaAdmin, createKafkaProducer, messagingRetention, registerMessagingHealth } from '@trackops/messaging'
import { loadOrdersConfig } from './config.ts'
import { buildApp } from './http.ts'
import { createBatchHandler, createMessageHandler } from './handlers.ts'
import { createCatalogChangeHandler } from './catalog-changes.ts'
import type { Db } from './order-store.ts'
import { pruneIdempotencyKeys } from './idempotency-store.ts'
import { createSaga } from './saga/create-saga.ts'
import { createOrderCache } from './order-cache.ts'
import { createOrderChangeHandler, orderChangeOfEvent, orderChangeOfRow } from './order-changes.ts'
import { createLiveOrders } from './live-orders.ts'

const config = configOrExit('orders', () => loadOrdersConfig(process.env))
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('orders', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('orders', config.LOG_LEVEL)
const brokers = config.KAFKA_BROKERS

const db = createDb<unknown>(config.ORDERS_DATABASE_URL, { applicationName: 'trackops-orders', logger, notifyOutbox: config.EVENT_PUBLISHING_STRATEGY === 'outbox' }) as Db
const redis = createRedis(config.REDIS_URL, 'orders')
// Without a listener ioredis reports every failed reconnect as an unhandled 'error'; the health check reports it.
redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'))
const producer = createKafkaProducer({ brokers, clientId: 'orders' })
const admin = createKafkaAdmin({ brokers, clientId: 'orders-health' })

// One cache and one live feed per process: single-flight loading works within a process.
const caches = createCacheRegistry()
const orderCache = createOrderCache({ redis, db, logger, ttlSeconds: config.ORDER_CACHE_TTL_SECONDS, jitterSeconds: config.ORDER_CACHE_TTL_JITTER_SECONDS })
caches.add(orderCache.cache)
const live = createLiveOrders({ db, redis, redisUrl: config.REDIS_URL, logger, historyTtlSeconds: config.ORDER_LIVE_HISTORY_TTL_SECONDS })
// The cache replays invalidations it could not deliver on its next Redis call; when Redis returns, make that call now.
redis.on('ready', () => void orderCache.cache.invalidate('-reconnected', 0))

// The clock and the ids of everything this process writes.
const clock = { now: () => new Date(), newId: randomUUID }
// The order saga, built once: place/cancel (HTTP), replies (orders-saga), its routes, the sweeper and the probes use it.
const saga = createSaga({
  db,
  logger,
  ...clock,
  stepTimeoutSeconds: config.ORDER_SAGA_STEP_TIMEOUT_SECONDS,
  paths: { probeIntervalMs: config.ORDER_PATH_PROBE_INTERVAL_MS, outageBoundSeconds: config.ORDER_PATH_OUTAGE_BOUND_SECONDS },
})

const health = createHealth()
health.register('db', databaseComponent(db))
registerTableMetrics(db, logger)
health.register('redis', redisComponent(redis))
registerRedisMetrics(redis, logger)
health.register('cache', cacheComponent(caches, { liveUpdates: () => ({ degraded: live.stats().degraded, listeners: live.stats().listeners }) }))
registerMessagingHealth(health, { admin, db, strategy: config.EVENT_PUBLISHING_STRATEGY, connectUrl: config.KAFKA_CONNECT_URL, connector: 'trackops-orders-outbox', slot: 'trackops_orders_outbox' })
health.register('messagingPath', saga.pathHealth())

const app = await buildApp({
  db,
  logger,
  health,
  ...edgeOptions('orders', config, redis),
  saga,
  ...clock,
  cache: orderCache,
  caches,
  live,
})

// Invalidation and the live feed follow committed changes: the raw CDC topic of the orders table, or, under the
// outbox strategy, the ORDER_* domain events (they carry the order version). Both are at-least-once and fenced.
const applyOrderChange = createOrderChangeHandler({ cache: orderCache.cache, live, logger })
const orderChanges =
  config.EVENT_PUBLISHING_STRATEGY === 'outbox'
    ? createConsumer({
        db,
        brokers,
        producer,
        logger,
        group: 'orders-cache-events',
        topics: [Topics.orderEvents],
        batch: batchPolicyOf(config),
        handle: async (_tx, message) => {
          const change = orderChangeOfEvent(message)
          if (change) await applyOrderChange(change)
        },
      })
    : createChangeConsumer({
        brokers,
        logger,
        group: 'orders-cache',
        topics: [CdcTopics.orders],
        // Every change, not only the latest: watchers of the live feed see each status an order passes through.
        batch: batchPolicyOf(config),
        handle: async (row) => {
          const change = orderChangeOfRow(row)
          if (change) await applyOrderChange(change)
        },
      })
const retentionMs = config.ORDER_IDEMPOTENCY_RETENTION_HOURS * 3_600_000

await runService({
  logger,
  http: { listen: () => app.listen({ host: config.HOST, port: config.ORDERS_PORT }), close: () => app.close() },
  workers: [
    createConsumer({ db, brokers, producer, logger, group: 'orders-saga', topics: [Topics.inventoryEvents, Topics.paymentEvents], handle: createMessageHandler({ saga }), handleBatch: createBatchHandler({ saga }), batch: batchPolicyOf(config) }),
    // The replica needs each product as it is now: of a burst of stock changes, only the latest is written.
    createChangeConsumer({ brokers, logger, group: 'orders-catalog', topics: [CdcTopics.inventoryItems], handle: createCatalogChangeHandler({ db, logger }), batch: batchPolicyOf(config), latestOnly: true }),
    orderChanges,
  ],
  jobs: [
    saga.createSweeper().job(),
    saga.probeJob(),
    { name: 'idempotency-key pruning', intervalMs: 3_600_000, run: () => pruneIdempotencyKeys(db, new Date(Date.now() - retentionMs)) },
    messagingRetention({ db, hours: config.INBOX_RETENTION_HOURS, now: clock.now }),
  ],
  close: [() => applyOrderChange.drain(), () => live.close(), () => producer.close(), () => admin.close(), async () => redis.quit(), () => db.destroy()],
})
