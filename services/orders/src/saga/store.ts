// SQL for saga_instances / saga_steps. Writers lock the order row first and the saga row second (the order of
// every other writer of orders), so a reply, a cancellation and the sweeper never deadlock each other.
import { sql, type Selectable } from 'kysely'
import type { Db, SagaInstancesTable, SagaStepsTable } from '../order-store.ts'
import type { Saga, SagaStatus, SagaStep, StepName } from './saga.ts'
import { participants, stepsWaitingOn, type Participant } from './messaging-path.ts'
import { heldWrites } from '../held-writes.ts'

type SagaRow = Selectable<SagaInstancesTable>
type StepRow = Selectable<SagaStepsTable>

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

async function stepsOf(db: Db, sagaIds: string[]): Promise<Map<string, StepRow[]>> {
  const bySaga = new Map<string, StepRow[]>(sagaIds.map((id) => [id, []]))
  if (sagaIds.length === 0) return bySaga
  const rows = await db.selectFrom('saga_steps').selectAll().where('saga_id', 'in', sagaIds).execute()
  for (const r of rows) bySaga.get(r.saga_id)?.push(r)
  return bySaga
}

async function withSteps(db: Db, row: SagaRow | undefined): Promise<Saga | null> {
  if (!row) return null
  return toSaga(row, (await stepsOf(db, [row.id])).get(row.id) ?? [])
}

export type SagaKey = { id: string } | { orderId: string }

const selectSaga = (db: Db, key: SagaKey) => {
  const q = db.selectFrom('saga_instances').selectAll()
  return 'id' in key ? q.where('id', '=', key.id) : q.where('order_id', '=', key.orderId)
}

/** The columns a transition may change (all but the saga's identity, order data and version). */
const stateColumns = (s: Saga) => ({
  status: s.status,
  current_step: s.currentStep,
  step_deadline: s.stepDeadline,
  compensation_attempts: s.compensationAttempts,
  reservation_status: s.reservation,
  payment_status: s.payment,
  payment_id: s.paymentId,
  payment_token: s.paymentToken,
  cancel_reason: s.cancelReason,
  cause: s.cause,
  cancelled_by: s.cancelledBy,
  updated_at: s.updatedAt,
  completed_at: s.completedAt,
})

/** Inserts a new saga; false when the order already has one (starting twice is a no-op). */
/** A new order's saga, with its first step. An order has one saga: a second insert fails on order_id. */
export async function insertSaga(tx: Db, s: Saga): Promise<void> {
  await tx
    .insertInto('saga_instances')
    .values({
      ...stateColumns(s),
      id: s.id,
      order_id: s.orderId,
      customer_id: s.customerId,
      total_cents: s.totalCents,
      currency: s.currency,
      items: JSON.stringify(s.items),
      correlation_id: s.correlationId,
      step_timeout_seconds: s.stepTimeoutSeconds,
      created_at: s.createdAt,
      version: s.version,
    })
    .execute()
  await upsertSteps(tx, s)
}

/** Writes the new state of a saga read (and locked) at `before.version`; returns the new version. */
export async function updateSaga(tx: Db, before: Saga, s: Saga): Promise<number> {
  const changed = s.steps.filter((step) => {
    const old = before.steps.find((o) => o.name === step.name)
    return !old || old.status !== step.status || old.attempts !== step.attempts || old.completedAt?.getTime() !== step.completedAt?.getTime() || old.error !== step.error || old.startedAt.getTime() !== step.startedAt.getTime()
  })
  const held = heldWrites(tx)
  if (held) {
    held.steps(stepRows({ ...s, steps: changed }))
    return held.saga(s.id, before.version, stateColumns(s))
  }
  const row = await tx
    .updateTable('saga_instances')
    .set((eb) => ({ ...stateColumns(s), version: sql<number>`${eb.ref('version')} + 1` }))
    .where('id', '=', s.id)
    .where('version', '=', String(before.version))
    .returning('version')
    .executeTakeFirst()
  // The row is locked by the caller, so this only happens when a caller forgot the lock: fail, the runner retries.
  if (!row) throw new Error(`saga ${s.id} changed concurrently (expected version ${before.version})`)
  await upsertSteps(tx, { ...s, steps: changed })
  return Number(row.version)
}

