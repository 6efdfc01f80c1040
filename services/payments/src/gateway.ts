// The payment gateway seam: what the service asks of a card processor, and which implementation PAYMENTS_GATEWAY
// selects. The implementations live in their own files (sandbox-gateway.ts); every call goes through the
// resilience wrapper (resilient-gateway.ts).
//
// Idempotency: every call carries an idempotency key derived from the order (`charge:<orderId>`), never from a
// row id minted inside the handler's transaction — that transaction may roll back after the gateway answered
// (crash, lost connection), and the retried handler must get the first answer back instead of charging again.
//
// A decline is an answer (a value), not an error: it does not trip the breaker and is not retried. Only
// transport-level trouble (timeouts, 5xx-like transient errors) is retried and counted by the breaker.
export interface ChargeRequest {
  idempotencyKey: string
  amountCents: number
  currency: string
  token: string
}
export interface RefundRequest {
  idempotencyKey: string
  chargeId: string
  amountCents: number
}
export type Declined = { outcome: 'declined'; code: string; reason: string }
export type ChargeResult = { outcome: 'approved'; chargeId: string } | Declined
export type RefundResult = { outcome: 'approved'; refundId: string } | Declined
/** What the processor knows of a charge by its idempotency key (for reconciling charges that got no answer). */
export type ChargeLookup =
  | { outcome: 'approved'; chargeId: string; amountCents: number }
  | { outcome: 'declined' }
  | { outcome: 'not_found' }
  | { outcome: 'pending' }

export interface PaymentGateway {
  charge(request: ChargeRequest, signal?: AbortSignal): Promise<ChargeResult>
  refund(request: RefundRequest, signal?: AbortSignal): Promise<RefundResult>
  lookupCharge(idempotencyKey: string, signal?: AbortSignal): Promise<ChargeLookup>
}

/** The gateway could not give an answer (transient failure); retrying may help. */
export class GatewayError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatewayError'
  }
}
