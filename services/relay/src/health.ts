// Health components of the relay: each source database (required), Kafka (required only when the relay
// publishes), the Debezium outbox connectors and replication slots (debezium strategy), and the outbox: its
// backlog under the outbox strategy (can only make the relay DEGRADED), the rows kept for pruning under debezium.
import { sql } from 'kysely'
import type { Component, Health } from '@trackops/runtime'
import type { KafkaAdmin } from '@trackops/messaging'
import { outboxStatsOf, retainedOf } from './events-store.ts'
import { slotLag, type Source } from './sources.ts'

export interface RelayHealthOptions {
  sources: Source[]
  strategy: 'debezium' | 'outbox'
  admin: KafkaAdmin
  connectUrl: string
  backlogWarnSeconds: number
  fetch?: typeof fetch
}

interface ConnectorStatus {
  connector?: { state?: string }
  tasks?: { id: number; state?: string; trace?: string }[]
}

export function registerRelayHealth(health: Health, opts: RelayHealthOptions) {
  for (const source of opts.sources) {
    health.register(`${source.name}Db`, {
      required: true,
      check: async () => {
        await sql`SELECT 1`.execute(source.db)
        return { status: 'UP' }
      },
    })
  }
  health.register('kafka', {
    required: opts.strategy === 'outbox',
    check: async () => {
      const cluster = await opts.admin.describeCluster()
      return { status: 'UP', details: { clusterId: cluster.clusterId, brokers: cluster.brokers } }
    },
  })
  if (opts.strategy === 'debezium') health.register('debezium', debeziumComponent(opts))
  health.register('outbox', outboxComponent(opts))
}

/** Connector and task states from Kafka Connect, plus the replication slot lag each source database reports. */
export function debeziumComponent(opts: Pick<RelayHealthOptions, 'sources' | 'connectUrl' | 'fetch'>): Component {
  const get = opts.fetch ?? fetch
  return {
    required: false,
    check: async () => {
      const connectors = await Promise.all(
        opts.sources.map(async (source) => {
          try {
            const res = await get(`${opts.connectUrl}/connectors/${source.connector}/status`, { signal: AbortSignal.timeout(1_500) })
            if (!res.ok) return { name: source.connector, source: source.name, state: res.status === 404 ? 'NOT_REGISTERED' : `HTTP ${res.status}`, tasks: [] as string[], up: false }
            const body = (await res.json()) as ConnectorStatus
            const tasks = (body.tasks ?? []).map((t) => t.state ?? 'UNKNOWN')
            const state = body.connector?.state ?? 'UNKNOWN'
            return { name: source.connector, source: source.name, state, tasks, up: state === 'RUNNING' && tasks.length > 0 && tasks.every((t) => t === 'RUNNING') }
          } catch (error) {
            return { name: source.connector, source: source.name, state: 'UNREACHABLE', tasks: [] as string[], up: false, error: (error as Error).message }
          }
        }),
      )
      const slots = await Promise.all(opts.sources.map(async (source) => ({ source: source.name, slots: await slotLag(source) })))
      return {
        status: connectors.every((c) => c.up) ? 'UP' : 'DOWN',
        details: {
          connectUrl: opts.connectUrl,
          connectors: Object.fromEntries(connectors.map(({ name, up: _up, ...rest }) => [name, rest])),
          // null: this role may not read pg_replication_slots on that server
          replicationSlots: Object.fromEntries(slots.map((s) => [s.source, s.slots])),
        },
      }
    },
  }
}

export function outboxComponent(opts: Pick<RelayHealthOptions, 'sources' | 'strategy' | 'backlogWarnSeconds'>): Component {
  return {
    required: false,
    check: async () => {
      if (opts.strategy === 'debezium') {
        // Nothing marks rows under debezium: the rows are only kept for pruning; capture progress is debezium.replicationSlots.
        const retained = await Promise.all(opts.sources.map(async (s) => ({ source: s.name, ...(await retainedOf(s).catch((error: Error) => ({ error: error.message }))) })))
        return {
          status: 'UP',
          details: {
            strategy: opts.strategy,
            note: 'Debezium publishes from the WAL and marks no rows: these are rows kept for pruning, not a backlog (capture progress: debezium.replicationSlots, GET /api/events/stats)',
            sources: Object.fromEntries(retained.map(({ source, ...rest }) => [source, rest])),
          },
        }
      }
      const stats = await Promise.all(opts.sources.map((s) => outboxStatsOf(s).catch((error: Error) => ({ source: s.name, error: error.message }))))
      const stale = stats.some((s) => 'oldestUnpublishedAgeSeconds' in s && (s.oldestUnpublishedAgeSeconds ?? 0) > opts.backlogWarnSeconds)
      return {
        status: stale ? 'DEGRADED' : 'UP',
        details: {
          strategy: opts.strategy,
          warnAfterSeconds: opts.backlogWarnSeconds,
          sources: Object.fromEntries(stats.map(({ source, ...rest }) => [source, rest])),
        },
      }
    },
  }
}
