// Console-owned operations endpoints: one view over every service's health, Kafka topics and consumer lag,
// the Debezium connectors (with restart), cache statistics and a metrics summary for the live charts.
// Each part answers with its own error instead of failing the whole response, so a panel can say what is down.
import { Type } from 'typebox'
import type { FastifyRequest } from 'fastify'
import { AppError, type App } from '@trackops/http'
import type { Health } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import {
  bucketCount, bucketDelta, histogramBuckets, parsePrometheus, perMinute, quantile, total, type Buckets, type Series,
} from './prometheus.ts'

export interface Service {
  name: string
  url: string
}

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
const TIMEOUT_MS = 3_000

const errorText = (error: unknown): string => {
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string; message?: string } | undefined)
    if (error.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`
    if (cause?.message) return cause.message
    if (cause?.code) return cause.code
    return error.message
  }
  return String(error)
}

async function fetchWithin(url: string, init: RequestInit = {}, ms = TIMEOUT_MS) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) })
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const authOf = (req: FastifyRequest): Record<string, string> =>
  req.headers.authorization ? { authorization: req.headers.authorization, 'x-correlation-id': req.id } : { 'x-correlation-id': req.id }

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

// --- health ----------------------------------------------------------------------------------------------------

interface ServiceHealth {
  name: string
  url: string
  status: string
  httpStatus?: number
  components?: Record<string, unknown>
  error?: string
  ms: number
}

async function serviceHealth(s: Service): Promise<ServiceHealth> {
  const started = performance.now()
  const ms = () => Math.round(performance.now() - started)
  try {
    const res = await fetchWithin(`${s.url}/actuator/health`)
    const body = (await readBody(res)) as { status?: string; components?: Record<string, unknown> } | string
    if (typeof body !== 'object' || !body.status) {
      return { name: s.name, url: s.url, status: 'DOWN', httpStatus: res.status, error: `unexpected answer (HTTP ${res.status})`, ms: ms() }
    }
    return { name: s.name, url: s.url, status: body.status, httpStatus: res.status, components: body.components ?? {}, ms: ms() }
  } catch (error) {
    return { name: s.name, url: s.url, status: 'DOWN', error: `${s.name} does not answer: ${errorText(error)}`, ms: ms() }
  }
}

interface ConnectorView {
  name: string
  type: string | null
  state: string
  workerId: string | null
  trace: string | null
  tasks: { id: number; state: string; workerId: string | null; trace: string | null }[]
  config: Record<string, string>
}

const CONFIG_SHOWN = ['connector.class', 'database.dbname', 'database.hostname', 'topic.prefix', 'table.include.list', 'plugin.name', 'slot.name', 'publication.name', 'transforms']

async function listConnectors(connectUrl: string): Promise<{ version: string | null; connectors: ConnectorView[] }> {
  const root = await fetchWithin(connectUrl)
  const info = (await readBody(root)) as { version?: string }
  const res = await fetchWithin(`${connectUrl}/connectors?expand=status&expand=info`)
  if (!res.ok) throw new Error(`Kafka Connect answered HTTP ${res.status}`)
  const body = (await res.json()) as Record<string, {
    status?: { type?: string; connector?: { state?: string; worker_id?: string; trace?: string }; tasks?: { id: number; state: string; worker_id?: string; trace?: string }[] }
    info?: { config?: Record<string, string>; type?: string }
  }>
  const connectors = Object.entries(body).map(([name, c]) => ({
    name,
    type: c.status?.type ?? c.info?.type ?? null,
    state: c.status?.connector?.state ?? 'UNKNOWN',
    workerId: c.status?.connector?.worker_id ?? null,
    trace: c.status?.connector?.trace ?? null,
    tasks: (c.status?.tasks ?? []).map((t) => ({ id: t.id, state: t.state, workerId: t.worker_id ?? null, trace: t.trace ?? null })),
    config: Object.fromEntries(CONFIG_SHOWN.filter((k) => c.info?.config?.[k] !== undefined).map((k) => [k, c.info?.config?.[k] as string])),
  }))
  connectors.sort((a, b) => a.name.localeCompare(b.name))
  return { version: info.version ?? null, connectors }
}

const connectUnavailable = (connectUrl: string, error: unknown) =>
  new AppError('kafka-connect.unavailable', `Kafka Connect does not answer at ${connectUrl}: ${errorText(error)}. Start the stack with \`bash infra/stack.sh up\`.`, { cause: error })

// --- metrics summary ----------------------------------------------------------------------------------------------

interface Reading {
  at: number
  orders: number | null
  saga: Buckets | null
  cdc: Buckets | null
  consumerLag: number | null
}

export interface SummaryPoint {
  at: string
  ordersPerMinute: number | null
  sagaP50Seconds: number | null
  sagaP99Seconds: number | null
  cdcLagP99Seconds: number | null
}

const WINDOW_MS = 60_000
const MIN_INTERVAL_MS = 2_000
const KEEP_READINGS = 400
const KEEP_POINTS = 120

