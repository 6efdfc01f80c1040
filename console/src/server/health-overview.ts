// GET /api/ops/health: every service's own health report, Kafka, Kafka Connect and its connectors, and the
// console's own health, each asked on its own so that one backend down shows as that backend DOWN. A service shows
// its components' details only to an operator or admin, so the caller's token goes with each request.
import type { Health } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import { errorText, fetchWithin, readBody, withTimeout, type Service } from './backends.ts'
import { listConnectors } from './kafka-connect.ts'

interface ServiceHealth {
  name: string
  url: string
  status: string
  httpStatus?: number
  components?: Record<string, unknown>
  error?: string
  ms: number
}

async function serviceHealth(s: Service, headers: Record<string, string>): Promise<ServiceHealth> {
  const started = performance.now()
  const ms = () => Math.round(performance.now() - started)
  try {
    const res = await fetchWithin(`${s.url}/actuator/health`, { headers })
    const body = (await readBody(res)) as { status?: string; components?: Record<string, unknown> } | string
    if (typeof body !== 'object' || !body.status) {
      return { name: s.name, url: s.url, status: 'DOWN', httpStatus: res.status, error: `unexpected answer (HTTP ${res.status})`, ms: ms() }
    }
    return { name: s.name, url: s.url, status: body.status, httpStatus: res.status, components: body.components ?? {}, ms: ms() }
  } catch (error) {
    return { name: s.name, url: s.url, status: 'DOWN', error: `${s.name} does not answer: ${errorText(error)}`, ms: ms() }
  }
}

export async function healthOverview(deps: { services: Service[]; admin: KafkaAdmin; connectUrl: string; health: Health }, headers: Record<string, string>) {
  const [services, kafka, connect, own] = await Promise.all([
    Promise.all(deps.services.map((s) => serviceHealth(s, headers))),
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
}
