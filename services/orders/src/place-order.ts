// Placing an order: one transaction holds the idempotency key, the order and its lines, the first history row,
// ORDER_CREATED and the saga's start (its RESERVE_INVENTORY command). Either all of it commits or none, and it
// travels to the database in one flight.
import { createHash } from 'node:crypto'
import client from 'prom-client'
import { AppError } from '@trackops/http'
import { enqueue, newMessage, type MessageContext } from '@trackops/messaging'
import { writeTogether } from '@trackops/runtime'
import { decimalTextOfCents } from '@trackops/contracts'
import { MAX_TOTAL_CENTS, openOrder, type ChangeCause, type NewOrder, type Order, type OrderItem } from './order.ts'
import { priceLines, type CatalogProduct } from './pricing.ts'
import { getOrder, insertOrder, type Db, type OrdersDb } from './order-store.ts'
import { findIdempotencyKey, insertIdempotencyKey, isKeyTaken, type IdempotencyKey } from './idempotency-store.ts'
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

/**
 * Two flights: what the order needs to know (an earlier request with its Idempotency-Key, the catalog prices of its
 * lines), then the whole creating transaction at once (writeTogether). A concurrent request with the same key that
 * commits first makes the insert of the key fail and this transaction roll back; the first order is then replayed.
 */
export async function placeOrder(
  deps: { db: Db; now: () => Date; newId: () => string; saga: OrderSaga },
  input: PlaceOrderInput,
): Promise<{ order: Order; replayed: boolean }> {
  const key = input.idempotencyKey
  const hash = key === undefined ? '' : requestHash(input.order)
  const lines = input.order.items
  for (let attempt = 1; ; attempt++) {
    const [earlier, catalog] = await Promise.all([
      key === undefined ? null : findIdempotencyKey(deps.db, key),
      lines ? findProducts(deps.db, lines.map((l) => l.productId)) : null,
    ])
    if (earlier) return { order: await replay(deps.db, earlier, hash), replayed: true }

    const now = deps.now()
    const orderId = deps.newId()
    const { items, totalCents } = price(input.order, catalog)
    const order = openOrder(
      { id: orderId, customerId: input.order.customerId, address: input.order.address, deliveryInstructions: input.order.deliveryInstructions, paymentToken: input.order.paymentToken, items, totalCents },
      now,
    )
    try {
      await writeTogether(deps.db, async (tx) => {
        if (key !== undefined) await insertIdempotencyKey(tx, { key, customerId: order.customerId, requestHash: hash, orderId, now })
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
      })
    } catch (error) {
      // Taken meanwhile by a request that committed: the next look finds it and replays its order.
      if (isKeyTaken(error) && attempt < 3) continue
      throw error
    }
    ordersPlaced.inc({ pricing: lines ? 'catalog' : 'client-total' })
    return { order, replayed: false }
  }
}

/** The order an earlier request with the same key created; a different request under that key is a conflict. */
async function replay(db: Db, earlier: IdempotencyKey, hash: string): Promise<Order> {
  if (earlier.requestHash !== hash) {
    throw new AppError('order.idempotency-key.conflict', 'This Idempotency-Key was already used for a different request. Send a new key for a new order.')
  }
  const first = await getOrder(db, earlier.orderId)
  if (!first) throw new Error(`an idempotency key points at a missing order (${earlier.orderId})`)
  return first
}

/** Lines are priced from the catalog replica; a client total, if sent, must agree. Legacy orders carry only a total. */
function price(order: NewOrder, catalog: Map<string, CatalogProduct> | null): { items: OrderItem[]; totalCents: number } {
  if (!order.items || !catalog) {
    if (order.totalCents === null) throw new Error('newOrderOf lets no order through without items or total')
    return { items: [], totalCents: order.totalCents }
  }
  const priced = priceLines(order.items, catalog)
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
