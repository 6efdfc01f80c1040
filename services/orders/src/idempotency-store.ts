// SQL for the idempotency keys of order creation (Idempotency-Key): claimed in the creating transaction, pruned
// after their retention.
import { sql } from 'kysely'
import type { Db } from './order-store.ts'

/**
 * Claims the key for this request in the caller's transaction. A concurrent transaction holding the same key
 * makes this wait until it ends: then the key is ours (it rolled back) or theirs (it committed).
 */
export async function claimIdempotencyKey(
  tx: Db,
  claim: { key: string; customerId: string; requestHash: string; orderId: string; now: Date },
): Promise<{ claimed: true } | { claimed: false; requestHash: string; customerId: string; orderId: string }> {
  const inserted = await tx
    .insertInto('idempotency_keys')
    .values({ idempotency_key: claim.key, customer_id: claim.customerId, request_hash: claim.requestHash, order_id: claim.orderId, created_at: claim.now })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('idempotency_key')
    .executeTakeFirst()
  if (inserted) return { claimed: true }
  const existing = await tx.selectFrom('idempotency_keys').selectAll().where('idempotency_key', '=', claim.key).executeTakeFirstOrThrow()
  return { claimed: false, requestHash: existing.request_hash, customerId: existing.customer_id, orderId: existing.order_id }
}

/** Keys older than the retention are forgotten: a retry after that creates a new order. */
export async function pruneIdempotencyKeys(db: Db, olderThan: Date): Promise<number> {
  const r = await sql`DELETE FROM idempotency_keys WHERE created_at < ${olderThan}`.execute(db)
  return Number(r.numAffectedRows ?? 0)
}
