// Order shapes as the order service returns them (services/orders/src/http.ts), and the live event.
// The address is the order service's own declaration (a type-only import: nothing of the service is bundled).
import type { Address } from '../../../services/orders/src/order.ts'

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'PROCESSING' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED'
export const orderStatuses: OrderStatus[] = ['PENDING', 'CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED']
export const isOrderStatus = (v: unknown): v is OrderStatus => orderStatuses.includes(v as OrderStatus)


export interface Order {
  id: string
  customerId: string
  status: OrderStatus
  totalAmount: number
  currency: string
  address?: Address
  deliveryInstructions?: string | null
  items?: { productId: string; productName: string; quantity: number; unitPrice: number; totalPrice: number }[]
  /** Set on CANCELLED orders: why, and who (a subject, `saga` or `system`). */
  cancellationReason?: string | null
  cancelledBy?: string | null
  createdAt: string
  updatedAt: string
  version?: number
}

export interface HistoryEntry {
  at: string
  from: OrderStatus | null
  to: OrderStatus
  cause: string
  reason: string | null
  actor: string | null
  correlationId?: string
  version?: number
}

/** `data:` of GET /api/orders/events and /api/orders/{id}/events (`event: snapshot | status`; `resync` asks for a reload). */
export interface OrderEvent {
  orderId: string
  status: OrderStatus
  previousStatus?: OrderStatus | null
  reason?: string | null
  cause?: string | null
  sagaStep?: string | null
  /** The order's row version: a higher one is a later change. */
  version?: number
  at?: string
}

export function parseOrderEvent(data: string): OrderEvent | null {
  try {
    const e = JSON.parse(data) as Partial<OrderEvent> & { newStatus?: string; id?: string }
    const orderId = e.orderId ?? e.id
    const status = e.status ?? e.newStatus
    if (typeof orderId !== 'string' || !isOrderStatus(status)) return null
    return { ...e, orderId, status } as OrderEvent
  } catch {
    return null
  }
}

/** What an operator can do next with an order in this status. */
export const nextAction: Partial<Record<OrderStatus, { action: 'process' | 'ship' | 'deliver'; label: string }>> = {
  CONFIRMED: { action: 'process', label: 'Start processing' },
  PROCESSING: { action: 'ship', label: 'Mark shipped' },
  SHIPPED: { action: 'deliver', label: 'Mark delivered' },
}

export const isTerminal = (s: OrderStatus) => s === 'DELIVERED' || s === 'CANCELLED'
