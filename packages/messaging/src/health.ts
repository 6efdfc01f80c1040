// Kafka-side health components every service that publishes or consumes can register.
import { sql, type QueryExecutorProvider } from 'kysely'
import { replicationSlotsOf, type Component } from '@trackops/runtime'
import { lagSamples } from './lag.ts'
import type { KafkaAdmin } from './kafka.ts'

/** DEGRADED when any consumer group of this process is further behind than `maxLag` records. */
export function consumerLagComponent(maxLag = 1_000): Component {
  return {
    required: false,
    check: async () => {
      const samples = lagSamples()
      if (samples.length === 0) return { status: 'UNKNOWN', details: { reason: 'no lag sampled yet' } }
      const groups = Object.fromEntries(samples.map((s) => [s.group, { lag: s.total, sampledAt: s.sampledAt.toISOString() }]))
      return { status: samples.some((s) => s.total > maxLag) ? 'DEGRADED' : 'UP', details: { maxLag, groups } }
    },
  }
}

/**
 * The service's own Debezium connector (state of connector and task from Kafka Connect) and the lag of its
 * replication slot in bytes. DOWN when the connector or its task is not RUNNING.
 */
export function debeziumComponent(opts: { connectUrl: string; connector: string; slot: string; db: QueryExecutorProvider }): Component {
  return {
    required: false,
    check: async () => {
      const res = await fetch(`${opts.connectUrl}/connectors/${opts.connector}/status`, { signal: AbortSignal.timeout(1_500) })
      if (res.status === 404) return { status: 'DOWN', details: { connector: opts.connector, error: 'not registered (bash infra/stack.sh connectors)' } }
      const body = (await res.json()) as { connector?: { state?: string }; tasks?: { state?: string; trace?: string }[] }
      const connector = body.connector?.state ?? 'UNKNOWN'
      const task = body.tasks?.[0]?.state ?? 'NONE'
      const slot = (
        await sql<{ lag: number | null; active: boolean }>`
          SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag, active
          FROM pg_replication_slots WHERE slot_name = ${opts.slot}`.execute(opts.db)
      ).rows[0]
      const up = connector === 'RUNNING' && task === 'RUNNING'
      return {
        status: up ? 'UP' : 'DOWN',
        details: { connector: opts.connector, connectorState: connector, taskState: task, slot: opts.slot, slotLagBytes: slot?.lag ?? null, slotActive: slot?.active ?? false },
      }
    },
  }
}

/**
 * The replication slots of this service's database against max_slot_wal_keep_size: DOWN when a slot was invalidated
 * (wal_status lost: its connector must start again from a new slot, infra/README.md "When a replication slot is lost"), DEGRADED when a slot is past half of the
 * bound (it retains more than it may still add) or already unreserved, so an operator hears of a stopped connector
 * well before PostgreSQL drops its WAL. Under both strategies: the CDC slots feed the caches either way.
 */
export function replicationSlotsComponent(db: QueryExecutorProvider): Component {
  return {
    required: false,
    check: async () => {
      const rows = await replicationSlotsOf(db)
      const lost = rows.filter((r) => r.walStatus === 'lost').map((r) => r.slot)
      const filling = rows.filter((r) => r.walStatus === 'unreserved' || (r.safe !== null && r.retained > r.safe)).map((r) => r.slot)
      const slots = Object.fromEntries(rows.map((r) => [r.slot, { active: r.active, walStatus: r.walStatus, retainedWalBytes: r.retained, safeWalBytes: r.safe }]))
      const status = lost.length > 0 ? 'DOWN' : filling.length > 0 ? 'DEGRADED' : 'UP'
      return { status, details: { maxSlotWalKeepSize: rows[0]?.bound ?? null, slots, ...(lost.length ? { lost } : {}), ...(filling.length ? { overHalfTheBound: filling } : {}) } }
    },
  }
}

/** The broker answers a metadata request. */
export function kafkaComponent(admin: KafkaAdmin, required = false): Component {
  return {
    required,
    check: async () => {
      const cluster = await admin.describeCluster()
      return { status: 'UP', details: { clusterId: cluster.clusterId, brokers: cluster.brokers } }
    },
  }
}
