// Raw change-data-capture consumption (Debezium envelopes). These records are facts about rows, not business
// events: their handlers (cache invalidation, the catalog replica, live updates) must be idempotent and fenced
// by row version, so there is no inbox. Records come in batches (batcher.ts): the changes of one row are applied in
// offset order, different rows side by side, and the batch's offsets are committed once all of them are applied.
import type { Logger } from 'pino'
import type { KafkaRecordIn } from './kafka.ts'
import { commitOffsets, createBatchedGroup, defaultBatch, type BatchPolicy, type Pending } from './batcher.ts'
import { isInfrastructureError } from '@trackops/runtime'
import { messagingMetrics as m } from './metrics.ts'

export interface RowChange<Row = Record<string, unknown>> {
  op: 'c' | 'u' | 'd' | 'r'
  before: Row | null
  after: Row | null
  /** Commit time of the source transaction (ms since epoch). */
  committedAt: number
  lsn: number | null
  topic: string
  key: string
}

export function parseRowChange(record: Pick<KafkaRecordIn, 'topic' | 'key' | 'value'>): RowChange | null {
  if (!record.value) return null // tombstone
  const v = JSON.parse(record.value) as {
    op: RowChange['op']
    before: Record<string, unknown> | null
    after: Record<string, unknown> | null
    source?: { ts_ms?: number; lsn?: number }
    ts_ms?: number
  }
  return {
    op: v.op,
    before: v.before ?? null,
    after: v.after ?? null,
    committedAt: v.source?.ts_ms ?? v.ts_ms ?? Date.now(),
    lsn: v.source?.lsn ?? null,
    topic: record.topic,
    key: record.key,
  }
}

const ROWS_AT_ONCE = 4

export function createChangeConsumer(opts: {
  brokers: string[]
  logger: Logger
  group: string
  topics: string[]
  handle: (change: RowChange) => Promise<void>
  attempts?: number
  batch?: BatchPolicy
  /**
   * Only the latest change of a row in a batch is applied: for handlers that need the row as it is now (a replica,
   * a cache), not every step it took. A burst of stock updates to one product then costs one write, not one each.
   */
  latestOnly?: boolean
}) {
  const { logger, group } = opts
  let stopping = false

  async function apply(record: KafkaRecordIn, change: RowChange) {
    for (let attempt = 1; ; attempt++) {
      try {
        await opts.handle(change)
        m.consumed.inc({ group, topic: record.topic, outcome: 'applied' })
        m.endToEndSeconds.observe({ group, topic: record.topic }, Math.max(0, Date.now() - change.committedAt) / 1000)
        return
      } catch (error) {
        if (stopping) throw error
        if (!isInfrastructureError(error) && attempt >= (opts.attempts ?? 5)) {
          // Counted and logged loudly; the row's next change or the cache TTL repairs what this one missed.
          m.consumed.inc({ group, topic: record.topic, outcome: 'dead_lettered' })
          logger.error({ err: error, group, topic: record.topic, offset: record.offset.toString() }, 'change record failed; skipped')
          return
        }
        m.retried.inc({ group, topic: record.topic })
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)))
      }
    }
  }

  /** The changes of a batch, by row (topic and key) in offset order; rows are applied side by side, a row's changes in order. */
  async function applyBatch(batch: Pending[]) {
    const byRow = new Map<string, { record: KafkaRecordIn; change: RowChange }[]>()
    for (const { record } of batch) {
      let change: RowChange | null
      try {
        change = parseRowChange(record)
      } catch (error) {
        m.consumed.inc({ group, topic: record.topic, outcome: 'dead_lettered' })
        logger.error({ err: error, group, topic: record.topic, offset: record.offset.toString() }, 'undecodable change record skipped')
        continue
      }
      if (!change) continue
      const row = `${record.topic}\u0000${record.key}`
      const changes = byRow.get(row) ?? []
      if (opts.latestOnly && changes.length > 0) {
        m.consumed.inc({ group, topic: record.topic, outcome: 'superseded' })
        changes.length = 0
      }
      changes.push({ record, change })
      byRow.set(row, changes)
    }
    // A few rows at a time: the handlers share the service's connection pool with its HTTP requests.
    const rows = [...byRow.values()]
    let next = 0
    const worker = async () => {
      while (next < rows.length) for (const { record, change } of rows[next++]!) await apply(record, change)
    }
    await Promise.all(Array.from({ length: Math.min(ROWS_AT_ONCE, rows.length) }, worker))
    commitOffsets(batch, logger, group)
  }

  const batches = createBatchedGroup({ brokers: opts.brokers, group, topics: opts.topics, logger, policy: opts.batch ?? defaultBatch, apply: applyBatch, stream: 'change stream' })

  return {
    group,
    name: group,
    async start() {
      stopping = false
      await batches.start()
    },
    async stop() {
      stopping = true
      await batches.stop()
    },
  }
}
