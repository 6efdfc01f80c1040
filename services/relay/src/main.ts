// The event relay: HTTP API (events, dead letters, AsyncAPI) over one pool per service database (as relay_svc),
// the polling publisher (outbox strategy only), outbox pruning and the relay metrics.
import { createKafkaAdmin, createKafkaProducer, createRelay, pruneOutbox } from '@trackops/messaging'
import { configOrExit, createHealth, createLogger, createRedis, initTracing, redisComponent, registerRedisMetrics, runService } from '@trackops/runtime'
import { edgeOptions } from '@trackops/http'
import { loadRelayConfig } from './config.ts'
import { registerRelayHealth } from './health.ts'
import { buildApp } from './http.ts'
import { createRelayMetrics } from './metrics.ts'
import { closeSources, createSources } from './sources.ts'

const PRUNE_EVERY_MS = 60_000
const METRICS_EVERY_MS = 10_000

const config = configOrExit('relay', () => loadRelayConfig(process.env))
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('relay', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('relay', config.LOG_LEVEL)
const brokers = config.KAFKA_BROKERS
const strategy = config.EVENT_PUBLISHING_STRATEGY

const sources = createSources({
  orders: config.RELAY_ORDERS_DATABASE_URL,
  inventory: config.RELAY_INVENTORY_DATABASE_URL,
  payments: config.RELAY_PAYMENTS_DATABASE_URL,
}, logger)
// Under debezium the producer only serves /api/events/reconcile (after a lost replication slot).
const producer = createKafkaProducer({ brokers, clientId: 'relay' })
const admin = createKafkaAdmin({ brokers, clientId: 'relay-health' })
const redis = config.RATE_LIMIT_ENABLED ? createRedis(config.REDIS_URL, 'relay') : null

const health = createHealth()
registerRelayHealth(health, { sources, strategy, admin, connectUrl: config.KAFKA_CONNECT_URL, backlogWarnSeconds: config.OUTBOX_BACKLOG_WARN_SECONDS })
if (redis) {
  health.register('redis', redisComponent(redis))
  registerRedisMetrics(redis, logger)
}

const app = await buildApp({
  sources,
  strategy,
  producer,
  connectUrl: config.KAFKA_CONNECT_URL,
  retentionSeconds: config.OUTBOX_RETENTION_SECONDS,
  logger,
  health,
  batchSize: config.RELAY_BATCH_SIZE,
  ...edgeOptions('relay', config, redis),
})

// Pruning runs under both strategies (every copy may run it: the DELETE is idempotent). The inbox
// (processed_events) is not pruned here: relay_svc has no DELETE on it, and its retention must outlast the
// topics' retention anyway — each service prunes its own.
async function prune() {
  for (const source of sources) {
    try {
      const deleted = await pruneOutbox(source.db, { retentionSeconds: config.OUTBOX_RETENTION_SECONDS, strategy })
      if (deleted > 0) logger.info({ source: source.name, deleted }, 'outbox pruned')
    } catch (error) {
      logger.warn({ err: error, source: source.name }, 'outbox pruning failed; will retry')
    }
  }
}
const metrics = createRelayMetrics({ sources, strategy, logger })

await runService({
  logger,
  http: { listen: () => app.listen({ host: config.HOST, port: config.RELAY_PORT }), close: () => app.close() },
  // The publisher runs only under the outbox strategy; under debezium the WAL is the publisher.
  workers: strategy === 'outbox' ? [createRelay({ sources, producer, logger, pollMs: config.RELAY_POLL_MS, batchSize: config.RELAY_BATCH_SIZE })] : [],
  jobs: [
    { name: 'outbox pruning', intervalMs: PRUNE_EVERY_MS, runAtStart: true, run: prune },
    { name: 'relay metrics refresh', intervalMs: METRICS_EVERY_MS, runAtStart: true, run: () => metrics.refresh() },
  ],
  close: [() => producer.close(), () => admin.close(), async () => redis?.disconnect(), () => closeSources(sources)],
})
logger.info({ strategy, sources: sources.map((s) => s.name) }, 'relay ready')
