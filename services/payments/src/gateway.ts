// The payment gateway seam: an interface, the sandbox that ships as the default, and the resilience wrapper
// (timeout per attempt, retry with exponential back-off, circuit breaker) every call goes through.
//
// Idempotency: every call carries an idempotency key derived from the order (`charge:<orderId>`), never from a
// row id minted inside the handler's transaction — that transaction may roll back after the gateway answered
// (crash, lost connection), and the retried handler must get the first answer back instead of charging again.
// The sandbox keeps its records in `gateway_sandbox_charges` through its own connection pool, outside any
// service transaction, exactly like an external processor would.
//
// A decline is an answer (a value), not an error: it does not trip the breaker and is not retried. Only
// transport-level trouble (timeouts, 5xx-like transient errors) is retried and counted by the breaker.
import { randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import {
  circuitBreaker,
  ConsecutiveBreaker,
  CircuitState,
  ExponentialBackoff,
  handleAll,
  handleWhen,
  isBrokenCircuitError,
  isTaskCancelledError,
  retry,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel'
import type { Component } from '@trackops/runtime'
import { breakerValue, paymentMetrics } from './metrics.ts'

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

// --- the sandbox ---------------------------------------------------------------------------------------------

/** Test-mode tokens, like a card processor's: anything else approves. */
export const sandboxTokens = {
  approve: 'tok_visa',
  declined: 'tok_chargeDeclined',
  insufficientFunds: 'tok_insufficientFunds',
  transientError: 'tok_transientError',
  timeout: 'tok_timeout',
  /** The processor approves the charge, but its answer never arrives (every attempt times out). */
  approvedNoAnswer: 'tok_approvedNoAnswer',
} as const
const TRANSIENT_FAILURES = 2

interface SandboxRow {
  gateway_id: string
  operation: 'charge' | 'refund'
  amount_cents: number
  outcome: 'pending' | 'approved' | 'declined'
  decline_code: string | null
  decline_reason: string | null
  calls: number
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createSandboxGateway(db: Kysely<any>): PaymentGateway {
  const gatewayId = (prefix: string) => `${prefix}_sandbox_${randomBytes(12).toString('hex')}`

  /** Records the call under its key (or counts a repeat); the stored row decides replays. */
  async function record(key: string, operation: 'charge' | 'refund', values: { token?: string; amountCents: number; currency?: string; chargeId?: string }) {
    const r = await sql<SandboxRow>`
      INSERT INTO gateway_sandbox_charges (idempotency_key, operation, gateway_id, charge_id, token, amount_cents, currency, outcome)
      VALUES (${key}, ${operation}, ${gatewayId(operation === 'charge' ? 'ch' : 're')}, ${values.chargeId ?? null},
              ${values.token ?? null}, ${values.amountCents}, ${values.currency ?? null}, 'pending')
      ON CONFLICT (idempotency_key) DO UPDATE SET calls = gateway_sandbox_charges.calls + 1, updated_at = now()
      RETURNING gateway_id, operation, amount_cents, outcome, decline_code, decline_reason, calls`.execute(db)
    return r.rows[0]!
  }
  async function settle(key: string, outcome: 'approved' | 'declined', decline?: { code: string; reason: string }) {
    await sql`UPDATE gateway_sandbox_charges SET outcome = ${outcome}, decline_code = ${decline?.code ?? null},
                decline_reason = ${decline?.reason ?? null}, updated_at = now() WHERE idempotency_key = ${key}`.execute(db)
  }
  const replay = (row: SandboxRow): Declined | null =>
    row.outcome === 'declined' ? { outcome: 'declined', code: row.decline_code ?? 'declined', reason: row.decline_reason ?? 'Declined.' } : null
  const mismatch = (row: SandboxRow, operation: string, amountCents: number): Declined | null =>
    row.operation !== operation || row.amount_cents !== amountCents
      ? { outcome: 'declined', code: 'idempotency_key_reused', reason: 'The idempotency key was already used with other parameters.' }
      : null

  return {
    async charge(request, signal) {
      const row = await record(request.idempotencyKey, 'charge', request)
      const conflict = mismatch(row, 'charge', request.amountCents)
      if (conflict) return conflict
      const hang = () => new Promise<never>((_, reject) => {
        signal?.addEventListener('abort', () => reject(new GatewayError('sandbox: request aborted by the caller')), { once: true })
      })
      if (request.token === sandboxTokens.approvedNoAnswer) {
        if (row.outcome !== 'approved') await settle(request.idempotencyKey, 'approved')
        return hang()
      }
      if (row.outcome === 'approved') return { outcome: 'approved', chargeId: row.gateway_id }
      const previous = replay(row)
      if (previous) return previous
      switch (request.token) {
        case sandboxTokens.timeout:
          // Never answers (and never completes the charge); the caller's timeout aborts the wait.
          return hang()
        case sandboxTokens.transientError:
          if (row.calls <= TRANSIENT_FAILURES) throw new GatewayError(`sandbox: transient processor error (call ${row.calls} of this key)`)
          break
        case sandboxTokens.declined: {
          const declined = { code: 'card_declined', reason: 'The card was declined.' }
          await settle(request.idempotencyKey, 'declined', declined)
          return { outcome: 'declined', ...declined }
        }
        case sandboxTokens.insufficientFunds: {
          const declined = { code: 'insufficient_funds', reason: 'The card has insufficient funds.' }
          await settle(request.idempotencyKey, 'declined', declined)
          return { outcome: 'declined', ...declined }
        }
      }
      await settle(request.idempotencyKey, 'approved')
      return { outcome: 'approved', chargeId: row.gateway_id }
    },

    async refund(request) {
      const row = await record(request.idempotencyKey, 'refund', request)
      const conflict = mismatch(row, 'refund', request.amountCents)
      if (conflict) return conflict
      if (row.outcome === 'approved') return { outcome: 'approved', refundId: row.gateway_id }
      const previous = replay(row)
      if (previous) return previous
      const charge = (
        await sql<{ amount_cents: number }>`
          SELECT amount_cents FROM gateway_sandbox_charges
          WHERE gateway_id = ${request.chargeId} AND operation = 'charge' AND outcome = 'approved'`.execute(db)
      ).rows[0]
      const declined =
        !charge ? { code: 'charge_not_found', reason: `No approved charge ${request.chargeId}.` }
        : request.amountCents > charge.amount_cents ? { code: 'amount_too_large', reason: 'The refund exceeds the charge.' }
        : null
      if (declined) {
        await settle(request.idempotencyKey, 'declined', declined)
        return { outcome: 'declined', ...declined }
      }
      await settle(request.idempotencyKey, 'approved')
      return { outcome: 'approved', refundId: row.gateway_id }
    },

    async lookupCharge(idempotencyKey) {
      const row = (
        await sql<SandboxRow>`
          SELECT gateway_id, operation, amount_cents, outcome, decline_code, decline_reason, calls
          FROM gateway_sandbox_charges WHERE idempotency_key = ${idempotencyKey} AND operation = 'charge'`.execute(db)
      ).rows[0]
      if (!row) return { outcome: 'not_found' }
      if (row.outcome === 'approved') return { outcome: 'approved', chargeId: row.gateway_id, amountCents: Number(row.amount_cents) }
      return row.outcome === 'declined' ? { outcome: 'declined' } : { outcome: 'pending' }
    },
  }
}

// --- resilience ------------------------------------------------------------------------------------------------

export type BreakerState = 'closed' | 'half-open' | 'open'
export type Unanswered = { outcome: 'unanswered'; code: 'gateway_timeout' | 'gateway_unavailable' | 'gateway_error'; reason: string }
export type Attempted<T> = (T | Unanswered) & { attempts: number }

export interface ResilienceSettings {
  timeoutMs: number
  /** Total attempts per call, the first included. */
  attempts?: number
  initialBackoffMs?: number
  maxBackoffMs?: number
  /** Consecutive failed attempts that open the breaker. */
  breakAfter?: number
  halfOpenAfterMs?: number
  /** The `breaker` label of trackops_circuit_breaker_state. */
  breakerName?: string
}

export interface ResilientGateway {
  charge(request: ChargeRequest): Promise<Attempted<ChargeResult>>
  refund(request: RefundRequest): Promise<Attempted<RefundResult>>
  lookupCharge(idempotencyKey: string): Promise<Attempted<ChargeLookup>>
  breakerState(): BreakerState
  onStateChange(listener: (state: BreakerState) => void): void
}

/**
 * retry( breaker( timeout( call ) ) ): each attempt is bounded by the timeout and counted by the breaker; the
 * retry stops at once when the breaker is open. A call that gets no answer resolves to `unanswered` rather
 * than throwing, so each caller decides what "no answer" means for its step.
 */
export function createResilientGateway(gateway: PaymentGateway, settings: ResilienceSettings): ResilientGateway {
  const breaker = circuitBreaker(handleAll, {
    halfOpenAfter: settings.halfOpenAfterMs ?? 10_000,
    breaker: new ConsecutiveBreaker(settings.breakAfter ?? 5),
  })
  const policy = wrap(
    retry(handleWhen((error) => !isBrokenCircuitError(error)), {
      maxAttempts: (settings.attempts ?? 3) - 1,
      backoff: new ExponentialBackoff({ initialDelay: settings.initialBackoffMs ?? 200, maxDelay: settings.maxBackoffMs ?? 2_000 }),
    }),
    breaker,
    timeout(settings.timeoutMs, TimeoutStrategy.Aggressive),
  )
  const stateOf = (s: CircuitState): BreakerState => (s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open')
  const label = { breaker: settings.breakerName ?? 'payment_gateway' }
  paymentMetrics.breaker.set(label, 0)
  breaker.onStateChange((s) => paymentMetrics.breaker.set(label, breakerValue(stateOf(s))))

  async function run<T>(call: (signal: AbortSignal) => Promise<T>): Promise<Attempted<T>> {
    let attempts = 0
    let lastTimedOut = false
    try {
      const result = await policy.execute(async ({ signal }) => {
        attempts++
        try {
          return await call(signal)
        } catch (error) {
          // a gateway client rejects with its own abort error when the timeout aborts it
          lastTimedOut = signal.aborted
          throw error
        }
      })
      return { ...result, attempts }
    } catch (error) {
      const unanswered: Unanswered =
        isBrokenCircuitError(error) ? { outcome: 'unanswered', code: 'gateway_unavailable', reason: 'The payment gateway is unavailable (circuit open after repeated failures).' }
        : isTaskCancelledError(error) || lastTimedOut ? { outcome: 'unanswered', code: 'gateway_timeout', reason: `The payment gateway did not answer within ${settings.timeoutMs} ms (${attempts} attempts).` }
        : { outcome: 'unanswered', code: 'gateway_error', reason: `The payment gateway failed (${attempts} attempts): ${error instanceof Error ? error.message : String(error)}` }
      return { ...unanswered, attempts }
    }
  }

  return {
    charge: (request) => run((signal) => gateway.charge(request, signal)),
    refund: (request) => run((signal) => gateway.refund(request, signal)),
    lookupCharge: (key) => run((signal) => gateway.lookupCharge(key, signal)),
    breakerState: () => stateOf(breaker.state),
    onStateChange(listener) {
      breaker.onStateChange((s) => listener(stateOf(s)))
    },
  }
}

/** Health component: DOWN while the breaker is open (not required: the service still answers, payments fail fast). */
export const gatewayHealth = (gateway: ResilientGateway, details: Record<string, unknown>): Component => ({
  required: false,
  check: async () => {
    const breaker = gateway.breakerState()
    return { status: breaker === 'open' ? 'DOWN' : 'UP', details: { ...details, breaker } }
  },
})
