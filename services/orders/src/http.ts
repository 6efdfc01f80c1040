// The order API. Routes translate HTTP to use cases and back; decimals exist only here (totalAmount, prices).
import { Type, type TSchema } from 'typebox'
import type { Logger } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, canSee, createApp, registerCachesRoute, type App, type AppOptions, type Principal, type Verifier } from '@trackops/http'
import type { Health } from '@trackops/runtime'
import type { CacheRegistry } from '@trackops/cache'
import type { MessageContext } from '@trackops/messaging'
import { centsToAmount, isOrderStatus, orderStatuses, type ChangeCause, type Order, type OrderStatus } from './order.ts'
import { CreateOrderBody, dropAbsentFields, newOrderOf } from './order-request.ts'
import { getOrder, listHistory, listOrders, sortColumns, type Db, type HistoryEntry, type ListQuery, type SortField } from './order-store.ts'
import { placeOrder } from './place-order.ts'
import { changeStatus, orderNotFound } from './change-status.ts'
import { cancelOrder } from './cancel-order.ts'
import { registerSagaRoutes } from './saga/http.ts'
import type { OrderSaga } from './saga/create-saga.ts'
import type { CachedOrder, OrderCache } from './order-cache.ts'
import { registerLiveRoutes, type LiveOrders } from './live-orders.ts'

export interface AppDeps {
  db: Db
  logger: Logger
  health: Health
  verify: Verifier
  rateLimit?: AppOptions['rateLimit']
  metricsPublic?: boolean
  /** The process's one saga (createSaga): orders start and cancel through it, its routes operate it. */
  saga: OrderSaga
  now: () => Date
  newId: () => string
  /** The process's one order cache; without it every read goes to the database. */
  cache?: OrderCache
  /** Served at GET /actuator/caches. */
  caches?: CacheRegistry
  /** Live updates (SSE routes); without it they are not offered. */
  live?: LiveOrders
}

// --- schemas (OpenAPI; the create body's are in order-request.ts) --------------------------------------------------

const Uuid = Type.String({ format: 'uuid' })
const Status = Type.Enum([...orderStatuses], { errorMessage: `must be one of ${orderStatuses.join(', ')}` })

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const OrderJson = Type.Object({
  id: Type.String(),
  customerId: Type.String(),
  status: Status,
  totalAmount: Type.Number(),
  currency: Type.String(),
  address: Type.Object({
    streetAddress: Type.String(),
    city: Type.String(),
    state: Nullable(Type.String()),
    postalCode: Type.String(),
    country: Type.String(),
    phoneNumber: Nullable(Type.String()),
  }),
  deliveryInstructions: Nullable(Type.String()),
  items: Type.Array(
    Type.Object({ productId: Type.String(), productName: Type.String(), quantity: Type.Integer(), unitPrice: Type.Number(), totalPrice: Type.Number() }),
  ),
  cancellationReason: Nullable(Type.String({ description: 'Why the order was cancelled (the reason given, or the saga\'s: a failed reservation or payment, a timeout); null unless CANCELLED.' })),
  cancelledBy: Nullable(Type.String({ description: 'Who cancelled it: the subject of the customer or operator who asked, `saga` when the order saga cancelled it (reservation or payment failed, a step timed out), `system` otherwise; null unless CANCELLED.' })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  version: Type.Integer(),
})
const PageJson = Type.Object({
  content: Type.Array(OrderJson),
  page: Type.Integer(),
  size: Type.Integer(),
  totalElements: Type.Integer(),
  totalPages: Type.Integer(),
})
const HistoryJson = Type.Object({
  orderId: Type.String(),
  entries: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      from: Nullable(Status),
      to: Status,
      cause: Type.String(),
      reason: Nullable(Type.String()),
      actor: Nullable(Type.String()),
      correlationId: Type.String(),
      version: Type.Integer(),
    }),
  ),
})
const CancelJson = Type.Object({ order: OrderJson, cancellation: Type.Literal('compensating') })

