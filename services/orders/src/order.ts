// The order, pure: types, the status machine, money and pricing. No I/O, no clock,
// no random ids. Money is integer cents; decimals exist only at the HTTP edge (amountToCents / centsToAmount).

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'PROCESSING' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED'
export const orderStatuses: readonly OrderStatus[] = ['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED']
export const isOrderStatus = (value: unknown): value is OrderStatus => orderStatuses.includes(value as OrderStatus)

/** Who or what changed an order's status. */
export type ChangeCause = 'customer' | 'operator' | 'saga' | 'timeout' | 'system'

/**
 * Who cancelled an order, as its representation says (cancelledBy): the subject of the customer or operator who
 * asked, `saga` when the saga cancelled it on its own (a reservation or payment failed, a step timed out), `system`
 * for anything else without a person behind it.
 */
export function cancelledByOf(cause: ChangeCause, actor: string | undefined): string {
  if (actor) return actor
  switch (cause) {
    case 'saga':
    case 'timeout':
      return 'saga'
    case 'system':
      return 'system'
    case 'customer':
    case 'operator':
      return cause
  }
}

export const CURRENCY = 'USD'

export interface Address {
  streetAddress: string
  city: string
  state: string | null
  postalCode: string
  country: string
  phoneNumber: string | null
}

export interface OrderItem {
  productId: string
  productName: string
  quantity: number
  unitPriceCents: number
  totalCents: number
}

export interface Order {
  id: string
  customerId: string
  status: OrderStatus
  totalCents: number
  currency: string
  address: Address
  deliveryInstructions: string | null
  paymentToken: string | null
  items: OrderItem[]
  /** Why a CANCELLED order was cancelled; null for any other status. */
  cancellationReason: string | null
  /** Who cancelled it: the customer's or operator's subject, `saga` (a failed step or a timeout) or `system`. */
  cancelledBy: string | null
  createdAt: Date
  updatedAt: Date
  version: number
}

// --- status machine -------------------------------------------------------------------------------------------

const forward: Record<OrderStatus, OrderStatus | null> = {
  PENDING: 'CONFIRMED',
  CONFIRMED: 'PROCESSING',
  PROCESSING: 'SHIPPED',
  SHIPPED: 'DELIVERED',
  DELIVERED: null,
  CANCELLED: null,
}

export const isTerminal = (status: OrderStatus) => status === 'DELIVERED' || status === 'CANCELLED'

export type TransitionDecision = { kind: 'same' } | { kind: 'allowed' } | { kind: 'refused'; reason: string }

/** PENDING → CONFIRMED → PROCESSING → SHIPPED → DELIVERED; CANCELLED from any non-terminal state. */
export function decideTransition(from: OrderStatus, to: OrderStatus): TransitionDecision {
  if (from === to) return { kind: 'same' }
  if (isTerminal(from)) return { kind: 'refused', reason: `${from === 'DELIVERED' ? 'Delivered' : 'Cancelled'} orders cannot change status (asked for ${to}).` }
  if (to === 'CANCELLED' || forward[from] === to) return { kind: 'allowed' }
  return { kind: 'refused', reason: `A ${from} order can only become ${forward[from]} or CANCELLED, not ${to}.` }
}

// --- money ------------------------------------------------------------------------------------------------------

export const MIN_TOTAL_CENTS = 1
export const MAX_TOTAL_CENTS = 99_999_999

/** A JSON number with at most two decimals → cents; null when it has more precision than cents. */
export function amountToCents(amount: number): number | null {
  if (!Number.isFinite(amount)) return null
  const cents = Math.round(amount * 100)
  return Math.abs(amount * 100 - cents) < 1e-6 ? cents : null
}

export const centsToAmount = (cents: number) => cents / 100

/** A decimal string as Debezium sends numeric columns ("199.99", "5", "-0.5") → cents; null when not exact. */
export function decimalToCents(value: string): number | null {
  const m = /^(-?)(\d+)(?:\.(\d{1,2})0*)?$/.exec(value.trim())
  if (!m) return null
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'))
  return m[1] ? -cents : cents
}

export const formatCents = (cents: number) => `${Math.trunc(cents / 100)}.${String(Math.abs(cents % 100)).padStart(2, '0')}`

// --- pricing ----------------------------------------------------------------------------------------------------

export interface CatalogProduct {
  productId: string
  productName: string
  unitPriceCents: number
  isActive: boolean
  isDiscontinued: boolean
}

export interface Line {
  productId: string
  quantity: number
}

export type PricingProblem = { productId: string; reason: 'unknown' | 'inactive' | 'discontinued' }

/** One line per product, quantities summed, in the order products first appear. */
export function mergeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>()
  for (const line of lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity)
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }))
}

export function priceLines(
  lines: readonly Line[],
  catalog: ReadonlyMap<string, CatalogProduct>,
): { ok: true; items: OrderItem[]; totalCents: number } | { ok: false; problems: PricingProblem[] } {
  const problems: PricingProblem[] = []
  const items: OrderItem[] = []
  for (const line of lines) {
    const product = catalog.get(line.productId)
    if (!product) problems.push({ productId: line.productId, reason: 'unknown' })
    else if (product.isDiscontinued) problems.push({ productId: line.productId, reason: 'discontinued' })
    else if (!product.isActive) problems.push({ productId: line.productId, reason: 'inactive' })
    else {
      items.push({
        productId: product.productId,
        productName: product.productName,
        quantity: line.quantity,
        unitPriceCents: product.unitPriceCents,
        totalCents: product.unitPriceCents * line.quantity,
      })
    }
  }
  if (problems.length) return { ok: false, problems }
  return { ok: true, items, totalCents: items.reduce((sum, i) => sum + i.totalCents, 0) }
}

// --- a new order ------------------------------------------------------------------------------------------------

export interface NewOrder {
  customerId: string
  address: Address
  deliveryInstructions: string | null
  /** Absent for legacy clients, who send totalAmount instead. */
  items: Line[] | null
  totalCents: number | null
  paymentToken: string | null
}

export function openOrder(input: { id: string; customerId: string; address: Address; deliveryInstructions: string | null; paymentToken: string | null; items: OrderItem[]; totalCents: number }, now: Date): Order {
  return {
    id: input.id,
    customerId: input.customerId,
    status: 'PENDING',
    totalCents: input.totalCents,
    currency: CURRENCY,
    address: input.address,
    deliveryInstructions: input.deliveryInstructions,
    paymentToken: input.paymentToken,
    items: input.items,
    cancellationReason: null,
    cancelledBy: null,
    createdAt: now,
    updatedAt: now,
    version: 1,
  }
}
