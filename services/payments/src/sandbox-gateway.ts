// The sandbox gateway (PAYMENTS_GATEWAY=sandbox): behaves like a card processor's test mode, driven by the payment
// token (sandboxTokens). It keeps its records in `gateway_sandbox_charges` through its own connection pool, outside
// any service transaction, exactly like an external processor would.
import { randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { GatewayError, type Declined, type PaymentGateway } from './gateway.ts'

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
/** Every token but these approves at once. */
const specialTokens = new Set<string>(Object.values(sandboxTokens).filter((t) => t !== sandboxTokens.approve))

interface SandboxRow {
  gateway_id: string
  operation: 'charge' | 'refund'
  amount_cents: number
  outcome: 'pending' | 'approved' | 'declined'
  decline_code: string | null
  decline_reason: string | null
  calls: number
}

/** `db`: any connection to the payments database; the sandbox speaks only SQL of its own table. */
export function createSandboxGateway<DB>(db: Kysely<DB>): PaymentGateway {
  const gatewayId = (prefix: string) => `${prefix}_sandbox_${randomBytes(12).toString('hex')}`

  /**
   * Records the call under its key (or counts a repeat); the stored row decides replays. `outcome`: what a first call
   * is settled as at once (a plain approval needs no second statement), 'pending' when the token decides later.
   */
  async function record(key: string, operation: 'charge' | 'refund', values: { token?: string; amountCents: number; currency?: string; chargeId?: string }, outcome: 'pending' | 'approved' = 'pending') {
    const r = await sql<SandboxRow>`
      INSERT INTO gateway_sandbox_charges (idempotency_key, operation, gateway_id, charge_id, token, amount_cents, currency, outcome)
      VALUES (${key}, ${operation}, ${gatewayId(operation === 'charge' ? 'ch' : 're')}, ${values.chargeId ?? null},
              ${values.token ?? null}, ${values.amountCents}, ${values.currency ?? null}, ${outcome})
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
      const plainApproval = !specialTokens.has(request.token)
      const row = await record(request.idempotencyKey, 'charge', request, plainApproval ? 'approved' : 'pending')
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
