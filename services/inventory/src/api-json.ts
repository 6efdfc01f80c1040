// The inventory API on the wire: TypeBox schemas of request and response bodies, and the mapping of store rows to
// response JSON (money as decimals, dates as ISO strings, the derived stock flags).
import { Type, type Static, type TSchema } from 'typebox'
import { amountDescription, amountOfCents } from '@trackops/contracts'
import { isLowStock, isOutOfStock, needsReordering, type FailedItem } from './stock.ts'
import type { Adjustment, Item } from './item-store.ts'
import type { Reservation } from './reservation-store.ts'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
// For request bodies: a type list, not anyOf. The shared app coerces types, and with anyOf ajv would coerce
// null into the first branch ("" or 0) — or 0 into null — before the right branch is tried.
const NullableInt = (o: { minimum?: number; maximum?: number; description?: string } = {}) =>
  Type.Unsafe<number | null>({ type: ['integer', 'null'], ...o })
const NullableText = (o: { minLength?: number; maxLength?: number; pattern?: string }) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...o })
const NullableBool = () => Type.Unsafe<boolean | null>({ type: ['boolean', 'null'] })
const NullablePrice = () => Type.Unsafe<number | null>({ type: ['number', 'null'], exclusiveMinimum: 0, maximum: 99_999_999.99, description: amountDescription })
const Count = Type.Integer({ minimum: 0, maximum: 1_000_000_000 })
const ProductId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Letters, digits, ".", "_", "-".' })
const Price = Type.Number({ exclusiveMinimum: 0, maximum: 99_999_999.99, description: amountDescription })
const Timestamp = Type.String({ format: 'date-time' })
export const Uuid = Type.String({ format: 'uuid' })
// Literals are written out: Type.Union(list.map(Type.Literal)) infers `never` with typebox 1.x.
export const SortDir = Type.Union([Type.Literal('asc'), Type.Literal('desc'), Type.Literal('ASC'), Type.Literal('DESC')])
export const Paging = {
  page: Type.Integer({ minimum: 0, default: 0 }),
  size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
}
export const ReservationStatus = Type.Union([Type.Literal('RESERVED'), Type.Literal('COMMITTED'), Type.Literal('RELEASED'), Type.Literal('EXPIRED')])
export const itemSorts = ['productName', 'availableQuantity', 'unitPrice', 'createdAt'] as const
export const reservationSorts = ['createdAt', 'expiresAt', 'reservedAt', 'quantity'] as const
export const sortParam = (fields: readonly string[]) =>
  Type.String({ pattern: `^(${fields.join('|')})(,(asc|desc|ASC|DESC))?$`, description: `field[,asc|desc]; field one of ${fields.join(', ')}` })

export const ItemResponse = Type.Object({
  id: Uuid,
  productId: Type.String(),
  productName: Type.String(),
  description: Nullable(Type.String()),
  availableQuantity: Type.Integer(),
  reservedQuantity: Type.Integer(),
  soldQuantity: Type.Integer({ description: 'Units committed to confirmed orders (net of restocks).' }),
  onHandQuantity: Type.Integer({ description: 'Units in the warehouse: available + reserved.' }),
  unitPrice: Type.Number({ description: amountDescription }),
  category: Nullable(Type.String()),
  minStockLevel: Nullable(Type.Integer()),
  maxStockLevel: Nullable(Type.Integer()),
  reorderQuantity: Nullable(Type.Integer()),
  isActive: Type.Boolean(),
  isDiscontinued: Type.Boolean(),
  isLowStock: Type.Boolean(),
  isOutOfStock: Type.Boolean(),
  needsReordering: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  version: Type.Integer(),
})
export const ReservationResponse = Type.Object({
  id: Uuid,
  orderId: Uuid,
  productId: Type.String(),
  productName: Type.String(),
  quantity: Type.Integer(),
  unitPrice: Type.Number({ description: amountDescription }),
  status: ReservationStatus,
  reservedAt: Timestamp,
  expiresAt: Timestamp,
  releasedAt: Nullable(Timestamp),
  committedAt: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  version: Type.Integer(),
})
export const AdjustmentResponse = Type.Object({
  id: Uuid,
  productId: Type.String(),
  quantity: Type.Integer(),
  reason: Type.String(),
  note: Nullable(Type.String()),
  actor: Type.String(),
  availableBefore: Type.Integer(),
  availableAfter: Type.Integer(),
  createdAt: Timestamp,
})
export const page = <T extends TSchema>(t: T) =>
  Type.Object({
    content: Type.Array(t),
    number: Type.Integer(),
    size: Type.Integer(),
    totalElements: Type.Integer(),
    totalPages: Type.Integer(),
    numberOfElements: Type.Integer(),
    first: Type.Boolean(),
    last: Type.Boolean(),
    empty: Type.Boolean(),
  })

