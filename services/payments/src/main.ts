// The payment service: HTTP API, the saga's payment commands (payments.commands) through the gateway PAYMENTS_GATEWAY
// names, and the reconciliation of charges that got no answer.
import { randomUUID } from 'node:crypto'
import { Topics } from '@trackops/contracts'
import { batchPolicyOf, createConsumer, createKafkaAdmin, createKafkaProducer, messagingRetention, registerMessagingHealth } from '@trackops/messaging'
import { configOrExit, createDb, createHealth, createLogger, createRedis, databaseComponent, initTracing, redisComponent, registerRedisMetrics, registerTableMetrics, runService } from '@trackops/runtime'
import { edgeOptions } from '@trackops/http'
import { loadPaymentsConfig } from './config.ts'
import { reconcileDue } from './reconcile.ts'
import { createResilientGateway, gatewayHealth } from './resilient-gateway.ts'
import { openGateway } from './open-gateway.ts'
import { createPaymentBatchHandler, createPaymentHandler, paymentsConsumerGroup } from './handlers.ts'
import { buildApp } from './http.ts'
import type { PaymentsDb } from './payment-store.ts'

const config = configOrExit('payments', () => loadPaymentsConfig(process.env))
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('payments', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('payments', config.LOG_LEVEL)
const brokers = config.KAFKA_BROKERS

const db = createDb<PaymentsDb>(config.PAYMENTS_DATABASE_URL, { applicationName: 'trackops-payments', logger, notifyOutbox: config.EVENT_PUBLISHING_STRATEGY === 'outbox' })
const processor = openGateway(config.PAYMENTS_GATEWAY, { databaseUrl: config.PAYMENTS_DATABASE_URL, logger })
const producer = createKafkaProducer({ brokers, clientId: 'payments' })
const admin = createKafkaAdmin({ brokers, clientId: 'payments-health' })
const redis = config.RATE_LIMIT_ENABLED ? createRedis(config.REDIS_URL, 'payments') : null

const gateway = createResilientGateway(processor.gateway, { timeoutMs: config.PAYMENT_GATEWAY_TIMEOUT_MS })
gateway.onStateChange((state) => {
  logger[state === 'open' ? 'error' : 'info']({ breaker: 'payment_gateway', state }, 'payment gateway circuit breaker changed state')
})

const health = createHealth()
health.register('db', databaseComponent(db))
registerTableMetrics(db, logger)
registerMessagingHealth(health, { admin, db, strategy: config.EVENT_PUBLISHING_STRATEGY, connectUrl: config.KAFKA_CONNECT_URL, connector: 'trackops-payments-outbox', slot: 'trackops_payments_outbox' })
health.register('paymentGateway', gatewayHealth(gateway, { gateway: config.PAYMENTS_GATEWAY, timeoutMs: config.PAYMENT_GATEWAY_TIMEOUT_MS }))
if (redis) {
  health.register('redis', redisComponent(redis))
  registerRedisMetrics(redis, logger)
}

const app = await buildApp({
  db,
  logger,
  health,
  ...edgeOptions('payments', config, redis),
})

const paymentDeps = { gateway, now: () => new Date(), newId: randomUUID, reconcileAfterMs: config.PAYMENT_RECONCILE_AFTER_MS, defaultPaymentToken: config.PAYMENTS_DEFAULT_PAYMENT_TOKEN }
// Charges that got no answer are looked up at the gateway once their grace period passed (see reconcile.ts).
const RECONCILE_BATCH = 20

await runService({
  logger,
  http: { listen: () => app.listen({ host: config.HOST, port: config.PAYMENTS_PORT }), close: () => app.close() },
  workers: [createConsumer({ db, brokers, producer, logger, group: paymentsConsumerGroup, topics: [Topics.paymentCommands], handle: createPaymentHandler(paymentDeps), handleBatch: createPaymentBatchHandler(paymentDeps), batch: batchPolicyOf(config) })],
  jobs: [
    {
      name: 'payment reconciliation',
      intervalMs: config.PAYMENT_RECONCILE_EVERY_MS,
      run: async () => (await reconcileDue(db, { ...paymentDeps, log: logger }, RECONCILE_BATCH)).length >= RECONCILE_BATCH,
    },
    messagingRetention({ db, hours: config.INBOX_RETENTION_HOURS, now: paymentDeps.now }),
  ],
  close: [() => producer.close(), () => admin.close(), async () => redis?.disconnect(), () => processor.close(), () => db.destroy()],
})
