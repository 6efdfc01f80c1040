-- Up Migration
-- Reconciling charges that got no answer. A charge whose gateway call timed out or failed is recorded FAILED at
-- once (the saga compensates without waiting), but the processor may still have taken the money. Such payments
-- get next_reconcile_at; the reconciler then asks the gateway under the charge's idempotency key and refunds a
-- charge that did go through.
--   reconciliation  refunded     the processor had charged: refunded, the payment is REFUNDED
--                   not_charged  the processor has no charge (or declined it): nothing to do
--                   unresolved   the processor kept answering "pending" or nothing: an operator must look
ALTER TABLE payments
  ADD COLUMN next_reconcile_at timestamptz,
  ADD COLUMN reconcile_checks  integer NOT NULL DEFAULT 0,
  ADD COLUMN reconciliation    text CHECK (reconciliation IN ('refunded', 'not_charged', 'unresolved')),
  ADD COLUMN reconciled_at     timestamptz;

-- Payments that already failed without an answer are reconciled too.
UPDATE payments SET next_reconcile_at = now()
 WHERE status = 'FAILED' AND failure_code IN ('gateway_timeout', 'gateway_error', 'gateway_unavailable');

CREATE INDEX payments_to_reconcile ON payments (next_reconcile_at) WHERE reconciliation IS NULL AND next_reconcile_at IS NOT NULL;

-- Down Migration
DROP INDEX IF EXISTS payments_to_reconcile;
ALTER TABLE payments DROP COLUMN IF EXISTS reconciled_at, DROP COLUMN IF EXISTS reconciliation,
  DROP COLUMN IF EXISTS reconcile_checks, DROP COLUMN IF EXISTS next_reconcile_at;
