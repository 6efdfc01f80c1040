// SQL for messaging_paths (one row per saga participant) and the deadline extension when a path comes back.
// Every writer of a path row changes it under that row's lock, so the copies of the order service agree on one
// probe per interval and on one start and one end of each outage. The sweeper locks the path row before any saga
// row; the other writers of saga rows never touch a path row in the same transaction, so they cannot deadlock.
import { sql, type Kysely } from 'kysely'
import { stepsWaitingOn, type Participant, type PathRecord } from './messaging-path.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tx = Kysely<any>

interface PathRow {
  participant: Participant
  probing_since: Date | null
  probe_sent_at: Date | null
  answered_sent_at: Date | null
  answered_at: Date | null
  down_since: Date | null
  last_outage_seconds: number | null
  last_recovered_at: Date | null
}

export interface PathView extends PathRecord {
  probeSentAt: Date | null
  answeredAt: Date | null
  lastOutageSeconds: number | null
  lastRecoveredAt: Date | null
}

const toPath = (r: PathRow): PathView => ({
  participant: r.participant,
  probingSince: r.probing_since,
  answeredSentAt: r.answered_sent_at,
  downSince: r.down_since,
  probeSentAt: r.probe_sent_at,
  answeredAt: r.answered_at,
  lastOutageSeconds: r.last_outage_seconds,
  lastRecoveredAt: r.last_recovered_at,
})

export async function listPaths(db: Tx): Promise<PathView[]> {
  const r = await sql<PathRow>`SELECT * FROM messaging_paths ORDER BY participant`.execute(db)
  return r.rows.map(toPath)
}

/** Locks a path row until the transaction ends; waits for a sweeper or prober that holds it. */
export async function lockPath(tx: Tx, participant: Participant): Promise<PathView | null> {
  const r = await sql<PathRow>`SELECT * FROM messaging_paths WHERE participant = ${participant} FOR UPDATE`.execute(tx)
  const row = r.rows[0]
  return row ? toPath(row) : null
}

/**
 * Takes the turn to probe a participant: true when no copy sent a probe within the interval (the caller then
 * enqueues one in the same transaction). Concurrent callers queue on the row and see each other's send, even from
 * a copy whose clock is a little behind; a send time more than an interval ahead (a clock that stepped back) does
 * not stop probing.
 */
export async function claimProbeTurn(tx: Tx, participant: Participant, now: Date, intervalMs: number): Promise<boolean> {
  const r = await sql`
    UPDATE messaging_paths SET probe_sent_at = ${now}, probing_since = COALESCE(probing_since, ${now})
    WHERE participant = ${participant}
      AND (probe_sent_at IS NULL OR probe_sent_at <= ${new Date(now.getTime() - intervalMs)} OR probe_sent_at > ${new Date(now.getTime() + intervalMs)})
    RETURNING 1`.execute(tx)
  return r.rows.length > 0
}

/** Records an answered probe; an older answer arriving late (or again) changes nothing. */
export async function recordProbeAnswer(tx: Tx, participant: Participant, sentAt: Date, now: Date): Promise<boolean> {
  const r = await sql`
    UPDATE messaging_paths SET answered_sent_at = ${sentAt}, answered_at = ${now}
    WHERE participant = ${participant} AND (answered_sent_at IS NULL OR answered_sent_at < ${sentAt})
    RETURNING 1`.execute(tx)
  return r.rows.length > 0
}

/** The path counts as down from `since` (the sweeper holds the row lock). */
export async function markPathDown(tx: Tx, participant: Participant, since: Date): Promise<void> {
  await sql`UPDATE messaging_paths SET down_since = ${since} WHERE participant = ${participant}`.execute(tx)
}

/**
 * The path is back: each saga still waiting on the participant gets its deadline pushed back by the part of the
 * outage it spent waiting — from the start of the outage, or from when its command was sent if that was later
 * (updated_at: a waiting saga last changed when it sent the command it waits on) — and the outage is closed, in
 * one transaction under the path row's lock, so it happens once however many sweepers run. Returns how many
 * sagas were extended.
 */
export async function closeOutage(tx: Tx, participant: Participant, since: Date, now: Date): Promise<number> {
  const extended = await sql`
    UPDATE saga_instances
    SET step_deadline = step_deadline + GREATEST(interval '0', ${now}::timestamptz - GREATEST(${since}::timestamptz, updated_at)),
        version = version + 1
    WHERE status IN ('RUNNING', 'COMPENSATING') AND step_deadline IS NOT NULL
      AND current_step = ANY(${stepsWaitingOn(participant)}::text[])
    RETURNING 1`.execute(tx)
  await sql`
    UPDATE messaging_paths
    SET down_since = NULL, last_outage_seconds = ${Math.max(0, (now.getTime() - since.getTime()) / 1000)}, last_recovered_at = ${now}
    WHERE participant = ${participant}`.execute(tx)
  return extended.rows.length
}
