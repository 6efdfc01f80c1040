// SQL for the idempotency keys of order creation (Idempotency-Key): looked up before, taken in the creating
// transaction, pruned after their retention.
import { sql } from 'kysely'
import type { Db } from './order-store.ts'

export interface IdempotencyKey {
  requestHash: string
  customerId: string
  orderId: string
}

/** The order an earlier request with this key created, with that request's fingerprint; null for a new key. */
export async function findIdempotencyKey(db: Db, key: string): Promise<IdempotencyKey | null> {
  const row = await db.selectFrom('idempotency_keys').select(['request_hash', 'customer_id', 'order_id']).where('idempotency_key', '=', key).executeTakeFirst()
  return row ? { requestHash: row.request_hash, customerId: row.customer_id, orderId: row.order_id } : null
}

/**
 * Takes the key for this request in the creating transaction. A concurrent transaction holding the same key makes
 * this wait until it ends; when it committed, this fails with a unique violation (isKeyTaken) and rolls back.
 */
export async function insertIdempotencyKey(tx: Db, claim: { key: string; customerId: string; requestHash: string; orderId: string; now: Date }): Promise<void> {
  await tx
    .insertInto('idempotency_keys')
    .values({ idempotency_key: claim.key, customer_id: claim.customerId, request_hash: claim.requestHash, order_id: claim.orderId, created_at: claim.now })
    .execute()
}

/** The error of insertIdempotencyKey when another request took the key first. */
export const isKeyTaken = (error: unknown) =>
  (error as { code?: unknown; constraint?: unknown } | null)?.code === '23505' && (error as { constraint?: unknown }).constraint === 'idempotency_keys_pkey'

/** Keys older than the retention are forgotten: a retry after that creates a new order. */
export async function pruneIdempotencyKeys(db: Db, olderThan: Date): Promise<number> {
  const r = await sql`DELETE FROM idempotency_keys WHERE created_at < ${olderThan}`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
