// The order service: HTTP API, saga replies (orders-saga), the product-catalog replica (orders-catalog), the
// order cache's invalidation and the live feed (orders-cache, or orders-cache-events under the outbox strategy),
// the saga sweeper and the messaging-path probes it relies on. Kafka and Redis may be down at start: HTTP serves,
// consumers keep trying to join.
import { CdcTopics, Topics } from '@trackops/contracts'
import { createDb, createHealth, createLogger, createRedis, databaseComponent, initTracing, onShutdown, redisComponent } from '@trackops/runtime'
import { createRateLimiter, createVerifier, rateLimitSettings } from '@trackops/http'
import { createCacheRegistry } from '@trackops/cache'
import { createChangeConsumer, createConsumer, createKafkaAdmin, createKafkaProducer, registerMessagingHealth } from '@trackops/messaging'
import { loadOrdersConfig } from './config.ts'
import { buildApp } from './http.ts'
import { createMessageHandler } from './handlers.ts'
import { createCatalogChangeHandler } from './catalog.ts'
import { pruneIdempotencyKeys, type Db } from './order-store.ts'
import { createSagaSweeper } from './saga-sweeper.ts'
import { messagingPathComponent, startPathProbes } from './probe-paths.ts'
import { createOrderCache, createOrderChangeHandler, orderChangeOfEvent, orderChangeOfRow } from './order-cache.ts'
import { createLiveOrders } from './live-orders.ts'

const config = loadOrdersConfig(process.env)
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('orders', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('orders', config.LOG_LEVEL)
const brokers = config.KAFKA_BROKERS
const stepTimeoutSeconds = config.ORDER_SAGA_STEP_TIMEOUT_SECONDS
const paths = { probeIntervalMs: config.ORDER_PATH_PROBE_INTERVAL_MS, outageBoundSeconds: config.ORDER_PATH_OUTAGE_BOUND_SECONDS }

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
const live = createLiveOrders({ db, redis, redisUrl: config.REDIS_URL, logger })
// The cache replays invalidations it could not deliver on its next Redis call; when Redis returns, make that call now.
redis.on('ready', () => void orderCache.cache.invalidate('-reconnected', 0))

const health = createHealth()
health.register('db', databaseComponent(db))
health.register('redis', redisComponent(redis))
health.register('cache', {
  required: false,
  check: async () => {
    const { caches: stats } = caches.snapshot()
    const feed = live.stats()
    const degraded = feed.degraded || Object.values(stats).some((s) => s.degraded)
    return {
      status: degraded ? 'DEGRADED' : 'UP',
      details: {
        ...Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, { degraded: s.degraded, hitRatio: s.hitRatio, pendingInvalidations: s.pendingInvalidations }])),
        liveUpdates: { degraded: feed.degraded, listeners: feed.listeners },
      },
    }
  },
})
registerMessagingHealth(health, { admin, db, strategy: config.EVENT_PUBLISHING_STRATEGY, connectUrl: config.KAFKA_CONNECT_URL, connector: 'trackops-orders-outbox', slot: 'trackops_orders_outbox' })
health.register('messagingPath', messagingPathComponent(db, paths))

const app = await buildApp({
  db,
  logger,
  health,
  verify: createVerifier({ secret: config.JWT_SECRET, jwksUrl: config.JWT_JWKS_URL, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }),
  rateLimit: createRateLimiter(redis, 'orders', rateLimitSettings(config)),
  metricsPublic: config.METRICS_PUBLIC,
  stepTimeoutSeconds,
  cache: orderCache,
  caches,
  live,
})

const sagaReplies = createConsumer({
  db,
  brokers,
  producer,
  logger,
  group: 'orders-saga',
  topics: [Topics.inventoryEvents, Topics.paymentEvents],
  handle: createMessageHandler({ stepTimeoutSeconds }),
})
const catalog = createChangeConsumer({
  brokers,
  logger,
  group: 'orders-catalog',
  topics: [CdcTopics.inventoryItems],
  handle: createCatalogChangeHandler({ db, logger }),
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
        handle: async (row) => {
          const change = orderChangeOfRow(row)
          if (change) await applyOrderChange(change)
        },
      })
const sweeper = createSagaSweeper({ db, logger, stepTimeoutSeconds, paths })

let stopping = false
/** Joins the consumer group, retrying while Kafka is unreachable. */
async function startWhenKafkaAnswers(runner: { start(): Promise<void>; group: string }) {
  for (let delay = 1_000; !stopping; delay = Math.min(delay * 2, 30_000)) {
    try {
      await runner.start()
      logger.info({ group: runner.group }, 'consumer group joined')
      return
    } catch (error) {
      logger.warn({ err: error, group: runner.group, retryInMs: delay }, 'could not join the consumer group; retrying')
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

const retentionMs = config.ORDER_IDEMPOTENCY_RETENTION_HOURS * 3_600_000
const pruning = setInterval(() => {
  pruneIdempotencyKeys(db, new Date(Date.now() - retentionMs)).catch((error) => logger.warn({ err: error }, 'pruning idempotency keys failed'))
}, 3_600_000)
pruning.unref()

await app.listen({ host: config.HOST, port: config.ORDERS_PORT })
sweeper.start()
const probes = startPathProbes({ db, logger, settings: paths })
void startWhenKafkaAnswers(sagaReplies)
void startWhenKafkaAnswers(catalog)
void startWhenKafkaAnswers(orderChanges)

onShutdown(logger, [
  async () => {
    stopping = true
    clearInterval(pruning)
  },
  () => app.close(),
  () => sweeper.stop(),
  () => probes.stop(),
  () => sagaReplies.stop(),
  () => catalog.stop(),
  () => orderChanges.stop(),
  () => applyOrderChange.drain(),
  () => live.close(),
  () => producer.close(),
  () => admin.close(),
  async () => redis.quit(),
  () => db.destroy(),
])
