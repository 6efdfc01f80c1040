// The writes of a batch of saga replies, held in memory and written set-based when the batch ends (DESIGN §7).
// Every order and saga a batch touches is locked and read up front (lockForReplies), and each reply works on the
// state the replies before it left; so their writes need not reach the database one statement at a time. While a
// transaction holds its writes (holdWrites), the stores' updateSaga / upsert of steps / updateOrderStatus /
// insertHistory record them here and answer what the database would have (the next version); writeHeld then
// writes them — one statement per table, the final state of each row, guarded by the version read under the lock.
import { sql, type Kysely } from 'kysely'

/** A saga's changed columns, as saga/store.ts writes them. */
export type SagaColumns = Record<string, unknown>
export interface StepWrite {
  saga_id: string
  name: string
  kind: string
  status: string
  attempts: number
  started_at: Date
  completed_at: Date | null
  error: string | null
}
export interface OrderWrite {
  status: string
  updated_at: Date
  cancellation_reason?: string
  cancelled_by?: string
}
export interface HistoryWrite {
  order_id: string
  from_status: string | null
  to_status: string
  cause: string
  reason: string | null
  actor: string | null
  correlation_id: string
  order_version: number
  occurred_at: Date
}

export interface HeldWrites {
  /** Records a saga's new state; returns its new version (the version read + 1). */
  saga(id: string, readVersion: number, columns: SagaColumns): number
  steps(rows: StepWrite[]): void
  /** Records an order's new status; returns its new version. */
  order(id: string, readVersion: number, write: OrderWrite): number
  history(row: HistoryWrite): void
}

interface Held {
  sagas: Map<string, { expected: number; version: number; columns: SagaColumns }>
  steps: Map<string, StepWrite>
  orders: Map<string, { expected: number; version: number; write: OrderWrite }>
  history: HistoryWrite[]
  /** The recorder handed to the stores: made once per transaction, not per write. */
  writes: HeldWrites
}

const holding = new WeakMap<object, Held>()

/** The writes `tx` holds, or undefined when its writes go to the database at once (every transaction but a batch's). */
export const heldWrites = (tx: object): HeldWrites | undefined => holding.get(tx)?.writes

/** From now on the saga and order writes of `tx` are held until `writeHeld(tx)`, which must run before the commit. */
export function holdWrites(tx: object): void {
  const h: Omit<Held, 'writes'> = { sagas: new Map(), steps: new Map(), orders: new Map(), history: [] }
  const writes: HeldWrites = {
    saga(id, readVersion, columns) {
      const version = readVersion + 1
      h.sagas.set(id, { expected: h.sagas.get(id)?.expected ?? readVersion, version, columns })
      return version
    },
    steps(rows) {
      for (const r of rows) h.steps.set(`${r.saga_id}/${r.name}`, r)
    },
    order(id, readVersion, write) {
      const version = readVersion + 1
      const before = h.orders.get(id)
      h.orders.set(id, { expected: before?.expected ?? readVersion, version, write: { ...before?.write, ...write } })
      return version
    },
    history(row) {
      h.history.push(row)
    },
  }
  holding.set(tx, { ...h, writes })
}

const json = (rows: unknown[]) => JSON.stringify(rows)

/** Writes what `tx` held, one statement per table; throws when a row's version moved (a writer that bypassed the lock). */
export async function writeHeld<DB>(tx: Kysely<DB>): Promise<void> {
  const h = holding.get(tx)
  holding.delete(tx)
  if (!h) return
  if (h.sagas.size > 0) {
    const rows = [...h.sagas].map(([id, s]) => ({ ...s.columns, id, expected: s.expected, version: s.version }))
    const updated = await sql`
      UPDATE saga_instances s SET status = v.status, current_step = v.current_step, step_deadline = v.step_deadline,
        compensation_attempts = v.compensation_attempts, reservation_status = v.reservation_status,
        payment_status = v.payment_status, payment_id = v.payment_id, payment_token = v.payment_token,
        cancel_reason = v.cancel_reason, cause = v.cause, cancelled_by = v.cancelled_by, updated_at = v.updated_at,
        completed_at = v.completed_at, version = v.version
      FROM jsonb_to_recordset(${json(rows)}::jsonb) AS v(id uuid, expected bigint, version bigint, status text,
        current_step text, step_deadline timestamptz, compensation_attempts integer, reservation_status text,
        payment_status text, payment_id uuid, payment_token text, cancel_reason text, cause text, cancelled_by text,
        updated_at timestamptz, completed_at timestamptz)
      WHERE s.id = v.id AND s.version = v.expected
      RETURNING s.id`.execute(tx)
    if (updated.rows.length !== rows.length) throw new Error(`${rows.length - updated.rows.length} of ${rows.length} sagas changed under their row locks`)
  }
  if (h.steps.size > 0) {
    await sql`
      INSERT INTO saga_steps (saga_id, name, kind, status, attempts, started_at, completed_at, error)
      SELECT saga_id, name, kind, status, attempts, started_at, completed_at, error
      FROM jsonb_to_recordset(${json([...h.steps.values()])}::jsonb) AS v(saga_id uuid, name text, kind text, status text,
        attempts integer, started_at timestamptz, completed_at timestamptz, error text)
      ON CONFLICT (saga_id, name) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
        started_at = excluded.started_at, completed_at = excluded.completed_at, error = excluded.error`.execute(tx)
  }
  if (h.orders.size > 0) {
    const rows = [...h.orders].map(([id, o]) => ({ ...o.write, id, expected: o.expected, version: o.version }))
    const updated = await sql`
      UPDATE orders o SET status = v.status, updated_at = v.updated_at, version = v.version,
        cancellation_reason = coalesce(v.cancellation_reason, o.cancellation_reason),
        cancelled_by = coalesce(v.cancelled_by, o.cancelled_by)
      FROM jsonb_to_recordset(${json(rows)}::jsonb) AS v(id uuid, expected bigint, version bigint, status text,
        updated_at timestamptz, cancellation_reason text, cancelled_by text)
      WHERE o.id = v.id AND o.version = v.expected
      RETURNING o.id`.execute(tx)
    if (updated.rows.length !== rows.length) throw new Error(`${rows.length - updated.rows.length} of ${rows.length} orders changed under their row locks`)
  }
  if (h.history.length > 0) {
    // In the order the changes happened: history ids follow it.
    await sql`
      INSERT INTO order_history (order_id, from_status, to_status, cause, reason, actor, correlation_id, order_version, occurred_at)
      SELECT order_id, from_status, to_status, cause, reason, actor, correlation_id, order_version, occurred_at
      FROM ROWS FROM (jsonb_to_recordset(${json(h.history)}::jsonb) AS (order_id uuid, from_status text, to_status text,
        cause text, reason text, actor text, correlation_id text, order_version bigint, occurred_at timestamptz))
        WITH ORDINALITY AS v(order_id, from_status, to_status, cause, reason, actor, correlation_id, order_version, occurred_at, n)
      ORDER BY n`.execute(tx)
  }
}