const stepRows = (s: Pick<Saga, 'id' | 'steps'>) =>
  s.steps.map((step) => ({ saga_id: s.id, name: step.name, kind: step.kind, status: step.status, attempts: step.attempts, started_at: step.startedAt, completed_at: step.completedAt, error: step.error }))

/** All changed steps in one statement. */
async function upsertSteps(tx: Db, s: Pick<Saga, 'id' | 'steps'>): Promise<void> {
  if (s.steps.length === 0) return
  await tx
    .insertInto('saga_steps')
    .values(stepRows(s))
    .onConflict((oc) =>
      oc.columns(['saga_id', 'name']).doUpdateSet((eb) => ({
        status: eb.ref('excluded.status'),
        attempts: eb.ref('excluded.attempts'),
        started_at: eb.ref('excluded.started_at'),
        completed_at: eb.ref('excluded.completed_at'),
        error: eb.ref('excluded.error'),
      })),
    )
    .execute()
}

/** The order a saga belongs to (no steps read): for finding the order to lock first. */
export async function orderIdOfSaga(db: Db, sagaId: string): Promise<string | null> {
  const r = await db.selectFrom('saga_instances').select('order_id').where('id', '=', sagaId).executeTakeFirst()
  return r?.order_id ?? null
}

export async function findSaga(db: Db, key: SagaKey): Promise<Saga | null> {
  return withSteps(db, await selectSaga(db, key).executeTakeFirst())
}

/** Locks the saga until the transaction ends. Lock the order row first (lockOrder). */
export async function lockSaga(tx: Db, key: SagaKey): Promise<Saga | null> {
  return withSteps(tx, await selectSaga(tx, key).forUpdate().executeTakeFirst())
}

/** Locks the sagas of these orders (in order id order; lock the orders first) and reads them, by order id. */
export async function lockSagasOfOrders(tx: Db, orderIds: string[]): Promise<Map<string, Saga>> {
  if (orderIds.length === 0) return new Map()
  const rows = await tx.selectFrom('saga_instances').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').forUpdate().execute()
  const steps = await stepsOf(tx, rows.map((r) => r.id))
  return new Map(rows.map((r) => [r.order_id, toSaga(r, steps.get(r.id) ?? [])]))
}

/**
 * Locks one saga whose step is overdue at `now`, together with its order row, skipping any that another
 * transaction holds (another sweeper, a reply, a cancellation): several sweepers can run side by side.
 * `horizons`: per participant, the latest deadline of a step waiting on it that may expire now (null: none may,
 * its messaging path is down); without them every overdue step may.
 */
export async function claimOverdueSaga(tx: Db, now: Date, skip: string[], horizons?: Record<Participant, Date | null>): Promise<Saga | null> {
  const row = await tx
    .selectFrom('saga_instances as s')
    .innerJoin('orders as o', 'o.id', 's.order_id')
    .selectAll('s')
    .where('s.status', 'in', ['RUNNING', 'COMPENSATING'])
    .where('s.step_deadline', 'is not', null)
    .where('s.step_deadline', '<=', now)
    .where((eb) => {
      if (!horizons) return eb('s.step_deadline', '<=', now)
      const [first, ...rest] = participants
      let chain = eb.case().when('s.current_step', 'in', stepsWaitingOn(first)).then(sql<Date | null>`${horizons[first]}::timestamptz`)
      for (const p of rest) chain = chain.when('s.current_step', 'in', stepsWaitingOn(p)).then(sql<Date | null>`${horizons[p]}::timestamptz`)
      return eb('s.step_deadline', '<=', chain.else(sql<Date>`${now}::timestamptz`).end())
    })
    .$if(skip.length > 0, (q) => q.where('s.id', 'not in', skip))
    .orderBy('s.step_deadline')
    .limit(1)
    .forUpdate(['s', 'o'])
    .skipLocked()
    .executeTakeFirst()
  return withSteps(tx, row)
}

export async function listSagasByStatus(db: Db, status: SagaStatus, page: number, size: number): Promise<{ sagas: Saga[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.selectFrom('saga_instances').selectAll().where('status', '=', status).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(size).offset(page * size).execute(),
    db.selectFrom('saga_instances').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', status).executeTakeFirstOrThrow(),
  ])
  const steps = await stepsOf(db, rows.map((r) => r.id))
  return { sagas: rows.map((r) => toSaga(r, steps.get(r.id) ?? [])), total: Number(count.n) }
}
