// The inventory HTTP API (paths and field names of the original, §2.4; its defects fixed: business rules are
// 409/422, never 500; sort fields are whitelisted; reservations can be placed and filtered by order).
import { randomUUID } from 'node:crypto'
import { Type } from 'typebox'
import { sql } from 'kysely'
import type { FastifyRequest } from 'fastify'
import { type App, type AppBase, appBaseOf, AppError, createApp, problem, problems, registerCachesRoute, staffOnly, withHeaders } from '@trackops/http'
import { centsOfAmount } from '@trackops/contracts'
import { availableItems, findItem, itemStats, listAdjustments, listItems, type Item, type ItemSort } from './item-store.ts'
import { findReservation, listReservations, overdueReservations, reservationsOfOrder, reservationStats, type ReservationSort } from './reservation-store.ts'
import type { Db } from './inventory-db.ts'
import {
  Adjust, AdjustmentResponse, adjustmentResponse, CreateItem, failedItemsDetail, Hold, HoldProblem, HoldResponse, iso, ItemResponse, itemResponse,
  itemSorts, page, pageOf, Paging, ProductParams, ReservationResponse, reservationResponse, reservationSorts, ReservationStatus, SortDir, sortParam,
  UpdateItem, Uuid,
} from './api-json.ts'
import { createItem, deleteItem, updateItem, type ItemOutcome } from './manage-items.ts'
import { adjustStock } from './adjust-stock.ts'
import { holdStock } from './reserve-stock.ts'
import { inventoryMetrics } from './metrics.ts'
import type { CacheRegistry } from '@trackops/cache'
import type { ItemCache } from './item-cache.ts'
import packageJson from '../package.json' with { type: 'json' }

/** What createApp needs (verify is required), plus the service's own. */
export interface AppDeps extends AppBase {
  db: Db
  reservationTtlSeconds: number
  now?: () => Date
  newId?: () => string
  /** The read of one item; a cache can be put in front of it. */
  readItem?: (productId: string) => Promise<Item | null>
  /** The process's one item cache: reads go through it and writers update it after their commit. */
  cache?: ItemCache
  /** Served at GET /actuator/caches. */
  caches?: CacheRegistry
}

/** Who changed which item, after the change committed (the adjustments table keeps stock changes too). */
function audit(req: FastifyRequest, action: string, productId: string, details: Record<string, unknown> = {}) {
  req.log.child({ audit: true, actor: req.principal?.sub ?? null, action, productId }).info(details, `audit ${action}`)
}

/** `sort=field,dir` wins over the original's `sortBy` / `sortDir`. */
function sortOf<F extends string>(q: { sort?: string; sortBy?: F; sortDir?: string }, fallback: F, fallbackDir: 'asc' | 'desc') {
  const [field, dir] = q.sort ? q.sort.split(',') : [q.sortBy ?? fallback, q.sortDir ?? fallbackDir]
  return { field: field as F, dir: (dir ?? 'asc').toLowerCase() as 'asc' | 'desc' }
}

function failWith(outcome: Extract<ItemOutcome, { ok: false }>): never {
  const code = {
    'not-found': 'inventory.item.not-found',
    exists: 'inventory.item.already-exists',
    unprocessable: 'inventory.item.unprocessable',
    negative: 'inventory.stock.conflict',
    reserved: 'inventory.item-reserved.conflict',
  }[outcome.kind]
  throw new AppError(code, outcome.message)
}

function centsOrFail(value: number, field: string): number {
  const cents = centsOfAmount(value)
  if (cents === null) throw new AppError('request.validation', 'The request is invalid; see errors for each field.', { errors: [{ field, message: 'must have at most 2 decimal places' }] })
  return cents
}