const created = (labels: Record<string, string>) => {
  const tags = Object.entries(labels).filter(([k]) => k === 'event' || k === 'status' || k === 'outcome' || k === 'type')
  return tags.length === 0 || tags.some(([, v]) => /^(created|placed|order_created)$/i.test(v))
}

/** The orders-created counter: trackops_orders_total (its "created" series when it has labels) or trackops_orders_placed_total. */
export function ordersCreated(series: Series[]): { metric: string; value: number } | null {
  const direct = total(series, 'trackops_orders_total', created)
  if (direct !== null) return { metric: 'trackops_orders_total', value: direct }
  const placed = total(series, 'trackops_orders_placed_total')
  return placed === null ? null : { metric: 'trackops_orders_placed_total', value: placed }
}

export function readingOf(series: Series[], at: number): Reading & { ordersMetric: string | null } {
  const orders = ordersCreated(series)
  return {
    at,
    orders: orders?.value ?? null,
    ordersMetric: orders?.metric ?? null,
    saga: histogramBuckets(series, 'trackops_saga_duration_seconds'),
    cdc: histogramBuckets(series, 'trackops_message_age_seconds', (l) => (l.topic ?? '').startsWith('trackops_')),
    consumerLag: total(series, 'trackops_consumer_lag'),
  }
}

const round = (v: number | null, digits = 3) => (v === null || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits)

function createMetricsSampler(deps: OpsDeps) {
  const readings: Reading[] = []
  const points: SummaryPoint[] = []
  let last: { at: number; body: unknown } | null = null
  let inFlight: Promise<unknown> | null = null

  async function scrape(auth: Record<string, string>) {
    const results = await Promise.all(
      deps.services.map(async (s) => {
        try {
          const res = await fetchWithin(`${s.url}/actuator/prometheus`, { headers: auth })
          if (!res.ok) return { name: s.name, ok: false, error: `HTTP ${res.status}`, series: [] as Series[] }
          return { name: s.name, ok: true, series: parsePrometheus(await res.text()) }
        } catch (error) {
          return { name: s.name, ok: false, error: errorText(error), series: [] as Series[] }
        }
      }),
    )
    return results
  }

  async function sample(auth: Record<string, string>) {
    const now = deps.now?.() ?? Date.now()
    const sources = await scrape(auth)
    const series = sources.flatMap((s) => s.series)
    const reading = readingOf(series, now)
    // The oldest reading still inside the window is the baseline for rates and windowed quantiles.
    const baseline = readings.find((r) => r.at >= now - WINDOW_MS - MIN_INTERVAL_MS && r.at < now) ?? null
    readings.push(reading)
    if (readings.length > KEEP_READINGS) readings.splice(0, readings.length - KEEP_READINGS)
    while (readings.length && (readings[0] as Reading).at < now - 10 * WINDOW_MS) readings.shift()

    const sagaWindow = reading.saga && baseline ? bucketDelta(reading.saga, baseline.saga) : null
    const cdcWindow = reading.cdc && baseline ? bucketDelta(reading.cdc, baseline.cdc) : null
    const point: SummaryPoint = {
      at: new Date(now).toISOString(),
      ordersPerMinute: round(reading.orders !== null && baseline?.orders != null ? perMinute({ at: now, value: reading.orders }, { at: baseline.at, value: baseline.orders }) : null, 2),
      sagaP50Seconds: round(sagaWindow ? quantile(0.5, sagaWindow) : null),
      sagaP99Seconds: round(sagaWindow ? quantile(0.99, sagaWindow) : null),
      cdcLagP99Seconds: round(cdcWindow ? quantile(0.99, cdcWindow) : null),
    }
    points.push(point)
    if (points.length > KEEP_POINTS) points.splice(0, points.length - KEEP_POINTS)
    return {
      ...point,
      windowSeconds: baseline ? Math.round((now - baseline.at) / 1000) : 0,
      ordersMetric: reading.ordersMetric,
      ordersTotal: reading.orders,
      sagasInWindow: sagaWindow ? bucketCount(sagaWindow) : null,
      sagaLifetime: reading.saga ? { count: bucketCount(reading.saga), p50Seconds: round(quantile(0.5, reading.saga)), p99Seconds: round(quantile(0.99, reading.saga)) } : null,
      cdcRecordsInWindow: cdcWindow ? bucketCount(cdcWindow) : null,
      cdcLifetime: reading.cdc ? { count: bucketCount(reading.cdc), p99Seconds: round(quantile(0.99, reading.cdc)) } : null,
      consumerLag: reading.consumerLag,
      sources: sources.map((s) => ({ name: s.name, ok: s.ok, ...(s.ok ? { series: s.series.length } : { error: s.error }) })),
      history: [...points],
    }
  }

  return async (auth: Record<string, string>, maxAgeMs = MIN_INTERVAL_MS) => {
    const now = deps.now?.() ?? Date.now()
    if (last && now - last.at < maxAgeMs) return last.body
    // Several browsers polling at once share one scrape.
    inFlight ??= sample(auth).then((body) => {
      last = { at: now, body }
      return body
    }).finally(() => {
      inFlight = null
    })
    return inFlight
  }
}