const IdParams = Type.Object({ id: Uuid })
const PageQuery = Type.Object({
  page: Type.Integer({ minimum: 0, default: 0, description: '0-based page number' }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  sort: Type.Optional(Type.String({ description: `field[,asc|desc]; fields: ${Object.keys(sortColumns).join(', ')}. Default createdAt,desc` })),
})
const IfMatch = Type.Object({ 'if-match': Type.Optional(Type.String({ description: 'The order version you read (its ETag); the change is refused with 409 if the order changed since.' })) })

// --- JSON at the edge -------------------------------------------------------------------------------------------------

export function orderJson(o: CachedOrder) {
  return {
    id: o.id,
    customerId: o.customerId,
    status: o.status,
    totalAmount: centsToAmount(o.totalCents),
    currency: o.currency,
    address: o.address,
    deliveryInstructions: o.deliveryInstructions,
    items: o.items.map((i) => ({ productId: i.productId, productName: i.productName, quantity: i.quantity, unitPrice: centsToAmount(i.unitPriceCents), totalPrice: centsToAmount(i.totalCents) })),
    cancellationReason: o.cancellationReason,
    cancelledBy: o.cancelledBy,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    version: o.version,
  }
}

const historyJson = (orderId: string, entries: HistoryEntry[]) => ({
  orderId,
  entries: entries.map((e) => ({ at: e.at.toISOString(), from: e.from, to: e.to, cause: e.cause, reason: e.reason, actor: e.actor, correlationId: e.correlationId, version: e.orderVersion })),
})

// --- request helpers ----------------------------------------------------------------------------------------------------

const isStaff = (p: Principal | undefined) => p !== undefined && (p.roles.includes('operator') || p.roles.includes('admin'))
const causeOf = (p: Principal | undefined): ChangeCause => (isStaff(p) ? 'operator' : 'customer')
const contextOf = (req: FastifyRequest): MessageContext => ({ correlationId: req.id })

function audit(req: FastifyRequest, action: string, orderId: string, details: Record<string, unknown> = {}) {
  req.log.child({ audit: true, actor: req.principal?.sub ?? null, action, orderId }).info(details, `audit ${action}`)
}

function parseSort(sort: string | undefined): ListQuery['sort'] {
  if (sort === undefined || sort === '') return { field: 'createdAt', direction: 'desc' }
  const [field = '', direction = 'asc', ...rest] = sort.split(',').map((s) => s.trim())
  if (!Object.hasOwn(sortColumns, field) || (direction !== 'asc' && direction !== 'desc') || rest.length) {
    throw new AppError('order.validation', 'The sort parameter is invalid.', {
      errors: [{ field: 'sort', message: `must be field[,asc|desc] with field one of ${Object.keys(sortColumns).join(', ')}` }],
    })
  }
  return { field: field as SortField, direction }
}

function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value)
  if (!m?.[1]) throw new AppError('order.validation', 'The If-Match header is invalid.', { errors: [{ field: 'If-Match', message: 'must be the order version (ETag) you read, e.g. "3"' }] })
  return Number(m[1])
}

function parseStatus(value: unknown, field: string): OrderStatus {
  if (isOrderStatus(value)) return value
  throw new AppError('order.validation', `The ${field} is invalid.`, { errors: [{ field, message: `must be one of ${orderStatuses.join(', ')}` }] })
}

/** How the routes that change an order answer a request their schema refuses (as their own checks do). */
const validation = { code: 'order.validation', message: 'The request is invalid; see errors for each field.' }

function sendOrder(reply: FastifyReply, order: CachedOrder, code = 200) {
  return reply.code(code).header('etag', `"${order.version}"`).send(orderJson(order))
}

const page = (q: ListQuery, r: { orders: Order[]; total: number }) => ({
  content: r.orders.map(orderJson),
  page: q.page,
  size: q.size,
  totalElements: r.total,
  totalPages: Math.ceil(r.total / q.size),
})

// --- routes ----------------------------------------------------------------------------------------------------------------