export const CreateItem = Type.Object({
  productId: ProductId,
  productName: Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' }),
  description: Type.Optional(NullableText({ maxLength: 1000 })),
  availableQuantity: Count,
  unitPrice: Price,
  category: Type.Optional(NullableText({ maxLength: 100 })),
  minStockLevel: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
  maxStockLevel: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
  reorderQuantity: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
}, { additionalProperties: false })
export const UpdateItem = Type.Object({
  productName: Type.Optional(NullableText({ minLength: 1, maxLength: 255, pattern: '\\S' })),
  description: Type.Optional(NullableText({ maxLength: 1000 })),
  availableQuantity: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000, description: 'Admin only; recorded as a CORRECTION adjustment.' })),
  unitPrice: Type.Optional(NullablePrice()),
  category: Type.Optional(NullableText({ maxLength: 100 })),
  minStockLevel: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
  maxStockLevel: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
  reorderQuantity: Type.Optional(NullableInt({ minimum: 0, maximum: 1_000_000_000 })),
  isActive: Type.Optional(NullableBool()),
  isDiscontinued: Type.Optional(NullableBool()),
}, { additionalProperties: false, description: 'Partial update: absent or null fields stay as they are.' })
export const Adjust = Type.Object({
  quantity: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, description: 'Signed change of available stock; not 0. RECEIVED > 0, WRITE_OFF < 0.' }),
  reason: Type.Union([Type.Literal('RECEIVED'), Type.Literal('WRITE_OFF'), Type.Literal('CORRECTION')]),
  note: Type.Optional(NullableText({ maxLength: 500 })),
}, { additionalProperties: false })
export const Hold = Type.Object({
  orderId: Uuid,
  items: Type.Array(Type.Object({ productId: Type.String({ minLength: 1, maxLength: 64 }), quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 100 }),
}, { additionalProperties: false })
export const HoldProblem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
  instance: Type.String(),
  correlationId: Type.String(),
  errors: Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
  failedItems: Type.Array(Type.Object({
    productId: Type.String(),
    requested: Type.Integer(),
    available: Type.Integer(),
    reason: Type.Union([Type.Literal('UNKNOWN'), Type.Literal('INACTIVE'), Type.Literal('DISCONTINUED'), Type.Literal('INSUFFICIENT')]),
  })),
}, { description: 'Problem details with every line that could not be reserved.' })
export const HoldResponse = Type.Object({ orderId: Uuid, status: Type.Literal('RESERVED'), expiresAt: Timestamp, reservations: Type.Array(ReservationResponse) })
export const ProductParams = Type.Object({ productId: ProductId })

export const iso = (d: Date) => d.toISOString()
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null)

export const itemResponse = (i: Item): Static<typeof ItemResponse> => ({
  id: i.id,
  productId: i.productId,
  productName: i.productName,
  description: i.description,
  availableQuantity: i.availableQuantity,
  reservedQuantity: i.reservedQuantity,
  soldQuantity: i.soldQuantity,
  onHandQuantity: i.onHandQuantity,
  unitPrice: amountOfCents(i.unitPriceCents),
  category: i.category,
  minStockLevel: i.minStockLevel,
  maxStockLevel: i.maxStockLevel,
  reorderQuantity: i.reorderQuantity,
  isActive: i.isActive,
  isDiscontinued: i.isDiscontinued,
  isLowStock: isLowStock(i.availableQuantity, i.minStockLevel),
  isOutOfStock: isOutOfStock(i.availableQuantity),
  needsReordering: needsReordering(i.availableQuantity, i.minStockLevel, i.reorderQuantity),
  createdAt: iso(i.createdAt),
  updatedAt: iso(i.updatedAt),
  version: i.version,
})

export const reservationResponse = (r: Reservation): Static<typeof ReservationResponse> => ({
  id: r.id,
  orderId: r.orderId,
  productId: r.productId,
  productName: r.productName,
  quantity: r.quantity,
  unitPrice: amountOfCents(r.unitPriceCents),
  status: r.status,
  reservedAt: iso(r.reservedAt),
  expiresAt: iso(r.expiresAt),
  releasedAt: isoOrNull(r.releasedAt),
  committedAt: isoOrNull(r.committedAt),
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
  version: r.version,
})

export const adjustmentResponse = (a: Adjustment) => ({ ...a, createdAt: iso(a.createdAt) })

export const pageOf = <T>(content: T[], total: number, q: { page: number; size: number }) => {
  const totalPages = Math.ceil(total / q.size)
  return {
    content,
    number: q.page,
    size: q.size,
    totalElements: total,
    totalPages,
    numberOfElements: content.length,
    first: q.page === 0,
    last: q.page >= totalPages - 1,
    empty: content.length === 0,
  }
}

export const failedItemsDetail = (items: FailedItem[]) =>
  items.map((f) => ({ field: `items.${f.productId}`, message: `${f.reason}: requested ${f.requested}, available ${f.available}` }))