// --- routes --------------------------------------------------------------------------------------------------------

export function registerOps(app: App, deps: OpsDeps) {
  const tags = ['operations']
  const kafkaTimeout = 8_000

  app.get('/api/ops/health', { config: staff, schema: { tags, summary: 'Health of every service, Kafka and Kafka Connect' } }, async () => {
    const [services, kafka, connect, own] = await Promise.all([
      Promise.all(deps.services.map(serviceHealth)),
      withTimeout(deps.admin.describeCluster(), 4_000, 'Kafka')
        .then((c) => ({ name: 'kafka', status: 'UP', details: { clusterId: c.clusterId, brokers: c.brokers, topics: c.topics.length } }))
        .catch((error) => ({ name: 'kafka', status: 'DOWN', error: `Kafka does not answer: ${errorText(error)}` })),
      listConnectors(deps.connectUrl)
        .then(({ version, connectors }) => {
          const failing = connectors.filter((c) => c.state !== 'RUNNING' || c.tasks.some((t) => t.state !== 'RUNNING'))
          return {
            name: 'kafka-connect',
            url: deps.connectUrl,
            status: connectors.length === 0 ? 'DEGRADED' : failing.length ? 'DOWN' : 'UP',
            details: { version, connectors: Object.fromEntries(connectors.map((c) => [c.name, { state: c.state, tasks: c.tasks.map((t) => t.state) }])) },
            ...(connectors.length === 0 ? { error: 'no connectors registered: run `bash infra/stack.sh connectors`' } : {}),
            ...(failing.length ? { error: `not running: ${failing.map((c) => c.name).join(', ')}` } : {}),
          }
        })
        .catch((error) => ({ name: 'kafka-connect', url: deps.connectUrl, status: 'DOWN', error: `Kafka Connect does not answer: ${errorText(error)}` })),
      deps.health.report(),
    ])
    const all = [...services.map((s) => s.status), kafka.status, connect.status]
    return {
      status: all.includes('DOWN') ? 'DOWN' : all.every((s) => s === 'UP') ? 'UP' : 'DEGRADED',
      checkedAt: new Date().toISOString(),
      services: [{ name: 'console', url: 'self', status: own.status, components: own.components, ms: 0 }, ...services],
      kafka,
      kafkaConnect: connect,
    }
  })

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

// --- Kafka overview ---------------------------------------------------------------------------------------------------

async function kafkaOverview(admin: KafkaAdmin) {
  const cluster = await admin.describeCluster()
  const topics = cluster.topics.filter((t) => !t.startsWith('__') && !t.startsWith('_connect')).sort()
  const ends = topics.length ? await admin.topicEndOffsets(topics) : new Map<string, bigint>()
  const byTopic = new Map<string, { partition: number; endOffset: number }[]>()
  for (const [tp, end] of ends) {
    const [topic = '', partition = '0'] = tp.split(/:(?=\d+$)/)
    const list = byTopic.get(topic) ?? []
    list.push({ partition: Number(partition), endOffset: Number(end) })
    byTopic.set(topic, list)
  }
  const groups = (await admin.listGroups()).sort()
  const lags = await Promise.all(
    groups.map(async (groupId) => {
      try {
        const lag = await admin.groupLag(groupId, topics)
        // groupLag counts an uncommitted partition as fully behind; a topic counts as consumed by the group only
        // when it committed something on it.
        const perTopic = new Map<string, { lag: number; committed: boolean; partitions: { partition: number; lag: number }[] }>()
        for (const p of lag) {
          const end = byTopic.get(p.topic)?.find((x) => x.partition === p.partition)?.endOffset ?? 0
          const entry = perTopic.get(p.topic) ?? { lag: 0, committed: false, partitions: [] }
          entry.partitions.push({ partition: p.partition, lag: p.lag })
          entry.lag += p.lag
          entry.committed ||= p.lag < end
          perTopic.set(p.topic, entry)
        }
        const consumed = [...perTopic].filter(([, e]) => e.committed)
        return {
          groupId,
          totalLag: consumed.reduce((n, [, e]) => n + e.lag, 0),
          topics: consumed.map(([topic, e]) => ({ topic, lag: e.lag, partitions: e.partitions.sort((a, b) => a.partition - b.partition) })),
        }
      } catch (error) {
        return { groupId, totalLag: null, topics: [], error: errorText(error) }
      }
    }),
  )
  return {
    clusterId: cluster.clusterId,
    brokers: cluster.brokers,
    topics: topics.map((name) => {
      const partitions = (byTopic.get(name) ?? []).sort((a, b) => a.partition - b.partition)
      return { name, partitions, endOffset: partitions.reduce((n, p) => n + p.endOffset, 0), isDlq: name.endsWith('.dlq') }
    }),
    groups: lags,
  }
}