export async function buildApp(deps: AppDeps): Promise<App> {
  const db = deps.db
  const { now, newId } = deps
  const app = await createApp({
    name: 'orders',
    title: 'TrackOps order service',
    description: 'Orders, their status machine and timeline, and the order saga. Money is in decimal units of the order currency.',
    logger: deps.logger,
    health: deps.health,
    verify: deps.verify,
    rateLimit: deps.rateLimit,
    metricsPublic: deps.metricsPublic,
  })
  const staff = { auth: ['operator', 'admin'] as ('operator' | 'admin')[] }
  const tags = ['orders']

  const cache = deps.cache
  /** The writer's own write, once its transaction committed: its next read must show it. */
  const written = async (order: CachedOrder) => {
    await cache?.written(order)
  }

  /** The order if the caller may see it; customers get 404 for anyone else's, so ids cannot be probed. */
  async function visibleOrder(req: FastifyRequest, id: string): Promise<CachedOrder> {
    const order = cache ? await cache.get(id) : await getOrder(db, id)
    if (!order || !canSee(req.principal, order.customerId)) throw orderNotFound(id)
    return order
  }

  app.post(
    '/api/orders',
    {
      config: { validation: { ...validation, message: 'The order is invalid; see errors for each field.' } },
      preValidation: async (req) => {
        req.body = dropAbsentFields(req.body) as typeof req.body
      },
      schema: {
        tags,
        summary: 'Place an order',
        description: 'Creates a PENDING order and starts its saga. With Idempotency-Key, a retry of the same request returns the first order (header Idempotent-Replayed: true).',
        body: CreateOrderBody,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$', errorMessage: 'must be 1 to 128 printable characters without spaces' })) }),
        response: { 201: OrderJson },
      },
    },
    async (req, reply) => {
      const checked = newOrderOf(req.body)
      if (!checked.ok) throw new AppError('order.validation', 'The order is invalid; see errors for each field.', { errors: checked.errors })
      const input = checked.value
      if (!isStaff(req.principal) && req.principal?.sub.toLowerCase() !== input.customerId) {
        throw new AppError('order.forbidden', 'Customers can only place orders for themselves: customerId must be your own id.')
      }
      const key = req.headers['idempotency-key']
      const { order, replayed } = await placeOrder(
        { db, now, newId, saga: deps.saga },
        { order: input, idempotencyKey: key, cause: causeOf(req.principal), actor: req.principal?.sub, ctx: contextOf(req) },
      )
      if (replayed) reply.header('idempotent-replayed', 'true')
      else {
        await written(order)
        audit(req, 'order.create', order.id, { totalCents: order.totalCents, lines: order.items.length })
      }
      reply.header('location', `/api/orders/${order.id}`)
      return sendOrder(reply, order, 201)
    },
  )

  // Lists are read from PostgreSQL, never cached: a page depends on many rows, and keeping cached pages right
  // under every change would cost more than the indexed query.
  app.get(
    '/api/orders',
    { config: staff, schema: { tags, summary: 'List orders (operators)', querystring: PageQuery, response: { 200: PageJson } } },
    async (req) => {
      const q: ListQuery = { filter: {}, page: req.query.page, size: req.query.size, sort: parseSort(req.query.sort) }
      return page(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/status/:status',
    { config: staff, schema: { tags, summary: 'List orders in one status (operators)', params: Type.Object({ status: Type.String() }), querystring: PageQuery, response: { 200: PageJson } } },
    async (req) => {
      const q: ListQuery = { filter: { status: parseStatus(req.params.status, 'status') }, page: req.query.page, size: req.query.size, sort: parseSort(req.query.sort) }
      return page(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/customer/:customerId',
    { schema: { tags, summary: "List a customer's orders", description: 'Customers may list only their own.', params: Type.Object({ customerId: Uuid }), querystring: PageQuery, response: { 200: PageJson } } },
    async (req) => {
      const customerId = req.params.customerId.toLowerCase()
      if (!canSee(req.principal, customerId)) throw new AppError('customer.not-found', `Customer ${customerId} was not found.`)
      const q: ListQuery = { filter: { customerId }, page: req.query.page, size: req.query.size, sort: parseSort(req.query.sort) }
      return page(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/:id',
    { schema: { tags, summary: 'Get an order with its items', params: IdParams, response: { 200: OrderJson } } },
    async (req, reply) => sendOrder(reply, await visibleOrder(req, req.params.id)),
  )

  app.get(
    '/api/orders/:id/items',
    { schema: { tags, summary: "An order's items", params: IdParams, response: { 200: OrderJson.properties.items } } },
    async (req) => orderJson(await visibleOrder(req, req.params.id)).items,
  )

  app.get(
    '/api/orders/:id/history',
    { schema: { tags, summary: "An order's timeline", description: 'Every status change with its time, cause (customer, operator, saga, timeout, system), reason, actor and correlation id.', params: IdParams, response: { 200: HistoryJson } } },
    async (req) => {
      const order = await visibleOrder(req, req.params.id)
      return historyJson(order.id, await listHistory(db, order.id))
    },
  )

  async function cancel(req: FastifyRequest, reply: FastifyReply, id: string, reason: string | undefined) {
    const cause = causeOf(req.principal)
    const { outcome, order } = await cancelOrder(
      { db, now, saga: deps.saga },
      { orderId: id, reason: reason ?? `cancelled by ${cause}`, cause, actor: req.principal?.sub, principal: req.principal, ctx: contextOf(req) },
    )
    await written(order)
    audit(req, 'order.cancel', id, { outcome })
    if (outcome === 'compensating') return reply.code(202).header('etag', `"${order.version}"`).send({ order: orderJson(order), cancellation: 'compensating' })
    return sendOrder(reply, order)
  }

  app.delete(
    '/api/orders/:id',
    {
      schema: {
        tags,
        summary: 'Cancel an order',
        description: '200 with the cancelled order when it was cancelled at once (or already was); 202 while the saga releases stock and refunds the payment first; 409 for a delivered order.',
        params: IdParams,
        querystring: Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }),
        response: { 200: OrderJson, 202: CancelJson },
      },
    },
    async (req, reply) => cancel(req, reply, req.params.id, req.query.reason),
  )

  async function transition(req: FastifyRequest, reply: FastifyReply, id: string, to: OrderStatus, ifMatch: string | undefined, reason?: string) {
    const { order, changed } = await changeStatus(
      { db, now },
      { orderId: id, to, expectedVersion: parseIfMatch(ifMatch), cause: causeOf(req.principal), reason, actor: req.principal?.sub, ctx: contextOf(req) },
    )
    if (changed) await written(order)
    audit(req, 'order.status', id, { to, changed })
    return sendOrder(reply, order)
  }

  app.put(
    '/api/orders/:id/status',
    {
      config: { ...staff, validation },
      schema: {
        tags,
        summary: "Change an order's status (operators)",
        description: 'PENDING → CONFIRMED → PROCESSING → SHIPPED → DELIVERED; CANCELLED starts the cancellation (as DELETE). Setting the current status again changes nothing (200). Other transitions are 409.',
        params: IdParams,
        headers: IfMatch,
        body: Type.Object({ newStatus: Status, reason: Type.Optional(Type.String({ maxLength: 500, errorMessage: 'must be text of at most 500 characters' })) }, { additionalProperties: false }),
        response: { 200: OrderJson, 202: CancelJson },
      },
    },
    async (req, reply) => {
      const { newStatus: to, reason } = req.body
      if (to === 'CANCELLED') return cancel(req, reply, req.params.id, reason)
      return transition(req, reply, req.params.id, to, req.headers['if-match'], reason)
    },
  )

  const shortcuts = { confirm: 'CONFIRMED', process: 'PROCESSING', ship: 'SHIPPED', deliver: 'DELIVERED' } as const
  for (const [action, to] of Object.entries(shortcuts)) {
    app.post(
      `/api/orders/:id/${action}`,
      { config: { ...staff, validation }, schema: { tags, summary: `Move an order to ${to} (operators)`, params: IdParams, headers: IfMatch, response: { 200: OrderJson } } },
      async (req, reply) => transition(req, reply, req.params.id, to, req.headers['if-match']),
    )
  }

  registerSagaRoutes(app, { saga: deps.saga, afterCommit: async (orderId) => cache?.refresh(orderId) })
  if (deps.live) registerLiveRoutes(app, { db, live: deps.live })

  registerCachesRoute(app, deps.caches)
  return app
}
