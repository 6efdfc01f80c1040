// Console-owned operations endpoints: one view over every service's health, Kafka topics and consumer lag,
// the Debezium connectors (with restart), cache statistics and a metrics summary for the live charts.
// Each part answers with its own error instead of failing the whole response, so a panel can say what is down.
import { Type } from 'typebox'
import type { FastifyRequest } from 'fastify'
import { AppError, type App } from '@trackops/http'
import type { Health } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import { errorText, fetchWithin, readBody, withTimeout, type Service } from './backends.ts'
import { healthOverview } from './health-overview.ts'
import { kafkaOverview } from './kafka-overview.ts'
import { connectUnavailable, listConnectors } from './kafka-connect.ts'
import { createMetricsSampler, MIN_INTERVAL_MS } from './metrics-summary.ts'

export interface OpsDeps {
  services: Service[]
  connectUrl: string
  admin: KafkaAdmin
  /** The console's own health report. */
  health: Health
  /** Scrape the services on this interval too, so the charts have history before anyone opens them. */
  sampleEveryMs?: number
  now?: () => number
}

// A connector name becomes a path segment of the Kafka Connect URL: `.` or `..` would be resolved away and address
// another resource (a 405 from Connect, answered as 502). Names start with a letter or digit, so no such segment
// passes and a bad name is a 400 that never leaves the console.
const CONNECTOR_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$'
const ConnectorName = Type.String({ pattern: CONNECTOR_NAME, description: 'A Kafka Connect connector name: a letter or digit, then up to 199 letters, digits, . _ or -' })

const staff = { auth: ['operator', 'admin'] as ('operator' | 'admin')[] }
const adminOnly = { auth: ['admin'] as 'admin'[] }

const authOf = (req: FastifyRequest): Record<string, string> =>
  req.headers.authorization ? { authorization: req.headers.authorization, 'x-correlation-id': req.id } : { 'x-correlation-id': req.id }

export function registerOps(app: App, deps: OpsDeps) {
  const tags = ['operations']
  const kafkaTimeout = 8_000

  app.get('/api/ops/health', { config: staff, schema: { tags, summary: 'Health of every service, Kafka and Kafka Connect' } }, async (req) => healthOverview(deps, authOf(req)))

  app.get('/api/ops/kafka', { config: staff, schema: { tags, summary: 'Topics with end offsets; consumer groups with lag per topic' } }, async () => {
    try {
      return await withTimeout(kafkaOverview(deps.admin), kafkaTimeout, 'Kafka')
    } catch (error) {
      throw new AppError('kafka.unavailable', `Kafka does not answer: ${errorText(error)}. Start it with \`bash infra/stack.sh up\`.`, { cause: error })
    }
  })

  app.get('/api/ops/connectors', { config: staff, schema: { tags, summary: 'Debezium connectors with their state and task states' } }, async () => {
    try {
      return { connectUrl: deps.connectUrl, ...(await listConnectors(deps.connectUrl)) }
    } catch (error) {
      throw connectUnavailable(deps.connectUrl, error)
    }
  })

  app.post('/api/ops/connectors/:name/restart', {
    config: adminOnly,
    schema: { tags, summary: 'Restart a connector and its tasks (admins)', params: Type.Object({ name: ConnectorName }) },
  }, async (req, reply) => {
    const { name } = req.params
    let res: Response
    try {
      res = await fetchWithin(`${deps.connectUrl}/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=false`, { method: 'POST' }, 10_000)
    } catch (error) {
      throw connectUnavailable(deps.connectUrl, error)
    }
    const body = await readBody(res)
    if (res.status === 404) throw new AppError('connector.not-found', `No connector named ${name}.`)
    if (res.status === 409) throw new AppError('connector.conflict', `Kafka Connect is rebalancing; try again in a few seconds.`)
    if (!res.ok) throw new AppError('kafka-connect.bad-gateway', `Kafka Connect refused the restart (HTTP ${res.status}): ${typeof body === 'string' ? body : JSON.stringify(body)}`, { status: 502 })
    req.log.child({ audit: true, actor: req.principal?.sub ?? null, action: 'connector.restart', connector: name }).info('audit connector.restart')
    return reply.code(202).send({ name, restart: 'requested', status: body })
  })

  app.get('/api/ops/caches', { config: staff, schema: { tags, summary: 'Cache statistics of the services that have caches' } }, async (req) => {
    const services = await Promise.all(
      deps.services.filter((s) => s.name === 'orders' || s.name === 'inventory').map(async (s) => {
        try {
          const res = await fetchWithin(`${s.url}/actuator/caches`, { headers: authOf(req) })
          const body = await readBody(res)
          if (res.status === 404) return { name: s.name, status: 'absent', detail: `${s.name} has no /actuator/caches` }
          if (!res.ok) return { name: s.name, status: 'error', error: (body as { detail?: string }).detail ?? `HTTP ${res.status}` }
          return { name: s.name, status: 'ok', caches: body }
        } catch (error) {
          return { name: s.name, status: 'error', error: `${s.name} does not answer: ${errorText(error)}` }
        }
      }),
    )
    return { services }
  })

  const summarize = createMetricsSampler(deps)
  app.get('/api/ops/metrics-summary', { config: staff, schema: { tags, summary: 'Orders per minute, saga p50/p99, CDC lag p99 (last minute) with recent history' } }, async (req) =>
    // A background reading younger than the chart's refresh is as good as a new one.
    summarize(authOf(req), deps.sampleEveryMs ? deps.sampleEveryMs + 500 : MIN_INTERVAL_MS))
  if (deps.sampleEveryMs) {
    // Without a token: works while METRICS_PUBLIC=true (the default); otherwise the charts fill while watched.
    const timer = setInterval(() => void summarize({}).catch(() => undefined), deps.sampleEveryMs)
    timer.unref()
    app.addHook('onClose', async () => clearInterval(timer))
  }
}
