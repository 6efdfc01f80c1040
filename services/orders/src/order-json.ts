// The order on the wire: the response and parameter schemas of the order API (OpenAPI) and the mapping from the
// order to its JSON. Decimals exist only here (totalAmount, prices); the create body is in order-request.ts.
import { Type, type TSchema } from 'typebox'
import { amountDescription, amountOfCents } from '@trackops/contracts'
import { orderStatuses, type Order } from './order.ts'
import { sortColumns, type ListQuery } from './order-store.ts'
import type { HistoryEntry } from './history-store.ts'
import type { CachedOrder } from './order-cache.ts'


export const Uuid = Type.String({ format: 'uuid' })
export const Status = Type.Enum([...orderStatuses], { errorMessage: `must be one of ${orderStatuses.join(', ')}` })

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
export const OrderJson = Type.Object({
  id: Type.String(),
  customerId: Type.String(),
  status: Status,
  totalAmount: Type.Number({ description: amountDescription }),
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
    Type.Object({ productId: Type.String(), productName: Type.String(), quantity: Type.Integer(), unitPrice: Type.Number({ description: amountDescription }), totalPrice: Type.Number({ description: amountDescription }) }),
  ),
  cancellationReason: Nullable(Type.String({ description: 'Why the order was cancelled (the reason given, or the saga\'s: a failed reservation or payment, a timeout); null unless CANCELLED.' })),
  cancelledBy: Nullable(Type.String({ description: 'Who cancelled it: the subject of the customer or operator who asked, `saga` when the order saga cancelled it (reservation or payment failed, a step timed out), `system` otherwise; null unless CANCELLED.' })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  version: Type.Integer(),
})
export const PageJson = Type.Object({
  content: Type.Array(OrderJson),
  page: Type.Integer(),
  size: Type.Integer(),
  totalElements: Type.Integer(),
  totalPages: Type.Integer(),
})
export const HistoryJson = Type.Object({
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
export const CancelJson = Type.Object({ order: OrderJson, cancellation: Type.Literal('compensating') })

export const IdParams = Type.Object({ id: Uuid })
export const PageQuery = Type.Object({
  page: Type.Integer({ minimum: 0, default: 0, description: '0-based page number' }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  sort: Type.Optional(Type.String({ description: `field[,asc|desc]; fields: ${Object.keys(sortColumns).join(', ')}. Default createdAt,desc` })),
})
export const IfMatch = Type.Object({ 'if-match': Type.Optional(Type.String({ description: 'The order version you read (its ETag); the change is refused with 409 if the order changed since.' })) })

export function orderJson(o: CachedOrder) {
  return {
    id: o.id,
    customerId: o.customerId,
    status: o.status,
    totalAmount: amountOfCents(o.totalCents),
    currency: o.currency,
    address: o.address,
    deliveryInstructions: o.deliveryInstructions,
    items: o.items.map((i) => ({ productId: i.productId, productName: i.productName, quantity: i.quantity, unitPrice: amountOfCents(i.unitPriceCents), totalPrice: amountOfCents(i.totalCents) })),
    cancellationReason: o.cancellationReason,
    cancelledBy: o.cancelledBy,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    version: o.version,
  }
}

export const historyJson = (orderId: string, entries: HistoryEntry[]) => ({
  orderId,
  entries: entries.map((e) => ({ at: e.at.toISOString(), from: e.from, to: e.to, cause: e.cause, reason: e.reason, actor: e.actor, correlationId: e.correlationId, version: e.orderVersion })),
})

export const pageJson = (q: ListQuery, r: { orders: Order[]; total: number }) => ({
  content: r.orders.map(orderJson),
  page: q.page,
  size: q.size,
  totalElements: r.total,
  totalPages: Math.ceil(r.total / q.size),
})
