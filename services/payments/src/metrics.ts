import client from 'prom-client'

const existing = <T>(name: string) => client.register.getSingleMetric(name) as T | undefined

export const paymentMetrics = {
  payments:
    existing<client.Counter>('trackops_payments_total') ??
    new client.Counter({ name: 'trackops_payments_total', help: 'Payment decisions, by outcome (processed, failed, refunded, refund_not_needed).', labelNames: ['outcome'] }),
  breaker:
    existing<client.Gauge>('trackops_circuit_breaker_state') ??
    new client.Gauge({
      name: 'trackops_circuit_breaker_state',
      help: 'Circuit breaker state as a state set: one series per state (closed, half-open, open), 1 for the current one, 0 for the others.',
      labelNames: ['breaker', 'state'],
    }),
  reconciliations:
    existing<client.Counter>('trackops_payment_reconciliations_total') ??
    new client.Counter({
      name: 'trackops_payment_reconciliations_total',
      help: 'Charges without a gateway answer, reconciled: refunded (the processor had charged), not_charged, unresolved (needs an operator), later (asked again).',
      labelNames: ['outcome'],
    }),
  gatewayAttempts:
    existing<client.Histogram>('trackops_payment_gateway_attempts') ??
    new client.Histogram({ name: 'trackops_payment_gateway_attempts', help: 'Gateway attempts per payment operation.', labelNames: ['operation'], buckets: [1, 2, 3, 4] }),
}
