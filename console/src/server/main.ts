// The console's composition root: config → Kafka admin, health → app (ops endpoints, development sign-in, proxy, static
// build) → listen.
// It keeps serving when any backend is down: each panel of the UI shows that backend's error.
import { access } from 'node:fs/promises'
import path from 'node:path'
import { createApp, edgeOptions } from '@trackops/http'
import { configOrExit, createHealth, createLogger, createRedis, initTracing, runService } from '@trackops/runtime'
import { createKafkaAdmin } from '@trackops/messaging'
import { loadConsoleConfig } from './config.ts'
import { registerDevTokens } from './dev-tokens.ts'
import { registerOps } from './ops.ts'
import { registerProxy } from './proxy.ts'
import { registerStatic } from './static.ts'
import { consoleAppInfo } from './app-info.ts'

const config = configOrExit('console', () => loadConsoleConfig(process.env))
// Before anything opens a span: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and exported.
initTracing('console', config.OTEL_EXPORTER_OTLP_ENDPOINT)
const logger = createLogger('console', config.LOG_LEVEL)
const brokers = config.KAFKA_BROKERS
const dist = path.resolve(config.CONSOLE_DIST)
const admin = createKafkaAdmin({ brokers, clientId: 'console' })
const redis = config.RATE_LIMIT_ENABLED ? createRedis(config.REDIS_URL, 'console') : null
redis?.on('error', (error) => logger.debug({ err: error }, 'redis connection error'))

const services = [
  { name: 'orders', url: config.ORDERS_URL },
  { name: 'inventory', url: config.INVENTORY_URL },
  { name: 'payments', url: config.PAYMENTS_URL },
  { name: 'relay', url: config.RELAY_URL },
]

const health = createHealth()
health.register('build', {
  required: true,
  check: async () => {
    await access(path.join(dist, 'index.html'))
    return { status: 'UP', details: { dist } }
  },
})
if (redis) health.register('redis', { required: false, check: async () => ({ status: (await redis.ping()) === 'PONG' ? 'UP' : 'DOWN' }) })

const app = await createApp({
  ...consoleAppInfo,
  logger,
  health,
  ...edgeOptions('console', config, redis),
  ...(config.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
})

registerOps(app, { services, connectUrl: config.KAFKA_CONNECT_URL, admin, health, sampleEveryMs: 5_000 })
if (registerDevTokens(app, config)) logger.warn('development mode: the sign-in page offers tokens for every role (POST /api/dev/tokens)')
await registerProxy(app, [
  { name: 'orders', url: config.ORDERS_URL, prefixes: ['/api/orders', '/api/sagas'] },
  { name: 'inventory', url: config.INVENTORY_URL, prefixes: ['/api/inventory'] },
  { name: 'payments', url: config.PAYMENTS_URL, prefixes: ['/api/payments'] },
  { name: 'relay', url: config.RELAY_URL, prefixes: ['/api/events', '/api/dlq', '/asyncapi', '/asyncapi.json', '/asyncapi.yaml'] },
])
registerStatic(app, dist)

await runService({
  logger,
  http: { listen: () => app.listen({ host: config.HOST, port: config.CONSOLE_PORT }), close: () => app.close() },
  close: [() => admin.close(), async () => redis?.disconnect()],
})
logger.info({ port: config.CONSOLE_PORT, dist, services }, 'console listening')
