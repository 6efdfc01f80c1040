// Saga operations API: operators read sagas; admins resume a failed compensation or force one.
import { Type, type TSchema } from 'typebox'
import type { FastifyRequest } from 'fastify'
import { problems, type App } from '@trackops/http'
import { amountOfCents } from '@trackops/contracts'
import { sagaStatuses, type Saga, type SagaEvent, type SagaStatus } from './saga.ts'
import { sagaNotFound, type OrderSaga } from './create-saga.ts'

const Uuid = Type.String({ format: 'uuid' })
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const DateTime = Type.String({ format: 'date-time' })
const StatusEnum = Type.Enum([...sagaStatuses])

const StepJson = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  startedAt: DateTime,
  completedAt: Nullable(DateTime),
  durationMs: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
})
const SagaJson = Type.Object({
  id: Type.String(),
  orderId: Type.String(),
  status: Type.String(),
  currentStep: Nullable(Type.String()),
  stepDeadline: Nullable(DateTime),
  compensationAttempts: Type.Integer(),
  reservation: Type.String({ description: 'NONE, REQUESTED, RESERVED, FAILED, COMMITTED, RELEASING, RELEASED, EXPIRED' }),
  payment: Type.String({ description: 'NONE, REQUESTED, PROCESSED, FAILED, REFUNDING, REFUNDED' }),
  paymentId: Nullable(Type.String()),
  totalAmount: Type.Number(),
  currency: Type.String(),
  cancelReason: Nullable(Type.String()),
  cause: Nullable(Type.String()),
  cancelledBy: Nullable(Type.String()),
  correlationId: Type.String(),
  createdAt: DateTime,
  updatedAt: DateTime,
  completedAt: Nullable(DateTime),
  durationMs: Nullable(Type.Integer()),
  version: Type.Integer(),
  steps: Type.Array(StepJson),
})
const PageJson = Type.Object({
  content: Type.Array(SagaJson),
  page: Type.Integer(),
  size: Type.Integer(),
  totalElements: Type.Integer(),
  totalPages: Type.Integer(),
})

const ms = (from: Date, to: Date | null) => (to ? Math.max(0, to.getTime() - from.getTime()) : null)

export function sagaJson(s: Saga) {
  return {
    id: s.id,
    orderId: s.orderId,
    status: s.status,
    currentStep: s.currentStep,
    stepDeadline: s.stepDeadline?.toISOString() ?? null,
    compensationAttempts: s.compensationAttempts,
    reservation: s.reservation,
    payment: s.payment,
    paymentId: s.paymentId,
    totalAmount: amountOfCents(s.totalCents),
    currency: s.currency,
    cancelReason: s.cancelReason,
    cause: s.cause,
    cancelledBy: s.cancelledBy,
    correlationId: s.correlationId,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    completedAt: s.completedAt?.toISOString() ?? null,
    durationMs: ms(s.createdAt, s.completedAt),
    version: s.version,
    steps: s.steps.map((step) => ({
      name: step.name,
      kind: step.kind,
      status: step.status,
      attempts: step.attempts,
      startedAt: step.startedAt.toISOString(),
      completedAt: step.completedAt?.toISOString() ?? null,
      durationMs: ms(step.startedAt, step.completedAt),
      error: step.error,
    })),
  }
}

export function registerSagaRoutes(
  app: App,
  deps: {
    saga: OrderSaga
    /** Runs once an operation's transaction committed (the order cache reads its own write). */
    afterCommit?: (orderId: string) => Promise<unknown>
  },
): void {
  const tags = ['sagas']
  const read = { auth: ['operator', 'admin'] as ('operator' | 'admin')[] }
  const admin = { auth: ['admin'] as 'admin'[] }

  app.get(
    '/api/sagas/:sagaId',
    { config: read, schema: { tags, summary: 'A saga with its steps', params: Type.Object({ sagaId: Uuid }), response: { 200: SagaJson, ...problems(404) } } },
    async (req) => {
      const saga = await deps.saga.find({ id: req.params.sagaId })
      if (!saga) throw sagaNotFound(`with id ${req.params.sagaId}`)
      return sagaJson(saga)
    },
  )

  app.get(
    '/api/sagas/order/:orderId',
    { config: read, schema: { tags, summary: "An order's saga with its steps", params: Type.Object({ orderId: Uuid }), response: { 200: SagaJson, ...problems(404) } } },
    async (req) => {
      const saga = await deps.saga.find({ orderId: req.params.orderId })
      if (!saga) throw sagaNotFound(`for order ${req.params.orderId}`)
      return sagaJson(saga)
    },
  )

  app.get(
    '/api/sagas/status/:status',
    {
      config: read,
      schema: {
        tags,
        summary: 'Sagas in one status, newest first',
        description: 'COMPENSATION_FAILED lists the sagas waiting for an operator.',
        params: Type.Object({ status: StatusEnum }),
        querystring: Type.Object({
          page: Type.Integer({ minimum: 0, default: 0, description: '0-based page number' }),
          size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        }),
        response: { 200: PageJson },
      },
    },
    async (req) => {
      const { page, size } = req.query
      const r = await deps.saga.listByStatus(req.params.status as SagaStatus, page, size)
      return { content: r.sagas.map(sagaJson), page, size, totalElements: r.total, totalPages: Math.ceil(r.total / size) }
    },
  )

  /** Runs an operator's event (the saga's own transaction), refreshes the cache, writes the audit record. */
  async function operate(req: FastifyRequest, sagaId: string, event: Extract<SagaEvent, { kind: 'retry' | 'compensate' }>) {
    const result = await deps.saga.operate(sagaId, event, { ctx: { correlationId: req.id }, log: req.log })
    await deps.afterCommit?.(result.saga.orderId)
    req.log.child({ audit: true, actor: req.principal?.sub ?? null, action: `saga.${event.kind}`, sagaId, orderId: result.saga.orderId }).info({ note: result.note }, `audit saga.${event.kind}`)
    return sagaJson(result.saga)
  }

  app.post(
    '/api/sagas/:sagaId/retry',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Resume a failed compensation (admins)',
        description: 'For a COMPENSATION_FAILED saga: re-sends the pending compensation command and restarts its attempts. 409 in any other state.',
        params: Type.Object({ sagaId: Uuid }),
        response: { 202: SagaJson, ...problems(404, 409) },
      },
    },
    async (req, reply) => reply.code(202).send(await operate(req, req.params.sagaId, { kind: 'retry' })),
  )

  app.post(
    '/api/sagas/:sagaId/compensate',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Force compensation of a stuck running saga (admins)',
        description: 'For a RUNNING saga: gives up the step in flight, refunds and releases whatever may be held, then cancels the order. 409 in any other state (cancel a confirmed order with DELETE /api/orders/{id}).',
        params: Type.Object({ sagaId: Uuid }),
        body: Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false }),
        response: { 202: SagaJson, ...problems(404, 409) },
      },
      // The body is optional: an empty POST means "use the default reason".
      preValidation: async (req) => {
        req.body ??= {}
      },
    },
    async (req, reply) => {
      const actor = req.principal?.sub
      const reason = req.body?.reason ?? 'compensated by an operator'
      return reply.code(202).send(await operate(req, req.params.sagaId, { kind: 'compensate', reason, ...(actor ? { actor } : {}) }))
    },
  )
}
