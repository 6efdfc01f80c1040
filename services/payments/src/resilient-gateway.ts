// The resilience every gateway call goes through: timeout per attempt, retry with exponential back-off, and a
// circuit breaker, so a processor in trouble makes payments fail fast instead of holding the handler's transaction.
import {
  BrokenCircuitError,
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
import type { ChargeLookup, ChargeRequest, ChargeResult, PaymentGateway, RefundRequest, RefundResult } from './gateway.ts'
import { paymentMetrics } from './metrics.ts'

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const
export type BreakerState = (typeof BREAKER_STATES)[number]
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
  /** The clock that times the open breaker (ms); default Date.now. */
  now?: () => number
  /** The `breaker` label of trackops_circuit_breaker_state (a state set: a series per `state`, 1 for the current one). */
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
  const now = settings.now ?? Date.now
  const halfOpenAfterMs = settings.halfOpenAfterMs ?? 10_000
  // cockatiel times the open state with its own Date.now; it is told to allow a trial at once, and the open period
  // is timed here with the injected clock instead (checked before every attempt, so a retry stops too).
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 0, breaker: new ConsecutiveBreaker(settings.breakAfter ?? 5) })
  let openedAt = 0
  breaker.onStateChange((s) => {
    if (s === CircuitState.Open) openedAt = now()
  })
  const stillOpen = () => breaker.state === CircuitState.Open && now() - openedAt < halfOpenAfterMs
  const attempt = wrap(breaker, timeout(settings.timeoutMs, TimeoutStrategy.Aggressive))
  const retries = retry(handleWhen((error) => !isBrokenCircuitError(error)), {
    maxAttempts: (settings.attempts ?? 3) - 1,
    backoff: new ExponentialBackoff({ initialDelay: settings.initialBackoffMs ?? 200, maxDelay: settings.maxBackoffMs ?? 2_000 }),
  })
  const policy = {
    execute: <T>(fn: (context: { signal: AbortSignal }) => Promise<T>) =>
      retries.execute(() => {
        if (stillOpen()) throw new BrokenCircuitError()
        return attempt.execute(fn)
      }),
  }
  const stateOf = (s: CircuitState): BreakerState => (s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open')
  const label = { breaker: settings.breakerName ?? 'payment_gateway' }
  const showState = (current: BreakerState) => {
    for (const state of BREAKER_STATES) paymentMetrics.breaker.set({ ...label, state }, state === current ? 1 : 0)
  }
  showState('closed')
  breaker.onStateChange((s) => showState(stateOf(s)))

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
    breakerState: () => (stillOpen() ? 'open' : stateOf(breaker.state)),
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
