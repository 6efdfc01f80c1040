import { Type } from 'typebox'
import { configSchema, loadConfig } from '@trackops/http'

export const ordersConfigSchema = configSchema({
  ORDERS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8081 }),
  ORDERS_DATABASE_URL: Type.String({ minLength: 1 }),
  /** How long a saga step may wait for its reply before the saga compensates. */
  ORDER_SAGA_STEP_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, default: 30 }),
  /** How long an Idempotency-Key is remembered. */
  ORDER_IDEMPOTENCY_RETENTION_HOURS: Type.Integer({ minimum: 1, default: 24 }),
  /** Order cache entries live this long plus up to the jitter: a backstop, invalidation comes from the change stream. */
  ORDER_CACHE_TTL_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  ORDER_CACHE_TTL_JITTER_SECONDS: Type.Integer({ minimum: 0, default: 30 }),
})

export const loadOrdersConfig = (env: Record<string, string | undefined>) => loadConfig(ordersConfigSchema, env)
export type OrdersConfig = ReturnType<typeof loadOrdersConfig>
