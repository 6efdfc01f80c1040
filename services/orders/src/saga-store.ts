// SQL for saga_instances / saga_steps. Writers lock the order row first and the saga row second (the order of
// every other writer of orders), so a reply, a cancellation and the sweeper never deadlock each other.
import { sql, type Kysely } from 'kysely'
import type { ChangeCause, PaymentState, ReservationState, Saga, SagaLine, SagaStatus, SagaStep, StepKind, StepName, StepStatus } from './saga.ts'
import { participants, stepsWaitingOn, type Participant } from './messaging-path.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tx = Kysely<any>

interface SagaRow {
  id: string
  order_id: string
  customer_id: string
  status: SagaStatus
  current_step: StepName | null
  step_deadline: Date | null
  compensation_attempts: number
  reservation_status: ReservationState
  payment_status: PaymentState
  payment_id: string | null
  total_cents: number | string
  currency: string
  payment_token: string | null
  items: SagaLine[]
  cancel_reason: string | null
  cause: ChangeCause | null
  cancelled_by: string | null
  correlation_id: string
  step_timeout_seconds: number
  created_at: Date
  updated_at: Date
  completed_at: Date | null
  version: number | string
}

interface StepRow {
  saga_id: string
  name: StepName
  kind: StepKind
  status: StepStatus
  attempts: number
  started_at: Date
  completed_at: Date | null
  error: string | null
}

const stepOrder: Record<StepName, number> = { RESERVE_INVENTORY: 1, PROCESS_PAYMENT: 2, COMMIT_RESERVATION: 3, REFUND_PAYMENT: 4, RELEASE_INVENTORY: 5 }

const toStep = (r: StepRow): SagaStep => ({
  name: r.name,
  kind: r.kind,
  status: r.status,
  attempts: r.attempts,
  startedAt: r.started_at,
  completedAt: r.completed_at,
  error: r.error,
})

const toSaga = (r: SagaRow, steps: StepRow[]): Saga => ({
  id: r.id,
  orderId: r.order_id,
  customerId: r.customer_id,
  status: r.status,
  currentStep: r.current_step,
  stepDeadline: r.step_deadline,
  compensationAttempts: r.compensation_attempts,
  reservation: r.reservation_status,
  payment: r.payment_status,
  paymentId: r.payment_id,
  totalCents: Number(r.total_cents),
  currency: r.currency,
  paymentToken: r.payment_token,
  items: r.items,
  cancelReason: r.cancel_reason,
  cause: r.cause,
  cancelledBy: r.cancelled_by,
  correlationId: r.correlation_id,
  stepTimeoutSeconds: r.step_timeout_seconds,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  completedAt: r.completed_at,
  version: Number(r.version),
  steps: steps
    .map(toStep)
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || stepOrder[a.name] - stepOrder[b.name]),
})

async function stepsOf(db: Tx, sagaIds: string[]): Promise<Map<string, StepRow[]>> {
  const bySaga = new Map<string, StepRow[]>(sagaIds.map((id) => [id, []]))
  if (sagaIds.length === 0) return bySaga
  const rows = await sql<StepRow>`
    SELECT saga_id, name, kind, status, attempts, started_at, completed_at, error
    FROM saga_steps WHERE saga_id = ANY(${sagaIds}::uuid[])`.execute(db)
  for (const r of rows.rows) bySaga.get(r.saga_id)?.push(r)
  return bySaga
}

async function withSteps(db: Tx, row: SagaRow | undefined): Promise<Saga | null> {
  if (!row) return null
  return toSaga(row, (await stepsOf(db, [row.id])).get(row.id) ?? [])
}

export type SagaKey = { id: string } | { orderId: string }
const whereKey = (key: SagaKey) => ('id' in key ? sql`id = ${key.id}` : sql`order_id = ${key.orderId}`)

/** Inserts a new saga; false when the order already has one (starting twice is a no-op). */
export async function insertSaga(tx: Tx, s: Saga): Promise<boolean> {
  const inserted = await sql`
    INSERT INTO saga_instances (id, order_id, customer_id, status, current_step, step_deadline, compensation_attempts,
      reservation_status, payment_status, payment_id, total_cents, currency, payment_token, items, cancel_reason, cause,
      cancelled_by, correlation_id, step_timeout_seconds, created_at, updated_at, completed_at, version)
    VALUES (${s.id}, ${s.orderId}, ${s.customerId}, ${s.status}, ${s.currentStep}, ${s.stepDeadline}, ${s.compensationAttempts},
      ${s.reservation}, ${s.payment}, ${s.paymentId}, ${s.totalCents}, ${s.currency}, ${s.paymentToken}, ${JSON.stringify(s.items)}::jsonb,
      ${s.cancelReason}, ${s.cause}, ${s.cancelledBy}, ${s.correlationId}, ${s.stepTimeoutSeconds}, ${s.createdAt}, ${s.updatedAt},
      ${s.completedAt}, ${s.version})
    ON CONFLICT (order_id) DO NOTHING RETURNING id`.execute(tx)
  if (inserted.rows.length === 0) return false
  await upsertSteps(tx, s)
  return true
}

