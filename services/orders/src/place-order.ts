// Placing an order: one transaction holds the idempotency key, the order and its lines, the first history row,
// ORDER_CREATED and the saga's start (its RESERVE_INVENTORY command). Either all of it commits or none.
import { createHash } from 'node:crypto'
import client from 'prom-client'
import { AppError } from '@trackops/http'
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { decimalTextOfCents } from '@trackops/contracts'
import { MAX_TOTAL_CENTS, openOrder, type ChangeCause, type NewOrder, type Order, type OrderItem } from './order.ts'
import { priceLines } from './pricing.ts'
import { getOrder, insertOrder, type Db, type OrdersDb } from './order-store.ts'
import { claimIdempotencyKey } from './idempotency-store.ts'
import { insertHistory } from './history-store.ts'
import { findProducts } from './catalog.ts'
import type { OrderSaga } from './saga/create-saga.ts'

const ordersPlaced =
  (client.register.getSingleMetric('trackops_orders_placed_total') as client.Counter | undefined) ??
  new client.Counter({ name: 'trackops_orders_placed_total', help: 'Orders placed, by pricing (catalog items or legacy client total).', labelNames: ['pricing'] })

export interface PlaceOrderInput {
  order: NewOrder
  idempotencyKey?: string
  cause: ChangeCause
  actor?: string
  ctx: MessageContext
}

/** The fingerprint of a create request: a retry with the same key must carry the same request. */
export function requestHash(order: NewOrder): string {
  return createHash('sha256').update(stableJson(order)).digest('hex')
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

export async function placeOrder(
  deps: { db: Db; now: () => Date; newId: () => string; saga: OrderSaga },
  input: PlaceOrderInput,
): Promise<{ order: Order; replayed: boolean }> {
  const now = deps.now()
  const orderId = deps.newId()
  const result = await deps.db.transaction().execute(async (tx) => {
    if (input.idempotencyKey !== undefined) {
      const hash = requestHash(input.order)
      const claim = await claimIdempotencyKey(tx, { key: input.idempotencyKey, customerId: input.order.customerId, requestHash: hash, orderId, now })
      if (!claim.claimed) {
        if (claim.requestHash !== hash) {
          throw new AppError('order.idempotency-key.conflict', 'This Idempotency-Key was already used for a different request. Send a new key for a new order.')
        }
        const first = await getOrder(tx, claim.orderId)
        if (!first) throw new Error(`idempotency key ${input.idempotencyKey} points at a missing order`)
        return { order: first, replayed: true }
      }
    }

    const { items, totalCents } = await price(tx, input.order)
    const order = openOrder(
      { id: orderId, customerId: input.order.customerId, address: input.order.address, deliveryInstructions: input.order.deliveryInstructions, paymentToken: input.order.paymentToken, items, totalCents },
      now,
    )
    await insertOrder(tx, order, deps.newId)
    await insertHistory(tx, { orderId, from: null, to: 'PENDING', cause: input.cause, reason: null, actor: input.actor ?? null, correlationId: input.ctx.correlationId, orderVersion: order.version, at: now })
    await enqueue<OrdersDb>(
      tx,
      newMessage(
        'ORDER_CREATED',
        {
          orderId,
          customerId: order.customerId,
          status: 'PENDING',
          totalCents: order.totalCents,
          currency: order.currency,
          items: order.items.map((i) => ({ productId: i.productId, productName: i.productName, quantity: i.quantity, unitPriceCents: i.unitPriceCents })),
          version: order.version,
        },
        input.ctx,
        now,
      ),
    )
    await deps.saga.start(
      tx,
      {
        orderId,
        customerId: order.customerId,
        items: order.items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
        totalCents: order.totalCents,
        currency: order.currency,
        // No payment method: '' — the payment service applies its configured default or declines (payment-method.missing).
        paymentToken: order.paymentToken ?? '',
      },
      input.ctx,
      now,
    )
    return { order, replayed: false }
  })
  if (!result.replayed) ordersPlaced.inc({ pricing: input.order.items ? 'catalog' : 'client-total' })
  return result
}

/** Lines are priced from the catalog replica; a client total, if sent, must agree. Legacy orders carry only a total. */
async function price(tx: Db, order: NewOrder): Promise<{ items: OrderItem[]; totalCents: number }> {
  if (!order.items) {
    if (order.totalCents === null) throw new Error('newOrderOf lets no order through without items or total')
    return { items: [], totalCents: order.totalCents }
  }
  const priced = priceLines(order.items, await findProducts(tx, order.items.map((l) => l.productId)))
  if (!priced.ok) {
    // The field names the line; the client's product id is not echoed back.
    const describe = { unknown: 'is unknown (not in the catalog)', inactive: 'is inactive (not available for sale)', discontinued: 'is discontinued' } as const
    const lines = order.items
    const errors = priced.problems.map((p) => ({ field: `items[${lines.findIndex((l) => l.productId === p.productId)}].productId`, message: describe[p.reason] }))
    throw new AppError('order.unprocessable', `${errors.length === 1 ? 'A product' : `${errors.length} products`} of this order cannot be ordered; see errors.`, { errors })
  }
  if (priced.totalCents > MAX_TOTAL_CENTS) {
    throw new AppError('order.unprocessable', `The order total ${decimalTextOfCents(priced.totalCents)} is above the maximum of ${decimalTextOfCents(MAX_TOTAL_CENTS)}.`, {
      errors: [{ field: 'items', message: `total ${decimalTextOfCents(priced.totalCents)} exceeds ${decimalTextOfCents(MAX_TOTAL_CENTS)}` }],
    })
  }
  if (order.totalCents !== null && order.totalCents !== priced.totalCents) {
    throw new AppError('order.unprocessable', `totalAmount ${decimalTextOfCents(order.totalCents)} does not match the items' total at catalog prices, ${decimalTextOfCents(priced.totalCents)}.`, {
      errors: [{ field: 'totalAmount', message: `must equal the items' total ${decimalTextOfCents(priced.totalCents)} (or be left out)` }],
    })
  }
  return priced
}
