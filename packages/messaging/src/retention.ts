// Retention of the messaging tables a consuming service's database carries: the inbox (processed_events) and the
// dead letters an operator resolved (REPLAYED, DISCARDED) are deleted once older than INBOX_RETENTION_HOURS. That
// must outlast the topics' retention (168 h, infra/kafka/server.properties): a record Kafka can still deliver again
// (a consumer group reset to the earliest offset) is then still recognised as applied. Deletes go in small batches
// in order of age, each its own short statement, with a pause between them, so the hot path's inbox claim never
// waits behind a long delete. Unresolved dead letters stay (they block their key); parked records leave the table
// when their key is released; the outbox has its own pruning (relay).
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import { sql, type Kysely } from 'kysely'
import client from 'prom-client'
import type { Job } from '@trackops/runtime'
import type { MessagingTables } from './tables.ts'

export const retentionSettings = {
  /** Inbox rows and resolved dead letters are kept this long (hours); more than the topics' retention of 168 h. */
  INBOX_RETENTION_HOURS: Type.Integer({ minimum: 1, default: 192 }),
}

const pruned =
  (client.register.getSingleMetric('trackops_retention_deleted_total') as client.Counter | undefined) ??
  new client.Counter({ name: 'trackops_retention_deleted_total', help: 'Rows deleted because they outlived their retention, by table.', labelNames: ['table'] })

const BATCH = 5_000
const PAUSE_MS = 200

/** Deletes at most `limit` of the oldest inbox rows and resolved dead letters older than `before`; the counts deleted. */
export async function pruneMessagingTables<DB extends MessagingTables>(db: Kysely<DB>, before: Date, limit = BATCH): Promise<{ inbox: number; deadLetters: number }> {
  const inbox = await sql`
    DELETE FROM processed_events WHERE (message_id, consumer_group) IN (
      SELECT message_id, consumer_group FROM processed_events WHERE processed_at < ${before} ORDER BY processed_at LIMIT ${limit})`.execute(db)
  const dead = await sql`
    DELETE FROM dead_letters WHERE id IN (
      SELECT id FROM dead_letters WHERE status IN ('REPLAYED', 'DISCARDED') AND updated_at < ${before} ORDER BY updated_at LIMIT ${limit})`.execute(db)
  const counts = { inbox: Number(inbox.numAffectedRows ?? 0), deadLetters: Number(dead.numAffectedRows ?? 0) }
  if (counts.inbox > 0) pruned.inc({ table: 'processed_events' }, counts.inbox)
  if (counts.deadLetters > 0) pruned.inc({ table: 'dead_letters' }, counts.deadLetters)
  return counts
}

/** The periodic job that keeps the inbox and resolved dead letters within their retention (runService's `jobs`). */
export function messagingRetention<DB extends MessagingTables>(deps: { db: Kysely<DB>; hours: number; now: () => Date; intervalMs?: number }): Job {
  return {
    name: 'inbox retention',
    intervalMs: deps.intervalMs ?? 600_000,
    runAtStart: true,
    run: async (signal) => {
      const counts = await pruneMessagingTables(deps.db, new Date(deps.now().getTime() - deps.hours * 3_600_000))
      const more = counts.inbox === BATCH || counts.deadLetters === BATCH
      // A backlog (the first run after a long time) is deleted batch after batch, with room for the hot path between.
      if (more && !signal.aborted) await sleep(PAUSE_MS, undefined, { signal }).catch(() => {})
      return more
    },
  }
}