/** Writes the new state of a saga read (and locked) at `before.version`. */
export async function updateSaga(tx: Tx, before: Saga, s: Saga): Promise<number> {
  const updated = await sql<{ version: number | string }>`
    UPDATE saga_instances SET
      status = ${s.status}, current_step = ${s.currentStep}, step_deadline = ${s.stepDeadline},
      compensation_attempts = ${s.compensationAttempts}, reservation_status = ${s.reservation}, payment_status = ${s.payment},
      payment_id = ${s.paymentId}, payment_token = ${s.paymentToken}, cancel_reason = ${s.cancelReason}, cause = ${s.cause},
      cancelled_by = ${s.cancelledBy}, updated_at = ${s.updatedAt}, completed_at = ${s.completedAt}, version = version + 1
    WHERE id = ${s.id} AND version = ${before.version}
    RETURNING version`.execute(tx)
  const row = updated.rows[0]
  // The row is locked by the caller, so this only happens when a caller forgot the lock: fail, the runner retries.
  if (!row) throw new Error(`saga ${s.id} changed concurrently (expected version ${before.version})`)
  const changed = s.steps.filter((step) => {
    const old = before.steps.find((o) => o.name === step.name)
    return !old || old.status !== step.status || old.attempts !== step.attempts || old.completedAt?.getTime() !== step.completedAt?.getTime() || old.error !== step.error || old.startedAt.getTime() !== step.startedAt.getTime()
  })
  await upsertSteps(tx, { ...s, steps: changed })
  return Number(row.version)
}

/** All changed steps in one statement. */
async function upsertSteps(tx: Tx, s: Pick<Saga, 'id' | 'steps'>): Promise<void> {
  if (s.steps.length === 0) return
  const rows = s.steps.map((step) => sql`(${s.id}, ${step.name}, ${step.kind}, ${step.status}, ${step.attempts}, ${step.startedAt}, ${step.completedAt}, ${step.error})`)
  await sql`
    INSERT INTO saga_steps (saga_id, name, kind, status, attempts, started_at, completed_at, error)
    VALUES ${sql.join(rows)}
    ON CONFLICT (saga_id, name) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts,
      started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at, error = EXCLUDED.error`.execute(tx)
}

/** The order a saga belongs to (no steps read): for finding the order to lock first. */
export async function orderIdOfSaga(db: Tx, sagaId: string): Promise<string | null> {
  const r = await sql<{ order_id: string }>`SELECT order_id FROM saga_instances WHERE id = ${sagaId}`.execute(db)
  return r.rows[0]?.order_id ?? null
}

export async function findSaga(db: Tx, key: SagaKey): Promise<Saga | null> {
  const r = await sql<SagaRow>`SELECT * FROM saga_instances WHERE ${whereKey(key)}`.execute(db)
  return withSteps(db, r.rows[0])
}

/** Locks the saga until the transaction ends. Lock the order row first (lockOrder). */
export async function lockSaga(tx: Tx, key: SagaKey): Promise<Saga | null> {
  const r = await sql<SagaRow>`SELECT * FROM saga_instances WHERE ${whereKey(key)} FOR UPDATE`.execute(tx)
  return withSteps(tx, r.rows[0])
}

/**
 * Locks one saga whose step is overdue at `now`, together with its order row, skipping any that another
 * transaction holds (another sweeper, a reply, a cancellation): several sweepers can run side by side.
 * `horizons`: per participant, the latest deadline of a step waiting on it that may expire now (null: none may,
 * its messaging path is down); without them every overdue step may.
 */
export async function claimOverdueSaga(tx: Tx, now: Date, skip: string[], horizons?: Record<Participant, Date | null>): Promise<Saga | null> {
  const horizon = horizons
    ? sql`CASE ${sql.join(participants.map((p) => sql`WHEN s.current_step = ANY(${stepsWaitingOn(p)}::text[]) THEN ${horizons[p]}::timestamptz`), sql` `)} ELSE ${now}::timestamptz END`
    : sql`${now}::timestamptz`
  const r = await sql<SagaRow>`
    SELECT s.* FROM saga_instances s JOIN orders o ON o.id = s.order_id
    WHERE s.status IN ('RUNNING', 'COMPENSATING') AND s.step_deadline IS NOT NULL AND s.step_deadline <= ${now}
      AND s.step_deadline <= ${horizon}
      AND s.id <> ALL(${skip}::uuid[])
    ORDER BY s.step_deadline
    LIMIT 1
    FOR UPDATE OF s, o SKIP LOCKED`.execute(tx)
  return withSteps(tx, r.rows[0])
}

export async function listSagasByStatus(db: Tx, status: SagaStatus, page: number, size: number): Promise<{ sagas: Saga[]; total: number }> {
  const [rows, count] = await Promise.all([
    sql<SagaRow>`
      SELECT * FROM saga_instances WHERE status = ${status}
      ORDER BY created_at DESC, id DESC LIMIT ${size} OFFSET ${page * size}`.execute(db),
    sql<{ n: string | number }>`SELECT count(*) AS n FROM saga_instances WHERE status = ${status}`.execute(db),
  ])
  const steps = await stepsOf(db, rows.rows.map((r) => r.id))
  return { sagas: rows.rows.map((r) => toSaga(r, steps.get(r.id) ?? [])), total: Number(count.rows[0]?.n ?? 0) }
}
