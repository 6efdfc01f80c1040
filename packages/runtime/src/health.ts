// The health registry behind /actuator/health: components a service registers, each checked with a timeout.
import { sql, type QueryExecutorProvider } from 'kysely'
import { redisMemory } from './redis.ts'

export type Status = 'UP' | 'DOWN' | 'DEGRADED' | 'UNKNOWN'
export interface ComponentResult {
  status: Status
  details?: Record<string, unknown>
}
export interface Component {
  /** Required components make the service DOWN (503); the others only mark it DEGRADED. */
  required: boolean
  check: () => Promise<ComponentResult>
}

const TIMEOUT_MS = 2_000

export function createHealth() {
  const components = new Map<string, Component>()
  async function run(name: string, c: Component): Promise<ComponentResult & { required: boolean }> {
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    try {
      const result = await Promise.race([
        c.check(),
        new Promise<ComponentResult>((resolve) => {
          timer = setTimeout(() => resolve({ status: 'DOWN', details: { error: `no answer within ${TIMEOUT_MS} ms` } }), TIMEOUT_MS)
        }),
      ])
      return { ...result, details: { ...result.details, checkMs: Math.round(performance.now() - started) }, required: c.required }
    } catch (error) {
      return { status: 'DOWN', details: { error: error instanceof Error ? error.message : String(error) }, required: c.required }
    } finally {
      clearTimeout(timer)
    }
  }
  return {
    register(name: string, component: Component) {
      components.set(name, component)
    },
    async report() {
      const entries = await Promise.all([...components].map(async ([name, c]) => [name, await run(name, c)] as const))
      const down = entries.some(([, r]) => r.required && r.status === 'DOWN')
      const degraded = entries.some(([, r]) => r.status !== 'UP')
      return {
        status: down ? 'DOWN' : degraded ? 'DEGRADED' : 'UP',
        components: Object.fromEntries(entries.map(([name, r]) => [name, { status: r.status, required: r.required, details: r.details }])),
      }
    },
  }
}
export type Health = ReturnType<typeof createHealth>
export type HealthReport = Awaited<ReturnType<Health['report']>>

/**
 * What anyone may see of a report: the service's status and each component's, none of the details (connector and
 * slot names, cluster ids, hosts, error texts), which describe the infrastructure to whoever asks.
 */
export const statusesOf = (report: HealthReport) => ({
  status: report.status,
  components: Object.fromEntries(Object.entries(report.components).map(([name, c]) => [name, { status: c.status }])),
})

/**
 * Redis answers PING; its memory against its bound is reported (DEGRADED near a bound it enforces by refusing writes).
 * Never required: every service degrades without it (no cache, limiter fails open).
 */
export function redisComponent(redis: { ping(): Promise<string>; info(section: string): Promise<string> }): Component {
  return {
    required: false,
    check: async () => {
      const [pong, memory] = await Promise.all([redis.ping(), redisMemory(redis)])
      // Without eviction, a Redis at its bound refuses writes: cache fills and rate-limit counts start failing.
      const full = memory.maxBytes > 0 && memory.policy === 'noeviction' && memory.usedBytes >= 0.9 * memory.maxBytes
      return {
        status: pong !== 'PONG' ? 'DOWN' : full ? 'DEGRADED' : 'UP',
        details: { usedMemoryBytes: memory.usedBytes, maxMemoryBytes: memory.maxBytes || null, maxMemoryPolicy: memory.policy, evictedKeys: memory.evictedKeys },
      }
    },
  }
}

/** PostgreSQL answers `select 1`; the query time is reported. Required: without its database a service is DOWN. */
export function databaseComponent(db: QueryExecutorProvider): Component {
  return {
    required: true,
    check: async () => {
      const started = performance.now()
      await sql`select 1`.execute(db)
      return { status: 'UP', details: { queryMs: Math.round((performance.now() - started) * 10) / 10 } }
    },
  }
}
