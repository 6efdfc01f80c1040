import { Type } from 'typebox'
import { loadConfig, runtimeSettings, withRule } from '@trackops/runtime'
import { httpSettings } from '@trackops/http'
import { messagingSettings, retentionSettings } from '@trackops/messaging'
import { DEFAULT_RECONCILE_AFTER_MS } from './process-payment.ts'

/** The payment gateways the service can charge through (PAYMENTS_GATEWAY); the sandbox is the only one today. */
export const paymentGateways = ['sandbox'] as const
export type PaymentGatewayName = (typeof paymentGateways)[number]
const isPaymentGateway = (value: unknown): value is PaymentGatewayName => paymentGateways.includes(value as PaymentGatewayName)

export const paymentsConfigSchema = Type.Object({
  ...runtimeSettings,
  ...httpSettings,
  ...messagingSettings,
  ...retentionSettings,
  PAYMENTS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8085 }),
  PAYMENTS_DATABASE_URL: Type.String({ minLength: 1 }),
  PAYMENTS_GATEWAY: withRule(
    Type.Decode(Type.String({ default: 'sandbox' }), (name) => name as PaymentGatewayName),
    (c) => (isPaymentGateway(c.PAYMENTS_GATEWAY) ? [] : [`PAYMENTS_GATEWAY: "${String(c.PAYMENTS_GATEWAY)}" is not a payment gateway; choose one of: ${paymentGateways.join(', ')}`]),
  ),
  /**
   * The payment token charged for an order placed without a payment method. Unset (the default): such a payment
   * fails with code payment-method.missing. .env.example sets the sandbox's test card for local development only.
   */
  PAYMENTS_DEFAULT_PAYMENT_TOKEN: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  /** Per gateway attempt; a call makes up to 3 attempts. Kept ≤ 5 s: the handler's transaction waits for it. */
  PAYMENT_GATEWAY_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 5_000, default: 2_000 }),
  /** A charge that got no answer is looked up at the gateway this long after it failed (then 2×, 4×… while pending). */
  PAYMENT_RECONCILE_AFTER_MS: Type.Integer({ minimum: 1_000, maximum: 86_400_000, default: DEFAULT_RECONCILE_AFTER_MS }),
  /** How often the reconciler looks for payments that are due. */
  PAYMENT_RECONCILE_EVERY_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000 }),
})

export const loadPaymentsConfig = (env: Record<string, string | undefined>) => loadConfig(paymentsConfigSchema, env)
export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>
