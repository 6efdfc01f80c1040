// Shared helpers for the payment component tests: the real database, the real sandbox gateway, and a way to
// apply a command the way the consumer runner does (one transaction around the handler).
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { sql } from 'kysely'
import type { AnyMessage, MessageData } from '@trackops/contracts'
import { createDb } from '@trackops/runtime'
import { newMessage, type MessageHandler } from '@trackops/messaging'
import { testEnv } from '../../../tests/support/env.ts'
import type { PaymentsDb } from '../src/payment-store.ts'
import type { PaymentGateway } from '../src/gateway.ts'

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
export const db = createDb<PaymentsDb>(testEnv.componentDbs.payments, { max: 6, applicationName: 'payments-test' })
export const sandboxDb = createDb(testEnv.componentDbs.payments, { max: 4, applicationName: 'payments-test-sandbox' })

export function processCommand(data: Partial<MessageData<'PROCESS_PAYMENT'>> = {}) {
  return newMessage('PROCESS_PAYMENT', {
    orderId: randomUUID(),
    sagaId: randomUUID(),
    customerId: randomUUID(),
    amountCents: 4_250,
    currency: 'EUR',
    paymentToken: 'tok_visa',
    ...data,
  }, { correlationId: `pay-test-${randomUUID()}` })
}
export const refundCommand = (orderId: string, sagaId: string = randomUUID()) =>
  newMessage('REFUND_PAYMENT', { orderId, sagaId, reason: 'saga compensation' }, { correlationId: `pay-test-${randomUUID()}` })

/** Applies the message like the runner: one transaction; the handler's outbox rows commit with it. */
export async function apply(handle: MessageHandler<PaymentsDb>, message: AnyMessage) {
  await db.transaction().execute((tx) =>
    handle(tx, message, { correlationId: message.correlationId, causationId: message.id, log: logger, headers: {}, recordTimestamp: Date.now() }),
  )
}

export interface Reply {
  id: string
  type: string
  topic: string
  aggregateid: string
  payload: { causationId?: string; correlationId: string; data: Record<string, unknown> }
}
/** The replies enqueued for an order, oldest first. */
export async function repliesFor(orderId: string): Promise<Reply[]> {
  const rows = await sql<{ id: string; type: string; topic: string; aggregateid: string; payload: string }>`
    SELECT id, type, topic, aggregateid, payload FROM outbox WHERE aggregateid = ${orderId} ORDER BY seq`.execute(db)
  return rows.rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as Reply['payload'] }))
}

export async function paymentOf(orderId: string) {
  return db.selectFrom('payments').selectAll().where('order_id', '=', orderId).executeTakeFirst()
}
export async function refundOf(orderId: string) {
  return db.selectFrom('refunds').selectAll().where('order_id', '=', orderId).executeTakeFirst()
}
export async function sandboxRecord(key: string) {
  const r = await sql<{ outcome: string; calls: number; gateway_id: string; amount_cents: number }>`
    SELECT outcome, calls, gateway_id, amount_cents FROM gateway_sandbox_charges WHERE idempotency_key = ${key}`.execute(sandboxDb)
  return r.rows[0]
}

/** Counts the calls that reach the (real) gateway behind the resilience policies. */
export function counting(gateway: PaymentGateway) {
  const calls = { charge: 0, refund: 0, lookup: 0 }
  const wrapped: PaymentGateway = {
    charge: (request, signal) => {
      calls.charge++
      return gateway.charge(request, signal)
    },
    refund: (request, signal) => {
      calls.refund++
      return gateway.refund(request, signal)
    },
    lookupCharge: (key, signal) => {
      calls.lookup++
      return gateway.lookupCharge(key, signal)
    },
  }
  return { gateway: wrapped, calls }
}
