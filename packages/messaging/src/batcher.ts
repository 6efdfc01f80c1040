// Batches of records for one consumer group (DESIGN §7), shared by the event runner (consumer.ts) and the change
// consumer (cdc.ts). Records wait in arrival order (offset order within a partition) until no batch is in flight
// and either `maxRecords` are there or the first has waited `maxWaitMs`. One batch at a time: a partition is never
// in two batches at once, and a key's records are applied in offset order.
import type { Logger } from 'pino'
import { subscribe, type KafkaRecordIn, type KafkaSubscription } from './kafka.ts'
import { watchLag } from './lag.ts'

/** How many records one batch holds at most, and how long the first record of a batch waits for company. */
export interface BatchPolicy {
  maxRecords: number
  maxWaitMs: number
}
export const defaultBatch: BatchPolicy = { maxRecords: 200, maxWaitMs: 5 }

export interface Pending {
  record: KafkaRecordIn
  commit: () => Promise<void>
}

export interface Batcher {
  /** The subscription's onRecord. */
  push(record: KafkaRecordIn, commit: () => Promise<void>): void
  /** Waits for the batch in flight; what is still buffered was never applied and, uncommitted, comes again. */
  stop(): Promise<void>
}

export function createBatcher(opts: {
  policy: BatchPolicy
  /** Applies a batch; resolves once its records may be committed (it commits them itself: `commitOffsets`). */
  apply: (batch: Pending[]) => Promise<void>
  subscription: () => KafkaSubscription | undefined
  logger: Logger
  group: string
}): Batcher {
  const { policy, logger, group } = opts
  // Backpressure: fetching pauses while this many records wait, so memory stays bounded.
  const pauseAt = Math.max(500, 2 * policy.maxRecords)
  const resumeAt = Math.floor(pauseAt / 5)
  let buffer: Pending[] = []
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> | undefined
  let stopping = false

  function flush() {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (inFlight || buffer.length === 0 || stopping) return
    const batch = buffer.slice(0, policy.maxRecords)
    buffer = buffer.slice(batch.length)
    inFlight = opts
      .apply(batch)
      .catch((error) => {
        // Only reached when stopping mid-batch: its records are redelivered and deduplicated.
        logger.warn({ err: error, group, records: batch.length }, 'batch left uncommitted')
      })
      .finally(() => {
        inFlight = undefined
        if (buffer.length <= resumeAt && !stopping) opts.subscription()?.resume()
        // Records that arrived meanwhile have waited long enough: they go at once.
        flush()
      })
  }

  return {
    push(record, commit) {
      buffer.push({ record, commit })
      if (buffer.length >= pauseAt) opts.subscription()?.pause()
      if (inFlight) return
      if (buffer.length >= policy.maxRecords) flush()
      else timer ??= setTimeout(flush, policy.maxWaitMs)
    },
    async stop() {
      stopping = true
      if (timer) clearTimeout(timer)
      await inFlight
      buffer = []
    },
  }
}

/** Commits the last offset of each partition of `batch`, not awaited: a lost commit means a redelivery, deduplicated. */
export function commitOffsets(batch: Pending[], logger: Logger, group: string): void {
  const last = new Map<string, Pending>()
  for (const p of batch) last.set(`${p.record.topic}:${p.record.partition}`, p)
  for (const p of last.values()) {
    p.commit().catch((error) => logger.warn({ err: error, group, topic: p.record.topic, partition: p.record.partition }, 'offset commit failed; the record will be redelivered and deduplicated'))
  }
}

/**
 * A consumer group reading its topics in batches: the subscription, its batcher and its lag gauge, started and
 * stopped together. stop() pauses fetching, waits for the batch in flight, then leaves the group.
 */
export function createBatchedGroup(opts: {
  brokers: string[]
  group: string
  topics: string[]
  logger: Logger
  policy: BatchPolicy
  apply: (batch: Pending[]) => Promise<void>
  /** How its errors are logged: "consumer stream", "change stream". */
  stream: string
}): { start(): Promise<void>; stop(): Promise<void> } {
  const { brokers, group, topics, logger } = opts
  let subscription: KafkaSubscription | undefined
  let stopLag: (() => void) | undefined
  const batcher = createBatcher({ policy: opts.policy, apply: opts.apply, subscription: () => subscription, logger, group })
  return {
    async start() {
      subscription = await subscribe({
        brokers,
        groupId: group,
        clientId: `${group}-${process.pid}`,
        topics,
        onRecord: batcher.push,
        onError: (error) => logger.error({ err: error, group }, `${opts.stream} error`),
      })
      stopLag = watchLag({ brokers, group, topics, logger })
    },
    async stop() {
      stopLag?.()
      subscription?.pause()
      await batcher.stop()
      await subscription?.close()
    },
  }
}
