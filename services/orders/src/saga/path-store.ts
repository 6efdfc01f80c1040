// SQL for messaging_paths (one row per saga participant) and the deadline extension when a path comes back.
// Every writer of a path row changes it under that row's lock, so the copies of the order service agree on one
// probe per interval and on one start and one end of each outage. The sweeper locks the path row before any saga
// row; the other writers of saga rows never touch a path row in the same transaction, so they cannot deadlock.
import { sql, type Selectable } from 'kysely'
import type { Db, MessagingPathsTable } from '../order-store.ts'
import { stepsWaitingOn, type Participant, type PathRecord } from './messaging-path.ts'

export interface PathView extends PathRecord {
  probeSentAt: Date | null
  answeredAt: Date | null
  lastOutageSeconds: number | null
  lastRecoveredAt: Date | null
}

const toPath = (r: Selectable<MessagingPathsTable>): PathView => ({
  participant: r.participant,
  probingSince: r.probing_since,
  answeredSentAt: r.answered_sent_at,
  downSince: r.down_since,
  probeSentAt: r.probe_sent_at,
  answeredAt: r.answered_at,
  lastOutageSeconds: r.last_outage_seconds,
  lastRecoveredAt: r.last_recovered_at,
})

export async function listPaths(db: Db): Promise<PathView[]> {
  const rows = await db.selectFrom('messaging_paths').selectAll().orderBy('participant').execute()
  return rows.map(toPath)
}

/** Locks a path row until the transaction ends; waits for a sweeper or prober that holds it. */
export async function lockPath(tx: Db, participant: Participant): Promise<PathView | null> {
  const row = await tx.selectFrom('messaging_paths').selectAll().where('participant', '=', participant).forUpdate().executeTakeFirst()
  return row ? toPath(row) : null
}

/**
 * Takes the turn to probe a participant: true when no copy sent a probe within the interval (the caller then
 * enqueues one in the same transaction). Concurrent callers queue on the row and see each other's send, even from
 * a copy whose clock is a little behind; a send time more than an interval ahead (a clock that stepped back) does
 * not stop probing.
 */
export async function claimProbeTurn(tx: Db, participant: Participant, now: Date, intervalMs: number): Promise<boolean> {
  const row = await tx
    .updateTable('messaging_paths')
    .set((eb) => ({ probe_sent_at: now, probing_since: eb.fn.coalesce('probing_since', sql<Date>`${now}::timestamptz`) }))
    .where('participant', '=', participant)
    .where((eb) =>
      eb.or([
        eb('probe_sent_at', 'is', null),
        eb('probe_sent_at', '<=', new Date(now.getTime() - intervalMs)),
        eb('probe_sent_at', '>', new Date(now.getTime() + intervalMs)),
      ]),
    )
    .returning('participant')
    .executeTakeFirst()
  return row !== undefined
}

/** Records an answered probe; an older answer arriving late (or again) changes nothing. */
export async function recordProbeAnswer(tx: Db, participant: Participant, sentAt: Date, now: Date): Promise<boolean> {
  const row = await tx
    .updateTable('messaging_paths')
    .set({ answered_sent_at: sentAt, answered_at: now })
    .where('participant', '=', participant)
    .where((eb) => eb.or([eb('answered_sent_at', 'is', null), eb('answered_sent_at', '<', sentAt)]))
    .returning('participant')
    .executeTakeFirst()
  return row !== undefined
}

/** The path counts as down from `since` (the sweeper holds the row lock). */
export async function markPathDown(tx: Db, participant: Participant, since: Date): Promise<void> {
  await tx.updateTable('messaging_paths').set({ down_since: since }).where('participant', '=', participant).execute()
}

/**
 * The path is back: each saga still waiting on the participant gets its deadline pushed back by the part of the
 * outage it spent waiting — from the start of the outage, or from when its command was sent if that was later
 * (updated_at: a waiting saga last changed when it sent the command it waits on) — and the outage is closed, in
 * one transaction under the path row's lock, so it happens once however many sweepers run. Returns how many
 * sagas were extended.
 */
export async function closeOutage(tx: Db, participant: Participant, since: Date, now: Date): Promise<number> {
  const extended = await tx
    .updateTable('saga_instances')
    .set((eb) => ({
      step_deadline: sql<Date>`${eb.ref('step_deadline')} + GREATEST(interval '0', ${now}::timestamptz - GREATEST(${since}::timestamptz, ${eb.ref('updated_at')}))`,
      version: sql<number>`${eb.ref('version')} + 1`,
    }))
    .where('status', 'in', ['RUNNING', 'COMPENSATING'])
    .where('step_deadline', 'is not', null)
    .where('current_step', 'in', stepsWaitingOn(participant))
    .executeTakeFirst()
  await tx
    .updateTable('messaging_paths')
    .set({ down_since: null, last_outage_seconds: Math.max(0, (now.getTime() - since.getTime()) / 1000), last_recovered_at: now })
    .where('participant', '=', participant)
    .execute()
  return Number(extended.numUpdatedRows)
}
