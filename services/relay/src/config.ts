import { Type } from 'typebox'
import { loadConfig, runtimeSettings } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings } from '@trackops/messaging'

export const relayConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  RELAY_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8084 }),
  RELAY_ORDERS_DATABASE_URL: Type.String({ minLength: 1 }),
  RELAY_INVENTORY_DATABASE_URL: Type.String({ minLength: 1 }),
  RELAY_PAYMENTS_DATABASE_URL: Type.String({ minLength: 1 }),
  /** Outbox rows older than this are deleted (published ones; every one under Debezium). */
  OUTBOX_RETENTION_SECONDS: Type.Integer({ minimum: 10, default: 600 }),
  /** Under the outbox strategy: an unpublished row older than this marks the relay DEGRADED. */
  OUTBOX_BACKLOG_WARN_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  RELAY_POLL_MS: Type.Integer({ minimum: 10, default: 1_000 }),
  RELAY_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 5_000, default: 500 }),
})

export const loadRelayConfig = (env: Record<string, string | undefined>) => loadConfig(relayConfigSchema, env)
export type RelayConfig = ReturnType<typeof loadRelayConfig>
