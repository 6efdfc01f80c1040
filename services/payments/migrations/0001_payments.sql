-- Up Migration
-- One payment per order (the unique order_id is what makes "never two charges" hold across copies of the
-- service). Amounts are integer minor units.
--   CHARGED            the gateway approved the charge
--   FAILED             declined, or the gateway could not be reached (failure_code says which)
--   REFUNDED           charged, then refunded
--   REFUND_NOT_NEEDED  a refund was requested before any charge: a tombstone, so a late PROCESS_PAYMENT for the
--                      same order is answered PAYMENT_FAILED instead of charging a cancelled order
-- PENDING exists only inside the handler's transaction (the row lock that serialises two copies).
CREATE TABLE payments (
  id                uuid PRIMARY KEY,
  order_id          uuid NOT NULL UNIQUE,
  saga_id           uuid NOT NULL,
  customer_id       uuid,
  amount_cents      bigint NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
  currency          char(3),
  status            text NOT NULL CHECK (status IN ('PENDING', 'CHARGED', 'FAILED', 'REFUNDED', 'REFUND_NOT_NEEDED')),
  gateway_charge_id text,
  failure_code      text,
  failure_reason    text,
  attempts          integer NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_status ON payments (status, created_at);
CREATE INDEX payments_customer ON payments (customer_id, created_at);
CREATE INDEX payments_created ON payments (created_at);

-- One refund decision per order: either the refund of the charge, or NOT_NEEDED (nothing was charged).
-- A second REFUND_PAYMENT replies from this row.
CREATE TABLE refunds (
  id                uuid PRIMARY KEY,
  order_id          uuid NOT NULL UNIQUE,
  payment_id        uuid REFERENCES payments (id),
  amount_cents      bigint NOT NULL CHECK (amount_cents >= 0),
  status            text NOT NULL CHECK (status IN ('REFUNDED', 'NOT_NEEDED')),
  reason            text NOT NULL,
  gateway_refund_id text,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- The sandbox gateway's own records: an external system's state, written outside the service's transactions
-- (autocommit, its own pool). Keyed by the idempotency key like a card processor, so a handler that is retried
-- after a crash gets the first answer back instead of a second charge.
CREATE TABLE gateway_sandbox_charges (
  idempotency_key  text PRIMARY KEY,
  operation        text NOT NULL CHECK (operation IN ('charge', 'refund')),
  gateway_id       text NOT NULL UNIQUE,
  charge_id        text,
  token            text,
  amount_cents     bigint NOT NULL,
  currency         char(3),
  outcome          text NOT NULL CHECK (outcome IN ('pending', 'approved', 'declined')),
  decline_code     text,
  decline_reason   text,
  calls            integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE IF EXISTS gateway_sandbox_charges, refunds, payments;
