import { Type } from 'typebox'
import { loadConfig, runtimeSettings } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings } from '@trackops/messaging'
import { DEFAULT_RECONCILE_AFTER_MS } from './process-payment.ts'

export const paymentsConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  PAYMENTS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8085 }),
  PAYMENTS_DATABASE_URL: Type.String({ minLength: 1 }),
  /** Per gateway attempt; a call makes up to 3 attempts. Kept ≤ 5 s: the handler's transaction waits for it. */
  PAYMENT_GATEWAY_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 5_000, default: 2_000 }),
  /** A charge that got no answer is looked up at the gateway this long after it failed (then 2×, 4×… while pending). */
  PAYMENT_RECONCILE_AFTER_MS: Type.Integer({ minimum: 1_000, maximum: 86_400_000, default: DEFAULT_RECONCILE_AFTER_MS }),
  /** How often the reconciler looks for payments that are due. */
  PAYMENT_RECONCILE_EVERY_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000 }),
})

export const loadPaymentsConfig = (env: Record<string, string | undefined>) => loadConfig(paymentsConfigSchema, env)
export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>
