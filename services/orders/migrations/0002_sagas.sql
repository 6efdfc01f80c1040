-- Up Migration
-- The order saga (DESIGN §3): one saga per order, its state and the history of its steps. Rows change only
-- under SELECT … FOR UPDATE of the saga (after the order's row), and `version` is bumped by every update.
-- reservation / payment record what is held on the other side, so late or duplicate replies are judged
-- against it (see services/orders/src/saga.ts).
CREATE TABLE saga_instances (
  id                    uuid PRIMARY KEY,
  order_id              uuid NOT NULL UNIQUE,
  customer_id           uuid NOT NULL,
  status                text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED')),
  current_step          text CHECK (current_step IN ('RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'REFUND_PAYMENT', 'RELEASE_INVENTORY')),
  step_deadline         timestamptz,
  compensation_attempts integer NOT NULL DEFAULT 0 CHECK (compensation_attempts >= 0),
  reservation_status    text NOT NULL CHECK (reservation_status IN ('NONE', 'REQUESTED', 'RESERVED', 'FAILED', 'COMMITTED', 'RELEASING', 'RELEASED', 'EXPIRED')),
  payment_status        text NOT NULL CHECK (payment_status IN ('NONE', 'REQUESTED', 'PROCESSED', 'FAILED', 'REFUNDING', 'REFUNDED')),
  payment_id            uuid,
  total_cents           bigint NOT NULL CHECK (total_cents >= 0),
  currency              text NOT NULL,
  -- Needed until PROCESS_PAYMENT is sent, then cleared.
  payment_token         text,
  items                 jsonb NOT NULL,
  cancel_reason         text,
  cause                 text CHECK (cause IN ('customer', 'operator', 'saga', 'timeout', 'system')),
  cancelled_by          text,
  correlation_id        text NOT NULL,
  step_timeout_seconds  integer NOT NULL CHECK (step_timeout_seconds > 0),
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL,
  completed_at          timestamptz,
  version               bigint NOT NULL DEFAULT 1
);
-- The sweeper: overdue steps of running and compensating sagas (the only ones with a deadline).
CREATE INDEX saga_instances_due ON saga_instances (status, step_deadline) WHERE step_deadline IS NOT NULL;
CREATE INDEX saga_instances_status_created ON saga_instances (status, created_at DESC, id);

-- One row per step name: a re-sent command is one more attempt of the same step.
CREATE TABLE saga_steps (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  saga_id      uuid NOT NULL REFERENCES saga_instances (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (name IN ('RESERVE_INVENTORY', 'PROCESS_PAYMENT', 'COMMIT_RESERVATION', 'REFUND_PAYMENT', 'RELEASE_INVENTORY')),
  kind         text NOT NULL CHECK (kind IN ('action', 'compensation')),
  status       text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'COMPENSATED')),
  attempts     integer NOT NULL CHECK (attempts >= 1),
  started_at   timestamptz NOT NULL,
  completed_at timestamptz,
  error        text,
  UNIQUE (saga_id, name)
);

-- Down Migration
DROP TABLE IF EXISTS saga_steps, saga_instances;
