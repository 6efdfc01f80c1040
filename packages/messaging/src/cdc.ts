// Raw change-data-capture consumption (Debezium envelopes). These records are facts about rows, not business
// events: their handlers (cache invalidation, the catalog replica, live updates) must be idempotent and fenced
// by row version, so there is no inbox; a record is applied in partition order and its offset committed after.
import type { Logger } from 'pino'
import { subscribe, type KafkaRecordIn, type KafkaSubscription } from './kafka.ts'
import { isInfrastructureError } from '@trackops/runtime'
import { messagingMetrics as m } from './metrics.ts'
import { watchLag } from './lag.ts'

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

export function createChangeConsumer(opts: {
  brokers: string[]
  logger: Logger
  group: string
  topics: string[]
  handle: (change: RowChange) => Promise<void>
  attempts?: number
}) {
  const { logger, group } = opts
  const queues = new Map<string, Promise<void>>()
  let subscription: KafkaSubscription | undefined
  let stopping = false
  let stopLag: (() => void) | undefined

  async function apply(record: KafkaRecordIn) {
    let change: RowChange | null
    try {
      change = parseRowChange(record)
    } catch (error) {
      m.consumed.inc({ group, topic: record.topic, outcome: 'dead_lettered' })
      logger.error({ err: error, group, topic: record.topic, offset: record.offset.toString() }, 'undecodable change record skipped')
      return
    }
    if (!change) return
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

  return {
    group,
    name: group,
    async start() {
      subscription = await subscribe({
        brokers: opts.brokers,
        groupId: group,
        clientId: `${group}-${process.pid}`,
        topics: opts.topics,
        onRecord(record, commit) {
          const key = `${record.topic}:${record.partition}`
          // As in the event consumer: commit after applying, without waiting for the broker's answer.
          const next = (queues.get(key) ?? Promise.resolve())
            .then(() => apply(record))
            .then(() => {
              commit().catch((error) => logger.warn({ err: error, group }, 'offset commit failed; the change will be redelivered'))
            })
            .catch((error) => logger.warn({ err: error, group }, 'change record left uncommitted'))
          queues.set(key, next)
        },
        onError: (error) => logger.error({ err: error, group }, 'change stream error'),
      })
      stopLag = watchLag({ brokers: opts.brokers, group, topics: opts.topics, logger })
    },
    async stop() {
      stopping = true
      stopLag?.()
      subscription?.pause()
      await Promise.allSettled([...queues.values()])
      await subscription?.close()
    },
  }
}
