// The health components of a service that consumes and publishes through its own outbox: the broker, this
// process's consumer lag, under the debezium strategy the service's outbox connector, and the WAL its database's
// replication slots retain.
import type { QueryExecutorProvider } from 'kysely'
import type { Health } from '@trackops/runtime'
import { consumerLagComponent, debeziumComponent, kafkaComponent, replicationSlotsComponent } from './health.ts'
import type { KafkaAdmin } from './kafka.ts'

export interface MessagingHealthOptions {
  admin: KafkaAdmin
  /** Any Kysely instance: only raw SQL is run on it. */
  db: QueryExecutorProvider
  strategy: 'debezium' | 'outbox'
  connectUrl: string
  /** The service's Debezium outbox connector and its slot; looked at under the debezium strategy only. */
  connector: string
  slot: string
}

export function registerMessagingHealth(health: Health, opts: MessagingHealthOptions) {
  health.register('kafka', kafkaComponent(opts.admin))
  health.register('consumerLag', consumerLagComponent())
  if (opts.strategy === 'debezium') health.register('debezium', debeziumComponent(opts))
  health.register('replicationSlots', replicationSlotsComponent(opts.db))
}
