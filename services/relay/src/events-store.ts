// Reads over the outbox tables of every service database, and "publish now" for the outbox strategy.
// published_at/attempts/last_error are written only by the polling relay (publishBatch): under the debezium
// strategy rows stay unpublished here until pruned, and publishing progress is the replication slot's lag.
import { sql } from 'kysely'
import { publishBatch, type KafkaProducer, type OutboxRow } from '@trackops/messaging'
import { fromEach, fromEachSettled, mergePage, type Source } from './sources.ts'

export interface OutboxEvent {
  id: string
  source: string
  seq: number
  topic: string
  aggregateType: string
  aggregateId: string
  eventType: string
  payload: unknown
  correlationId: string
  traceparent: string
  createdAt: string
  published: boolean
  publishedAt: string | null
  attempts: number
  lastError: string | null
}

const columns = sql`seq, id, topic, aggregatetype, aggregateid, type, payload, correlation_id, traceparent, created_at, published_at, attempts, last_error`

function parsePayload(payload: string): unknown {
  try {
    return JSON.parse(payload)
  } catch {
    return payload
  }
}

const toEvent = (source: Source, r: OutboxRow): OutboxEvent => ({
  id: r.id,
  source: source.name,
  seq: r.seq,
  topic: r.topic,
  aggregateType: r.aggregatetype,
  aggregateId: r.aggregateid,
  eventType: r.type,
  payload: parsePayload(r.payload),
  correlationId: r.correlation_id,
  traceparent: r.traceparent,
  createdAt: r.created_at.toISOString(),
  published: r.published_at !== null,
  publishedAt: r.published_at?.toISOString() ?? null,
  attempts: r.attempts,
  lastError: r.last_error,
})

const oldestFirst = (a: OutboxEvent, b: OutboxEvent) => a.createdAt.localeCompare(b.createdAt) || a.source.localeCompare(b.source) || a.seq - b.seq

export interface OutboxStats {
  source: string
  unpublished: number
  published: number
  /** Unpublished rows the broker already refused at least once. */
  failed: number
  oldestUnpublishedAgeSeconds: number | null
}

export async function outboxStatsOf(source: Source): Promise<OutboxStats> {
  const r = await sql<{ unpublished: number; published: number; failed: number; oldest: number | null }>`
    SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished,
           count(*) FILTER (WHERE published_at IS NOT NULL)::int AS published,
           count(*) FILTER (WHERE published_at IS NULL AND attempts > 0)::int AS failed,
           extract(epoch FROM now() - min(created_at) FILTER (WHERE published_at IS NULL))::float8 AS oldest
    FROM outbox`.execute(source.db)
  const row = r.rows[0]!
  return {
    source: source.name,
    unpublished: row.unpublished,
    published: row.published,
    failed: row.failed,
    oldestUnpublishedAgeSeconds: row.oldest === null ? null : Math.max(0, Math.round(row.oldest * 10) / 10),
  }
}

export const outboxStats = (sources: Source[]) => fromEachSettled(sources, outboxStatsOf)

export interface Retained {
  /** Rows in the outbox table: under debezium all of them were already read from the WAL; they wait for pruning. */
  rows: number
  oldestAgeSeconds: number | null
}

export async function retainedOf(source: Source): Promise<Retained> {
  const r = await sql<{ rows: number; oldest: number | null }>`
    SELECT count(*)::int AS rows, extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM outbox`.execute(source.db)
  const row = r.rows[0]!
  return { rows: row.rows, oldestAgeSeconds: row.oldest === null ? null : Math.max(0, Math.round(row.oldest * 10) / 10) }
}