// int4 overflow (22003) from a huge total is the caller's problem, not a server error.
async function mapDbErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if ((error as { code?: string }).code === '22003') throw new AppError('inventory.quantity.unprocessable', 'The resulting quantity is out of range.', { cause: error })
    throw error
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { db } = deps
  const now = deps.now ?? (() => new Date())
  const newId = deps.newId ?? randomUUID
  const cache = deps.cache
  const readItem = deps.readItem ?? cache?.get ?? ((productId: string) => findItem(db, productId))
  /** The writer's own write, once its transaction committed: its next read must show it. */
  const written = async (item: Item) => {
    await cache?.written(item)
  }
  const app = await createApp({
    name: 'inventory',
    version: packageJson.version,
    title: 'TrackOps inventory',
    description: 'Stock, reservations (atomic, expiring, once per order) and adjustments.',
    tags: {
      items: 'Inventory items: stock, prices and the audit trail of stock adjustments.',
      reservations: 'Stock held for orders: all or nothing, once per order, released when they expire.',
      actuator: 'The original service\'s health endpoints.',
    },
    ...appBaseOf(deps),
  })
  const staff = staffOnly
  const admin = { auth: ['admin'] as 'admin'[] }
  const ctxOf = (req: { id: string }) => ({ correlationId: req.id })
  // Staff routes only run behind a verified token; a missing identity is refused, never recorded as someone.
  const actorOf = (req: { principal?: { sub: string } }) => {
    if (!req.principal) throw new AppError('auth.unauthorized', 'A verified identity is required.')
    return req.principal.sub
  }
  const notFound = (_productId: string) => new AppError('inventory.item.not-found', 'No inventory item with that productId.')

  // Items. Lists and totals are read from PostgreSQL, never cached (see item-cache.ts).
  app.get('/api/inventory/items', {
    schema: {
      tags: ['items'],
      summary: 'Items, one page at a time',
      querystring: Type.Object({
        ...Paging,
        category: Type.Optional(Type.String({ maxLength: 100 })),
        sort: Type.Optional(sortParam(itemSorts)),
        sortBy: Type.Optional(Type.Union([Type.Literal('productName'), Type.Literal('availableQuantity'), Type.Literal('unitPrice'), Type.Literal('createdAt')])),
        sortDir: Type.Optional(SortDir),
      }),
      response: { 200: page(ItemResponse) },
    },
  }, async (req) => {
    const { field, dir } = sortOf<ItemSort>(req.query, 'productName', 'asc')
    const q = { page: req.query.page, size: req.query.size, category: req.query.category, sort: field, dir }
    const { items, total } = await listItems(db, q)
    return pageOf(items.map(itemResponse), total, q)
  })

  app.get('/api/inventory/items/available', {
    schema: {
      tags: ['items'],
      summary: 'Active items with at least minQuantity (default 1) available',
      querystring: Type.Object({ minQuantity: Type.Optional(Type.Integer({ minimum: 0 })) }),
      response: { 200: Type.Array(ItemResponse) },
    },
  }, async (req) => (await availableItems(db, req.query.minQuantity ?? 1)).map(itemResponse))

  app.get('/api/inventory/items/stats', {
    schema: { tags: ['items'], summary: 'Totals over all items' },
  }, async () => {
    const s = await itemStats(db)
    return {
      totalItems: s.totalItems,
      totalAvailableQuantity: s.totalAvailableQuantity,
      totalReservedQuantity: s.totalReservedQuantity,
      totalSoldQuantity: s.totalSoldQuantity,
      outOfStockItems: s.outOfStockItems,
      lowStockItems: s.lowStockItems,
    }
  })

  app.get('/api/inventory/items/health', {
    schema: { tags: ['items'], summary: 'Stock health: low, out of stock, discontinued' },
  }, async () => {
    const s = await itemStats(db)
    return {
      totalItems: s.totalItems,
      activeItems: s.activeItems,
      lowStockItems: s.lowStockItems,
      outOfStockItems: s.outOfStockItems,
      discontinuedItems: s.discontinuedItems,
      timestamp: now().toISOString(),
    }
  })

  app.get('/api/inventory/items/:productId', {
    schema: { tags: ['items'], summary: 'One item by productId', params: ProductParams, response: { 200: ItemResponse, ...problems(404) } },
  }, async (req) => {
    const item = await readItem(req.params.productId)
    if (!item) throw notFound(req.params.productId)
    return itemResponse(item)
  })

  app.post('/api/inventory/items', {
    config: staff,
    schema: { tags: ['items'], summary: 'Create an item', body: CreateItem, response: { 201: withHeaders(ItemResponse, { Location: 'The new item.' }), ...problems(409, 422) } },
  }, async (req, reply) => {
    const b = req.body
    const input = {
      productId: b.productId,
      productName: b.productName,
      description: b.description ?? null,
      availableQuantity: b.availableQuantity,
      unitPriceCents: centsOrFail(b.unitPrice, 'unitPrice'),
      category: b.category ?? null,
      minStockLevel: b.minStockLevel ?? null,
      maxStockLevel: b.maxStockLevel ?? null,
      reorderQuantity: b.reorderQuantity ?? null,
    }
    const outcome = await createItem(db, { now, newId }, input, actorOf(req))
    if (!outcome.ok) failWith(outcome)
    await written(outcome.item)
    audit(req, 'inventory.item.create', outcome.item.productId, { availableQuantity: outcome.item.availableQuantity })
    return reply.code(201).header('location', `/api/inventory/items/${encodeURIComponent(outcome.item.productId)}`).send(itemResponse(outcome.item))
  })

  app.put('/api/inventory/items/:productId', {
    config: staff,
    schema: { tags: ['items'], summary: 'Change an item (partial)', params: ProductParams, body: UpdateItem, response: { 200: ItemResponse, ...problems(404, 409, 422) } },
  }, async (req) => {
    const { unitPrice, ...rest } = req.body
    if (rest.availableQuantity != null && !req.principal?.roles.includes('admin')) {
      throw new AppError('inventory.stock-change.forbidden', 'Changing availableQuantity needs the admin role; operators use POST /api/inventory/items/{productId}/adjustments with an admin.')
    }
    const patch = { ...rest, ...(unitPrice != null && { unitPriceCents: centsOrFail(unitPrice, 'unitPrice') }) }
    const outcome = await mapDbErrors(() => updateItem(db, { now, newId }, req.params.productId, patch, actorOf(req), ctxOf(req)))
    if (!outcome.ok) failWith(outcome)
    await written(outcome.item)
    audit(req, 'inventory.item.update', outcome.item.productId, { changed: Object.keys(patch) })
    return itemResponse(outcome.item)
  })

  app.delete('/api/inventory/items/:productId', {
    config: staff,
    schema: { tags: ['items'], summary: 'Delete an item (refused while it has active reservations)', params: ProductParams, response: { 204: Type.Unsafe<undefined>({ type: 'null', description: 'Deleted; no body.' }), ...problems(404, 409) } },
  }, async (req, reply) => {
    const outcome = await deleteItem(db, req.params.productId)
    if (!outcome.ok) failWith(outcome)
    await cache?.deleted(outcome.item)
    audit(req, 'inventory.item.delete', outcome.item.productId)
    return reply.code(204).send()
  })

  app.post('/api/inventory/items/:productId/adjustments', {
    config: admin,
    schema: {
      tags: ['items'],
      summary: 'Stock received, written off or corrected (audited)',
      params: ProductParams,
      body: Adjust,
      response: { 201: Type.Object({ ...AdjustmentResponse.properties, item: ItemResponse }), ...problems(404, 409, 422) },
    },
  }, async (req, reply) => {
    const b = req.body
    if (b.quantity === 0) throw new AppError('request.validation', 'The request is invalid; see errors for each field.', { errors: [{ field: 'quantity', message: 'must not be 0' }] })
    const outcome = await mapDbErrors(() =>
      adjustStock(db, { now, newId }, { productId: req.params.productId, quantity: b.quantity, reason: b.reason, note: b.note ?? null, actor: actorOf(req) }, ctxOf(req)))
    if (!outcome.ok) {
      const code = { 'not-found': 'inventory.item.not-found', sign: 'inventory.adjustment.unprocessable', negative: 'inventory.stock.conflict' }[outcome.kind]
      throw new AppError(code, outcome.message)
    }
    await written(outcome.item)
    audit(req, 'inventory.item.adjust', outcome.item.productId, { quantity: b.quantity, reason: b.reason })
    return reply.code(201).send({ ...adjustmentResponse(outcome.adjustment), item: itemResponse(outcome.item) })
  })

  app.get('/api/inventory/items/:productId/adjustments', {
    config: staff,
    schema: {
      tags: ['items'],
      summary: 'The audit trail of an item, newest first',
      params: ProductParams,
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
      response: { 200: Type.Array(AdjustmentResponse) },
    },
  }, async (req) => (await listAdjustments(db, req.params.productId, req.query.limit)).map(adjustmentResponse))

  // Reservations: staff reads, and an operator's hold.
  app.get('/api/inventory/reservations', {
    config: staff,
    schema: {
      tags: ['reservations'],
      summary: 'Reservations, one page at a time',
      querystring: Type.Object({
        ...Paging,
        status: Type.Optional(ReservationStatus),
        orderId: Type.Optional(Uuid),
        productId: Type.Optional(Type.String({ maxLength: 200 })),
        sort: Type.Optional(sortParam(reservationSorts)),
        sortBy: Type.Optional(Type.Union([Type.Literal('createdAt'), Type.Literal('expiresAt'), Type.Literal('reservedAt'), Type.Literal('quantity')])),
        sortDir: Type.Optional(SortDir),
      }),
      response: { 200: page(ReservationResponse) },
    },
  }, async (req) => {
    const { field, dir } = sortOf<ReservationSort>(req.query, 'createdAt', 'desc')
    const q = { page: req.query.page, size: req.query.size, status: req.query.status, orderId: req.query.orderId, productId: req.query.productId, sort: field, dir }
    const { reservations, total } = await listReservations(db, q)
    return pageOf(reservations.map(reservationResponse), total, q)
  })

  app.get('/api/inventory/reservations/expired', {
    config: staff,
    schema: { tags: ['reservations'], summary: 'RESERVED past their expiry, not yet swept', response: { 200: Type.Array(ReservationResponse) } },
  }, async () => (await overdueReservations(db, now(), 500)).map(reservationResponse))

  app.get('/api/inventory/reservations/stats', {
    config: staff,
    schema: { tags: ['reservations'], summary: 'Reservation counts by status' },
  }, async () => reservationStats(db, now()))

  app.get('/api/inventory/reservations/order/:orderId', {
    config: staff,
    schema: { tags: ['reservations'], summary: "An order's reservations", params: Type.Object({ orderId: Uuid }), response: { 200: Type.Array(ReservationResponse) } },
  }, async (req) => (await reservationsOfOrder(db, req.params.orderId)).map(reservationResponse))

  // The original's two narrower reads, kept for compatibility (the list's filters cover both).
  app.get('/api/inventory/reservations/order/:orderId/status/:status', {
    config: staff,
    schema: { tags: ['reservations'], summary: "An order's reservations in one status", params: Type.Object({ orderId: Uuid, status: ReservationStatus }), response: { 200: Type.Array(ReservationResponse) } },
  }, async (req) => (await reservationsOfOrder(db, req.params.orderId)).filter((r) => r.status === req.params.status).map(reservationResponse))

  app.get('/api/inventory/reservations/product/:productId/active', {
    config: staff,
    schema: { tags: ['reservations'], summary: "A product's RESERVED lines", params: ProductParams, response: { 200: Type.Array(ReservationResponse) } },
  }, async (req) => {
    const { reservations } = await listReservations(db, { page: 0, size: 1000, status: 'RESERVED', productId: req.params.productId, sort: 'createdAt', dir: 'asc' })
    return reservations.map(reservationResponse)
  })

  app.get('/api/inventory/reservations/:id', {
    config: staff,
    schema: { tags: ['reservations'], summary: 'One reservation', params: Type.Object({ id: Uuid }), response: { 200: ReservationResponse, ...problems(404) } },
  }, async (req) => {
    const r = await findReservation(db, req.params.id)
    if (!r) throw new AppError('inventory.reservation.not-found', `No reservation ${req.params.id}.`)
    return reservationResponse(r)
  })

  app.post('/api/inventory/reservations', {
    config: staff,
    schema: {
      tags: ['reservations'],
      summary: "An operator's hold for an order: all or nothing, once per order (repeating it answers 200 with the first outcome)",
      body: Hold,
      response: { 200: HoldResponse, 201: HoldResponse, 409: HoldProblem },
    },
  }, async (req, reply) => {
    const { orderId, items } = req.body
    const result = await holdStock(db, { now, newId, ttlSeconds: deps.reservationTtlSeconds }, { orderId, sagaId: null, requestedBy: actorOf(req), items }, ctxOf(req))
    inventoryMetrics.reservations.inc({ outcome: result.replayed ? 'REPLAYED' : result.outcome, source: 'operator' })
    if (result.outcome === 'RESERVED' && !result.replayed) await cache?.refresh(result.reservations.map((r) => r.productId))
    if (result.outcome === 'FAILED') {
      const detail = result.replayed
        ? `Order ${orderId} could not be reserved earlier; reservations are made once per order.`
        : `Order ${orderId} cannot be reserved; nothing was reserved.`
      return reply.code(409).type('application/problem+json').send({
        ...problem(409, 'inventory.reservation.conflict', detail),
        errors: failedItemsDetail(result.failedItems),
        instance: req.url.split('?')[0] ?? req.url,
        correlationId: req.id,
        failedItems: result.failedItems,
      })
    }
    return reply.code(result.replayed ? 200 : 201).send({
      orderId,
      status: 'RESERVED' as const,
      expiresAt: iso(result.expiresAt),
      reservations: result.reservations.map(reservationResponse),
    })
  })

  // The original's service health (public, like /actuator/health).
  app.get('/api/inventory/health', { config: { auth: 'public' }, schema: { tags: ['actuator'], summary: 'Inventory service health (original shape)' } }, async (req, reply) => {
    const base = { timestamp: now().toISOString(), service: 'inventory-service', version: packageJson.version }
    try {
      await sql`SELECT 1`.execute(db)
      return { inventory: 'UP', ...base }
    } catch (error) {
      req.log.warn({ err: error }, 'inventory health: database check failed')
      return reply.code(503).send({ inventory: 'DOWN', status: 'DOWN', error: 'the database does not answer', ...base })
    }
  })
  registerCachesRoute(app, deps.caches)

  app.get('/api/inventory/health/ping', { config: { auth: 'public' }, schema: { tags: ['actuator'], summary: 'Liveness (original shape)' } }, async () => ({ status: 'UP', message: 'Inventory service is running' }))

  return app
}
