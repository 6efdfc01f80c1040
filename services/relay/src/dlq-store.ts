// Dead letters and parked records of every service database. The relay only changes a letter's status:
// DEAD → REPLAY_REQUESTED (the owning service's consumer runner re-applies it within about a second and marks
// it REPLAYED, or DEAD again with the new error) or DEAD → DISCARDED (the key is unblocked and its parked
// records drain in order). The guarded UPDATE … WHERE status = 'DEAD' makes both safe against races.
import { sql } from 'kysely'
import { fromEach, fromEachSettled, mergePage, type Source } from './sources.ts'

export const dlqStatuses = ['DEAD', 'REPLAY_REQUESTED', 'REPLAYED', 'DISCARDED'] as const
export type DlqStatus = (typeof dlqStatuses)[number]

export interface DlqFilter {
  topic?: string | undefined
  group?: string | undefined
  key?: string | undefined
  status?: DlqStatus | undefined
}

interface LetterRecord {
  id: string
  consumer_group: string
  topic: string
  partition: number
  offset: string
  record_key: string
  record_value: string
  headers: Record<string, string>
  message_id: string | null
  message_type: string | null
  error: string
  attempts: number
  status: DlqStatus
  created_at: Date
  updated_at: Date
  resolved_by: string | null
  parked: number
}

export interface DeadLetter {
  id: string
  source: string
  consumerGroup: string
  topic: string
  partition: number
  offset: string
  key: string
  messageId: string | null
  messageType: string | null
  error: string
  attempts: number
  status: DlqStatus
  /** Records of the same key held back behind this letter's key (group + topic + key). */
  parkedCount: number
  createdAt: string
  updatedAt: string
  resolvedBy: string | null
}

const toLetter = (source: Source, r: LetterRecord): DeadLetter => ({
  id: r.id,
  source: source.name,
  consumerGroup: r.consumer_group,
  topic: r.topic,
  partition: r.partition,
  offset: String(r.offset),
  key: r.record_key,
  messageId: r.message_id,
  messageType: r.message_type,
  error: r.error,
  attempts: r.attempts,
  status: r.status,
  parkedCount: r.parked,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  resolvedBy: r.resolved_by,
})

const newestFirst = (a: DeadLetter, b: DeadLetter) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id)

const parkedOf = sql`(SELECT count(*)::int FROM parked_messages p
                      WHERE p.consumer_group = d.consumer_group AND p.topic = d.topic AND p.record_key = d.record_key)`

function where(filter: DlqFilter) {
  const conditions = [sql`true`]
  if (filter.topic) conditions.push(sql`d.topic = ${filter.topic}`)
  if (filter.group) conditions.push(sql`d.consumer_group = ${filter.group}`)
  if (filter.key) conditions.push(sql`d.record_key = ${filter.key}`)
  if (filter.status) conditions.push(sql`d.status = ${filter.status}`)
  return sql.join(conditions, sql` AND `)
}

export async function listDeadLetters(sources: Source[], filter: DlqFilter, page: number, size: number) {
  const parts = await fromEach(sources, async (source) => {
    const [rows, count] = await Promise.all([
      sql<LetterRecord>`
        SELECT d.id, d.consumer_group, d.topic, d.partition, d."offset", d.record_key, d.record_value, d.headers, d.message_id,
               d.message_type, d.error, d.attempts, d.status, d.created_at, d.updated_at, d.resolved_by, ${parkedOf} AS parked
        FROM dead_letters d WHERE ${where(filter)} ORDER BY d.created_at DESC, d.id LIMIT ${(page + 1) * size}`.execute(source.db),
      sql<{ n: number }>`SELECT count(*)::int AS n FROM dead_letters d WHERE ${where(filter)}`.execute(source.db),
    ])
    return { letters: rows.rows.map((r) => toLetter(source, r)), total: count.rows[0]!.n }
  })
  return { content: mergePage(parts.map((p) => p.value.letters), newestFirst, page, size), total: parts.reduce((n, p) => n + p.value.total, 0) }
}

export interface DeadLetterDetail extends DeadLetter {
  value: unknown
  headers: Record<string, string>
  parked: { seq: number; partition: number; offset: string; messageId: string | null; messageType: string | null; parkedAt: string }[]
}

const PARKED_SHOWN = 100

