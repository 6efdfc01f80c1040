// The inventory service: HTTP API, the saga's commands (inventory.commands), the item cache kept current from the
// raw change stream (inventory-cache), the reservation expiry sweeper.
import { randomUUID } from 'node:crypto'
import { CdcTopics, Topics } from '@trackops/contracts'
import { batchPolicyOf, createChangeConsumer, createConsumer, createKafkaAdmin, createKafkaProducer, messagingRetention, registerMessagingHealth } from '@trackops/messaging'
import { configOrExit, createDb, createHealth, createLogger, createRedis, databaseComponent, initTracing, loadConfig, redisComponent, registerRedisMetrics, registerTableMetrics, runService } from '@trackops/runtime'
import { edgeOptions } from '@trackops/http'
import { cacheComponent, createCacheRegistry } from '@trackops/cache'
import { inventoryConfigSchema } from './config.ts'
import { buildApp } from './http.ts'
import { commandsGroup, createCommandBatchHandler, createCommandHandler } from './handlers.ts'
import { reservationSweep } from './expire-reservations.ts'
import type { InventoryDb } from './inventory-db.ts'
import { createItemCache } from './item-cache.ts'
import { createItemChangeHandler } from './item-changes.ts'

const config = configOrExit('inventory', () => loadConfig(inventoryConfigSchema, process.env))
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('inventory', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('inventory', config.LOG_LEVEL)
const now = () => new Date()
const brokers = config.KAFKA_BROKERS

const db = createDb<InventoryDb>(config.INVENTORY_DATABASE_URL, { max: config.INVENTORY_DB_POOL_MAX, applicationName: 'inventory', logger, notifyOutbox: config.EVENT_PUBLISHING_STRATEGY === 'outbox' })
const redis = createRedis(config.REDIS_URL, 'inventory')
// Without a listener ioredis reports every failed reconnect as an unhandled 'error'; the health check reports it.
redis.on('error', (error) => logger.debug({ err: error }, 'redis connection error'))
const producer = createKafkaProducer({ brokers, clientId: `inventory-${process.pid}` })
const kafkaAdmin = createKafkaAdmin({ brokers, clientId: `inventory-health-${process.pid}` })

// One item cache per process: single-flight loading works within a process.
const caches = createCacheRegistry()
const itemCache = createItemCache({ redis, db, logger, ttlSeconds: config.INVENTORY_CACHE_TTL_SECONDS, jitterSeconds: config.INVENTORY_CACHE_TTL_JITTER_SECONDS })
caches.add(itemCache.cache)
// The cache replays invalidations it could not deliver on its next Redis call; when Redis returns, make that call now.
redis.on('ready', () => void itemCache.cache.invalidate('-reconnected', 0))

const health = createHealth()
health.register('db', databaseComponent(db))
registerTableMetrics(db, logger)
health.register('redis', redisComponent(redis))
registerRedisMetrics(redis, logger)
health.register('cache', cacheComponent(caches))
registerMessagingHealth(health, { admin: kafkaAdmin, db, strategy: config.EVENT_PUBLISHING_STRATEGY, connectUrl: config.KAFKA_CONNECT_URL, connector: 'trackops-inventory-outbox', slot: 'trackops_inventory_outbox' })

const app = await buildApp({
  db,
  logger,
  health,
  ...edgeOptions('inventory', config, redis),
  reservationTtlSeconds: config.INVENTORY_RESERVATION_TTL_SECONDS,
  now,
  cache: itemCache,
  caches,
})

const reserveDeps = { now, newId: randomUUID, ttlSeconds: config.INVENTORY_RESERVATION_TTL_SECONDS }

await runService({
  logger,
  http: { listen: () => app.listen({ host: config.HOST, port: config.INVENTORY_PORT }), close: () => app.close() },
  workers: [
    createConsumer({
      db,
      brokers,
      producer,
      logger,
      group: commandsGroup,
      topics: [Topics.inventoryCommands],
      batch: batchPolicyOf(config),
      handle: createCommandHandler(reserveDeps),
      handleBatch: createCommandBatchHandler(reserveDeps),
    }),
    // Item rows from the WAL, under either publishing strategy: there are no item domain events, and the
    // inventory-cdc connector runs under the outbox strategy too.
    createChangeConsumer({ brokers, logger, group: 'inventory-cache', topics: [CdcTopics.inventoryItems], handle: createItemChangeHandler({ cache: itemCache.cache, logger }), batch: batchPolicyOf(config), latestOnly: true }),
  ],
  jobs: [
    reservationSweep({ db, intervalMs: config.INVENTORY_SWEEP_INTERVAL_SECONDS * 1000, batchSize: config.INVENTORY_SWEEP_BATCH_SIZE, now, logger }),
    messagingRetention({ db, hours: config.INBOX_RETENTION_HOURS, now }),
  ],
  close: [() => producer.close(), () => kafkaAdmin.close(), async () => redis.disconnect(), () => db.destroy()],
})
logger.info({ port: config.INVENTORY_PORT, ttlSeconds: config.INVENTORY_RESERVATION_TTL_SECONDS }, 'inventory service started')
