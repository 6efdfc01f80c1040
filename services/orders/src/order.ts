// The order, pure: its types, its status machine and a new order. No I/O, no clock, no random ids. Money is
// integer cents (money.ts); lines are priced in pricing.ts.

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
/** The largest order total, in cents (999,999.99). */
export const MAX_TOTAL_CENTS = 99_999_999

export interface Address {
  streetAddress: string
  city: string
  state: string | null
  postalCode: string
  country: string
  phoneNumber: string | null
}

/** A line as asked for: a product and how many. */
export interface Line {
  productId: string
  quantity: number
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

// The status machine.
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