export async function listUnpublished(sources: Source[], page: number, size: number) {
  const parts = await fromEach(sources, async (source) => {
    const [rows, count] = await Promise.all([
      sql<OutboxRow>`SELECT ${columns} FROM outbox WHERE published_at IS NULL ORDER BY created_at, seq LIMIT ${(page + 1) * size}`.execute(source.db),
      sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`.execute(source.db),
    ])
    return { events: rows.rows.map((r) => toEvent(source, r)), total: count.rows[0]!.n }
  })
  return { content: mergePage(parts.map((p) => p.value.events), oldestFirst, page, size), total: parts.reduce((n, p) => n + p.value.total, 0) }
}

export async function listOfType(sources: Source[], type: string, page: number, size: number) {
  const parts = await fromEach(sources, async (source) => {
    const [rows, count] = await Promise.all([
      sql<OutboxRow>`SELECT ${columns} FROM outbox WHERE type = ${type} ORDER BY created_at, seq LIMIT ${(page + 1) * size}`.execute(source.db),
      sql<{ n: number }>`SELECT count(*)::int AS n FROM outbox WHERE type = ${type}`.execute(source.db),
    ])
    return { events: rows.rows.map((r) => toEvent(source, r)), total: count.rows[0]!.n }
  })
  return { content: mergePage(parts.map((p) => p.value.events), oldestFirst, page, size), total: parts.reduce((n, p) => n + p.value.total, 0) }
}

/** Every retained event of one aggregate (an order, or a product for LOW_STOCK), in the order they were written. */
export async function listOfAggregate(sources: Source[], aggregateId: string, limit: number) {
  const parts = await fromEach(sources, async (source) => {
    const rows = await sql<OutboxRow>`SELECT ${columns} FROM outbox WHERE aggregateid = ${aggregateId} ORDER BY seq LIMIT ${limit}`.execute(source.db)
    return rows.rows.map((r) => toEvent(source, r))
  })
  return parts.flatMap((p) => p.value).sort(oldestFirst).slice(0, limit)
}

export async function findEvent(sources: Source[], id: string): Promise<{ event: OutboxEvent; source: Source } | undefined> {
  const parts = await fromEach(sources, async (source) => {
    const r = await sql<OutboxRow>`SELECT ${columns} FROM outbox WHERE id = ${id}`.execute(source.db)
    return r.rows[0] ? toEvent(source, r.rows[0]) : undefined
  })
  const hit = parts.find((p) => p.value)
  return hit?.value ? { event: hit.value, source: hit.source } : undefined
}

/**
 * Publishes until the row is published or a pass publishes nothing (its bucket is held by another relay pass,
 * which publishes it). Rows go out in per-bucket seq order, so older rows of the same source go first.
 */
export async function publishUntil(source: Source, producer: KafkaProducer, id: string, batchSize: number, maxPasses = 20) {
  let publishedCount = 0
  for (let pass = 0; pass < maxPasses; pass++) {
    const row = (await sql<{ published_at: Date | null }>`SELECT published_at FROM outbox WHERE id = ${id}`.execute(source.db)).rows[0]
    if (!row || row.published_at) break
    const n = await publishBatch(source, producer, batchSize)
    publishedCount += n
    if (n === 0) break
  }
  return publishedCount
}

/**
 * Publishes every row of one source that nothing marked published, pass after pass until none is left; the
 * recovery of a lost replication slot (infra/stack.sh slots-recover). Under debezium that is every retained row:
 * the ones Debezium did read arrive a second time and consumers drop them by message id, the ones it never read
 * (written while its slot was lost) arrive for the first time.
 */
export async function publishRemaining(source: Source, producer: KafkaProducer, batchSize: number, onPass?: (published: number) => void) {
  let published = 0
  let passes = 0
  for (;;) {
    const n = await publishBatch(source, producer, batchSize)
    passes++
    published += n
    onPass?.(published)
    if (n === 0) return { published, passes }
  }
}

/** One publishBatch pass over every source; a source whose pass fails is reported, the others still run. */
export async function publishAll(sources: Source[], producer: KafkaProducer, batchSize: number) {
  return fromEachSettled(sources, (source) => publishBatch(source, producer, batchSize))
}
