// The order API. Routes translate HTTP to use cases and back; the wire format is in order-json.ts and
// order-request.ts.
import { Type } from 'typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type App, type AppBase, appBaseOf, AppError, canSee, createApp, type Principal, problems, registerCachesRoute, staffOnly, withHeaders } from '@trackops/http'
import type { CacheRegistry } from '@trackops/cache'
import type { MessageContext } from '@trackops/messaging'
import type { ChangeCause, OrderStatus } from './order.ts'
import { CancelJson, HistoryJson, IdParams, IfMatch, OrderJson, PageJson, PageQuery, Status, Uuid, historyJson, orderJson, pageJson } from './order-json.ts'
import { CreateOrderBody, dropAbsentFields, newOrderOf } from './order-request.ts'
import { getOrder, listOrders, sortColumns, type Db, type ListQuery, type SortField } from './order-store.ts'
import { listHistory } from './history-store.ts'
import { placeOrder } from './place-order.ts'
import { changeStatus, orderNotFound } from './change-status.ts'
import { cancelOrder } from './cancel-order.ts'
import { registerSagaRoutes } from './saga/http.ts'
import type { OrderSaga } from './saga/create-saga.ts'
import type { CachedOrder, OrderCache } from './order-cache.ts'
import type { LiveOrders } from './live-orders.ts'
import { registerLiveRoutes } from './live-routes.ts'

export interface AppDeps extends AppBase {
  db: Db
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

/** How the routes that change an order answer a request their schema refuses (as their own checks do). */
const validation = { code: 'order.validation', message: 'The request is invalid; see errors for each field.' }

const etag = { ETag: 'The order\'s version, for If-Match.' }
const VersionedOrder = withHeaders(OrderJson, etag)
const VersionedCancel = withHeaders(CancelJson, etag)
const PlacedOrder = withHeaders(OrderJson, { ...etag, Location: 'The new order.', 'Idempotent-Replayed': '`true` when this answers a repeated Idempotency-Key.' })

function sendOrder(reply: FastifyReply, order: CachedOrder, code = 200) {
  return reply.code(code).header('etag', `"${order.version}"`).send(orderJson(order))
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const db = deps.db
  const { now, newId } = deps
  const app = await createApp({
    name: 'orders',
    title: 'TrackOps order service',
    description: 'Orders, their status machine and timeline, and the order saga. Money is in decimal units of the order currency.',
    tags: {
      orders: 'Orders: placing, reading, cancelling, status changes, timelines and live updates.',
      sagas: 'The order saga of each order (inventory, then payment), and its repair by operators.',
    },
    ...appBaseOf(deps),
  })
  const staff = staffOnly
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
        response: { 201: PlacedOrder, ...problems(409, 422) },
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
      return pageJson(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/status/:status',
    { config: staff, schema: { tags, summary: 'List orders in one status (operators)', params: Type.Object({ status: Status }), querystring: PageQuery, response: { 200: PageJson } } },
    async (req) => {
      const q: ListQuery = { filter: { status: req.params.status }, page: req.query.page, size: req.query.size, sort: parseSort(req.query.sort) }
      return pageJson(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/customer/:customerId',
    { schema: { tags, summary: "List a customer's orders", description: 'Customers may list only their own.', params: Type.Object({ customerId: Uuid }), querystring: PageQuery, response: { 200: PageJson, ...problems(404) } } },
    async (req) => {
      const customerId = req.params.customerId.toLowerCase()
      if (!canSee(req.principal, customerId)) throw new AppError('customer.not-found', `Customer ${customerId} was not found.`)
      const q: ListQuery = { filter: { customerId }, page: req.query.page, size: req.query.size, sort: parseSort(req.query.sort) }
      return pageJson(q, await listOrders(db, q))
    },
  )

  app.get(
    '/api/orders/:id',
    { schema: { tags, summary: 'Get an order with its items', params: IdParams, response: { 200: VersionedOrder, ...problems(404) } } },
    async (req, reply) => sendOrder(reply, await visibleOrder(req, req.params.id)),
  )

  app.get(
    '/api/orders/:id/items',
    { schema: { tags, summary: "An order's items", params: IdParams, response: { 200: OrderJson.properties.items, ...problems(404) } } },
    async (req) => orderJson(await visibleOrder(req, req.params.id)).items,
  )

  app.get(
    '/api/orders/:id/history',
    { schema: { tags, summary: "An order's timeline", description: 'Every status change with its time, cause (customer, operator, saga, timeout, system), reason, actor and correlation id.', params: IdParams, response: { 200: HistoryJson, ...problems(404) } } },
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
        response: { 200: VersionedOrder, 202: VersionedCancel, ...problems(404, 409) },
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
        response: { 200: VersionedOrder, 202: VersionedCancel, ...problems(404, 409) },
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
      { config: { ...staff, validation }, schema: { tags, summary: `Move an order to ${to} (operators)`, params: IdParams, headers: IfMatch, response: { 200: VersionedOrder, ...problems(404, 409) } } },
      async (req, reply) => transition(req, reply, req.params.id, to, req.headers['if-match']),
    )
  }

  registerSagaRoutes(app, { saga: deps.saga, afterCommit: async (orderId) => cache?.refresh([orderId]) })
  if (deps.live) registerLiveRoutes(app, { db, live: deps.live })

  registerCachesRoute(app, deps.caches)
  return app
}
