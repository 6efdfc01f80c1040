import { Type } from 'typebox'
import { loadConfig, runtimeSettings } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings, retentionSettings } from '@trackops/messaging'
import { defaultPathSettings } from './saga/messaging-path.ts'

export const ordersConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  ...retentionSettings,
  ORDERS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8081 }),
  ORDERS_DATABASE_URL: Type.String({ minLength: 1 }),
  /** How long a saga step may wait for its reply before the saga compensates. */
  ORDER_SAGA_STEP_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /** How often the messaging path to each saga participant is probed (all copies together send one probe per interval). */
  ORDER_PATH_PROBE_INTERVAL_MS: Type.Integer({ minimum: 100, default: defaultPathSettings.probeIntervalMs }),
  /** A messaging-path outage up to this long holds the deadlines of the steps waiting on it; past it, they time out and say why. */
  ORDER_PATH_OUTAGE_BOUND_SECONDS: Type.Integer({ minimum: 0, default: defaultPathSettings.outageBoundSeconds }),
  /** How long an Idempotency-Key is remembered. */
  ORDER_IDEMPOTENCY_RETENTION_HOURS: Type.Integer({ minimum: 1, default: 24 }),
  /** Order cache entries live this long plus up to the jitter: a backstop, invalidation comes from the change stream. */
  ORDER_CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  ORDER_CACHE_TTL_JITTER_SECONDS: Type.Integer({ minimum: 0, default: 30 }),
  /** An order's live events are kept this long after its last one, for SSE clients resuming with Last-Event-ID. */
  ORDER_LIVE_HISTORY_TTL_SECONDS: Type.Integer({ minimum: 60, default: 900 }),
})

export const loadOrdersConfig = (env: Record<string, string | undefined>) => loadConfig(ordersConfigSchema, env)
export type OrdersConfig = ReturnType<typeof loadOrdersConfig>