export async function findDeadLetter(sources: Source[], id: string): Promise<DeadLetterDetail | undefined> {
  const parts = await fromEach(sources, async (source) => {
    const row = (
      await sql<LetterRecord>`
        SELECT d.*, ${parkedOf} AS parked FROM dead_letters d WHERE d.id = ${id}`.execute(source.db)
    ).rows[0]
    if (!row) return undefined
    const parked = await sql<{ seq: number; partition: number; offset: string; headers: Record<string, string>; parked_at: Date }>`
      SELECT seq, partition, "offset", headers, parked_at FROM parked_messages
      WHERE consumer_group = ${row.consumer_group} AND topic = ${row.topic} AND record_key = ${row.record_key}
      ORDER BY seq LIMIT ${PARKED_SHOWN}`.execute(source.db)
    let value: unknown = row.record_value
    try {
      value = JSON.parse(row.record_value)
    } catch {
      // not JSON (that may be why it is dead): shown as the raw string
    }
    return {
      ...toLetter(source, row),
      value,
      headers: row.headers,
      parked: parked.rows.map((p) => ({
        seq: p.seq,
        partition: p.partition,
        offset: String(p.offset),
        messageId: p.headers.id ?? null,
        messageType: p.headers.type ?? null,
        parkedAt: p.parked_at.toISOString(),
      })),
    }
  })
  return parts.find((p) => p.value)?.value
}

export type Resolution = { outcome: 'done'; letter: DeadLetter } | { outcome: 'not-found' } | { outcome: 'conflict'; status: DlqStatus }

/** DEAD → `to`, recording who did it. Anything but DEAD is a conflict (already replayed, discarded, or in progress). */
export async function resolveDeadLetter(sources: Source[], id: string, to: 'REPLAY_REQUESTED' | 'DISCARDED', actor: string): Promise<Resolution> {
  const parts = await fromEach(sources, async (source): Promise<{ letter: DeadLetter } | { status: DlqStatus } | undefined> => {
    const updated = (
      await sql<LetterRecord>`
        UPDATE dead_letters d SET status = ${to}, resolved_by = ${actor}, updated_at = now()
        WHERE d.id = ${id} AND d.status = 'DEAD'
        RETURNING d.*, ${parkedOf} AS parked`.execute(source.db)
    ).rows[0]
    if (updated) return { letter: toLetter(source, updated) }
    const current = (await sql<{ status: DlqStatus }>`SELECT status FROM dead_letters WHERE id = ${id}`.execute(source.db)).rows[0]
    return current ? { status: current.status } : undefined
  })
  const hit = parts.find((p) => p.value)?.value
  if (!hit) return { outcome: 'not-found' }
  return 'letter' in hit ? { outcome: 'done', letter: hit.letter } : { outcome: 'conflict', status: hit.status }
}

/** Requests a replay of every DEAD letter matching the filter; returns how many per source. */
export async function requestReplays(sources: Source[], filter: Omit<DlqFilter, 'status'>, actor: string) {
  const parts = await fromEach(sources, async (source) => {
    const r = await sql<{ id: string }>`
      UPDATE dead_letters d SET status = 'REPLAY_REQUESTED', resolved_by = ${actor}, updated_at = now()
      WHERE ${where({ ...filter, status: 'DEAD' })} RETURNING d.id`.execute(source.db)
    return r.rows.map((row) => row.id)
  })
  return parts.map((p) => ({ source: p.source.name, ids: p.value }))
}

export interface DlqStatsRow {
  source: string
  group: string
  topic: string
  dead: number
  replayRequested: number
  replayed: number
  discarded: number
  parked: number
}

export async function dlqStatsOf(source: Source): Promise<DlqStatsRow[]> {
  const r = await sql<{ consumer_group: string; topic: string; dead: number; replay_requested: number; replayed: number; discarded: number; parked: number }>`
    WITH letters AS (
      SELECT consumer_group, topic,
             count(*) FILTER (WHERE status = 'DEAD')::int AS dead,
             count(*) FILTER (WHERE status = 'REPLAY_REQUESTED')::int AS replay_requested,
             count(*) FILTER (WHERE status = 'REPLAYED')::int AS replayed,
             count(*) FILTER (WHERE status = 'DISCARDED')::int AS discarded
      FROM dead_letters GROUP BY consumer_group, topic),
    parked AS (SELECT consumer_group, topic, count(*)::int AS parked FROM parked_messages GROUP BY consumer_group, topic)
    SELECT coalesce(l.consumer_group, p.consumer_group) AS consumer_group, coalesce(l.topic, p.topic) AS topic,
           coalesce(l.dead, 0) AS dead, coalesce(l.replay_requested, 0) AS replay_requested, coalesce(l.replayed, 0) AS replayed,
           coalesce(l.discarded, 0) AS discarded, coalesce(p.parked, 0) AS parked
    FROM letters l FULL JOIN parked p ON p.consumer_group = l.consumer_group AND p.topic = l.topic
    ORDER BY 1, 2`.execute(source.db)
  return r.rows.map((row) => ({
    source: source.name,
    group: row.consumer_group,
    topic: row.topic,
    dead: row.dead,
    replayRequested: row.replay_requested,
    replayed: row.replayed,
    discarded: row.discarded,
    parked: row.parked,
  }))
}

export const dlqStats = (sources: Source[]) => fromEachSettled(sources, dlqStatsOf)
