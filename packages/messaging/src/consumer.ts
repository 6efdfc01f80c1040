// The one consumer runner (DESIGN §2, §7). Delivery is at-least-once; effects are once because the inbox rows
// (processed_events) commit in the same transaction as the handlers' writes and outbox rows. Records come in
// batches (batcher.ts): one transaction claims the inbox rows of a whole batch in one statement, applies the
// records in offset order (handleBatch, or handle one after another), writes their outbox rows in one statement
// and commits; the offsets are committed only after that. When a batch fails it is rolled back and applied again
// one record at a time, so retries and dead letters stay per record. Once a record is dead-lettered, later records
// with its key are parked until an operator replays or discards it.
import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { dlqTopic, isTransient, validateMessage, type AnyMessage } from '@trackops/contracts'
import type { KafkaProducer, KafkaRecordIn } from './kafka.ts'
import { messagingMetrics as m } from './metrics.ts'
import type { MessageContext } from './envelope.ts'
import type { MessagingTables } from './tables.ts'
import { collectOutbox, flushOutbox } from './outbox.ts'
import { commitOffsets, createBatchedGroup, defaultBatch, type BatchPolicy, type Pending } from './batcher.ts'
import { createResolver } from './resolver.ts'
import { contextFromHeaders, isInfrastructureError, withSpan } from '@trackops/runtime'

/** Thrown by a handler when retrying cannot help: the record goes to the dead-letter topic at once. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PermanentError'
  }
}

export interface RetryPolicy {
  attempts: number
  initialMs: number
  factor: number
  maxMs: number
}
export const defaultRetry: RetryPolicy = { attempts: 3, initialMs: 1_000, factor: 2, maxMs: 10_000 }


export interface HandlerContext extends MessageContext {
  log: Logger
  headers: Record<string, string>
  /** Broker timestamp of the record (ms). */
  recordTimestamp: number
}
/** Runs inside the transaction that inserts the inbox row; `tx` is the service's own database type. */
export type MessageHandler<DB extends MessagingTables = MessagingTables> = (tx: Kysely<DB>, message: AnyMessage, ctx: HandlerContext) => Promise<void>

/** A record of a batch, decoded and claimed in the inbox. */
export interface BatchItem {
  message: AnyMessage
  ctx: HandlerContext
}
/**
 * Applies the claimed records of a batch, in the batch's transaction. Records of one key come in offset order and
 * must be applied in that order. A throw rolls the whole batch back; the runner then applies its records one at
 * a time (through `handle`), so retries and dead letters keep their per-record meaning.
 */
export type BatchHandler<DB extends MessagingTables = MessagingTables> = (tx: Kysely<DB>, items: BatchItem[]) => Promise<void>

/** Runs the work of one record of a batch inside the record's trace (its span is the parent of what it enqueues). */
export const inRecordSpan = <T>(item: BatchItem, fn: () => Promise<T>): Promise<T> =>
  withSpan(`${item.message.type} process`, 'consumer', contextFromHeaders(item.ctx.headers), fn)

export interface ConsumerOptions<DB extends MessagingTables> {
  db: Kysely<DB>
  brokers: string[]
  producer: KafkaProducer
  logger: Logger
  group: string
  topics: string[]
  handle: MessageHandler<DB>
  /** Set-based application of a batch; without it the records of a batch go through `handle` one after another. */
  handleBatch?: BatchHandler<DB>
  batch?: BatchPolicy
  retry?: RetryPolicy
  /** How often parked records and replay requests are looked for. */
  resolveEveryMs?: number
}

export interface ConsumerRunner {
  start(): Promise<void>
  /** Stops fetching and waits for in-flight records to finish (their offsets are committed). */
  stop(): Promise<void>
  /** Applies requested replays and drains parked records whose key is no longer blocked; returns how many. */
  resolve(): Promise<number>
  readonly group: string
  /** The group: what runService names it by. */
  readonly name: string
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

/** A record's value as a message, or why it is not one (a permanent error: retrying cannot help). */
function decodeValue(value: string): AnyMessage | PermanentError {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return new PermanentError('value is not valid JSON')
  }
  const checked = validateMessage(parsed)
  return checked.ok ? checked.message : new PermanentError(`schema: ${checked.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
}

type Outcome = 'applied' | 'duplicate' | 'parked'
type Decoded = { record: KafkaRecordIn; message: AnyMessage }

export function createConsumer<DB extends MessagingTables>(opts: ConsumerOptions<DB>): ConsumerRunner {
  const { db, group, logger } = opts
  const retry = opts.retry ?? defaultRetry
  let resolver: NodeJS.Timeout | undefined
  let stopping = false

  const contextFor = (message: AnyMessage, record: Pick<KafkaRecordIn, 'headers' | 'timestamp'>): HandlerContext => ({
    correlationId: message.correlationId,
    causationId: message.id,
    headers: record.headers,
    recordTimestamp: Number(record.timestamp),
    log: logger.child({ correlationId: message.correlationId, messageId: message.id, messageType: message.type, group }),
  })

  /** Inbox insert + handler in one transaction; false when this group already applied the message. */
  async function applyInTx(tx: Kysely<DB>, message: AnyMessage, record: KafkaRecordIn): Promise<boolean> {
    const [outcome] = await claimBatch(tx, [{ record, message }], false)
    if (outcome === 'duplicate') return false
    await opts.handle(tx, message, contextFor(message, record))
    return true
  }

  async function deadLetter(record: KafkaRecordIn, error: string, attempts: number, message?: AnyMessage) {
    const id = randomUUID()
    const inserted = await sql`
      INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers,
                                message_id, message_type, error, attempts)
      VALUES (${id}, ${group}, ${record.topic}, ${record.partition}, ${record.offset.toString()}, ${record.key},
              ${record.value}, ${JSON.stringify(record.headers)}, ${message?.id ?? record.headers.id ?? null},
              ${message?.type ?? record.headers.type ?? null}, ${error.slice(0, 4000)}, ${attempts})
      ON CONFLICT (consumer_group, topic, partition, "offset", md5(record_value)) DO NOTHING RETURNING 1`.execute(db)
    m.consumed.inc({ group, topic: record.topic, outcome: 'dead_lettered' })
    logger.error({ group, topic: record.topic, partition: record.partition, offset: record.offset.toString(), error, attempts, correlationId: record.headers.correlationId }, 'record dead-lettered')
    if (inserted.rows.length === 0) return
    // The table row is the durable dead letter; the .dlq topic copy is for outside tools, so a broker
    // failure here is logged rather than blocking the partition.
    await opts.producer
      .send([{
        topic: dlqTopic(record.topic),
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          'x-dead-letter-id': id,
          'x-error': error.slice(0, 1000),
          'x-attempts': String(attempts),
          'x-consumer-group': group,
          'x-original-topic': record.topic,
          'x-original-partition': String(record.partition),
          'x-original-offset': record.offset.toString(),
        },
      }])
      .catch((e) => logger.warn({ err: e, group }, 'could not copy dead letter to its .dlq topic'))
  }

  /** Metrics of a record once its transaction committed (`seconds`: that transaction's time). */
  function observed({ record, message }: Decoded, outcome: Outcome, seconds: number) {
    m.consumed.inc({ group, topic: record.topic, outcome })
    m.handleSeconds.observe({ group, topic: record.topic }, seconds)
    m.endToEndSeconds.observe({ group, topic: record.topic }, Math.max(0, Date.now() - Number(record.timestamp)) / 1000)
    if (outcome === 'parked') logger.warn({ group, topic: record.topic, correlationId: message.correlationId, messageId: message.id }, 'record parked behind a dead letter of its key')
  }

  /** The one-at-a-time path: one transaction for one record, with its retries and, in the end, its dead letter. */
  async function processRecord(record: KafkaRecordIn): Promise<void> {
    const started = process.hrtime.bigint()
    const message = decodeValue(record.value)
    if (message instanceof Error) return deadLetter(record, message.message, 1)
    for (let attempt = 1; ; attempt++) {
      try {
        const [outcome = 'applied'] = await db.transaction().execute((tx) => applyInTransaction(tx, [{ record, message }]))
        observed({ record, message }, outcome, Number(process.hrtime.bigint() - started) / 1e9)
        return
      } catch (error) {
        if (isInfrastructureError(error)) {
          if (stopping) throw error
          logger.warn({ err: error, group }, 'database unavailable; retrying the record')
          await sleep(Math.min(retry.maxMs, retry.initialMs * 2))
          attempt--
          continue
        }
        if (error instanceof PermanentError || attempt >= retry.attempts) {
          return deadLetter(record, describe(error), attempt, message)
        }
        m.retried.inc({ group, topic: record.topic })
        logger.warn({ err: error, group, attempt, correlationId: message.correlationId }, 'handler failed; retrying')
        await sleep(Math.min(retry.maxMs, retry.initialMs * retry.factor ** (attempt - 1)))
      }
    }
  }

  // Batches (DESIGN §7): one transaction applies the records of a batch.
  const batches = createBatchedGroup({ brokers: opts.brokers, group, topics: opts.topics, logger, policy: opts.batch ?? defaultBatch, apply: applyBatch, stream: 'consumer stream' })

  async function applyOneByOne(batch: Pending[]) {
    for (const p of batch) {
      await processRecord(p.record)
      commitOffsets([p], logger, group)
    }
  }

  async function applyBatch(batch: Pending[]): Promise<void> {
    const items: Decoded[] = []
    for (const { record } of batch) {
      const message = decodeValue(record.value)
      // A record that is not a valid message is dead-lettered on the one-at-a-time path, in its place in the order.
      if (message instanceof Error || batch.length === 1) return applyOneByOne(batch)
      items.push({ record, message })
    }
    for (;;) {
      const started = process.hrtime.bigint()
      try {
        const outcomes = await db.transaction().execute((tx) => applyInTransaction(tx, items))
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        m.batchRecords.observe({ group }, items.length)
        m.batchSeconds.observe({ group }, seconds)
        items.forEach((item, i) => observed(item, outcomes[i] ?? 'applied', seconds))
        commitOffsets(batch, logger, group)
        return
      } catch (error) {
        if (isInfrastructureError(error)) {
          if (stopping) throw error
          logger.warn({ err: error, group }, 'database unavailable; retrying the batch')
          await sleep(Math.min(retry.maxMs, retry.initialMs * 2))
          continue
        }
        // One bad record must not hold back the others: each record is applied on its own, with its retries.
        m.batchFallbacks.inc({ group })
        logger.warn({ err: error, group, records: items.length }, 'batch failed; applying its records one at a time')
        return applyOneByOne(batch)
      }
    }
  }

  /** The batch's inbox claim (one statement), parked records (one statement), then the handlers. */
  async function applyInTransaction(tx: Kysely<DB>, items: Decoded[]): Promise<Outcome[]> {
    // The handlers' outbox rows go in together, in one statement, after the last handler.
    collectOutbox(tx)
    const outcomes = await claimBatch(tx, items, true)
    const parked = items.filter((_, i) => outcomes[i] === 'parked').map((i) => i.record)
    if (parked.length > 0) await park(tx, parked)
    const claimed = items.filter((_, i) => outcomes[i] === 'applied').map(({ record, message }) => ({ message, ctx: contextFor(message, record) }))
    if (opts.handleBatch) {
      await opts.handleBatch(tx, claimed)
    } else {
      for (const item of claimed) await inRecordSpan(item, () => opts.handle(tx, item.message, item.ctx))
    }
    await flushOutbox(tx)
    return outcomes
  }

  /**
   * The inbox claim of a whole batch in one statement: each record is 'parked' (with `checkBlocked`: its key is
   * behind a dead letter or parked records), 'duplicate' (this group already applied its message id) or 'applied'
   * (its inbox row is now inserted).
   */
  async function claimBatch(tx: Kysely<DB>, items: Decoded[], checkBlocked: boolean): Promise<Outcome[]> {
    const outcomes: Outcome[] = items.map(() => 'duplicate')
    const firstOf = new Map<string, number>()
    const rows: number[] = []
    items.forEach(({ message }, i) => {
      // Path probes: applying one twice is harmless and they come every few seconds, so no inbox row piles up for them.
      if (isTransient(message.type)) outcomes[i] = 'applied'
      // A copy of a message earlier in the same batch is a duplicate of it.
      else if (!firstOf.has(message.id)) {
        firstOf.set(message.id, i)
        rows.push(i)
      }
    })
    if (rows.length === 0) return outcomes
    const col = <T>(f: (item: Decoded) => T) => rows.map((i) => f(items[i]!))
    const r = await sql<{ ord: number; blocked: boolean; claimed: boolean }>`
      WITH input AS (
             SELECT * FROM unnest(${col((x) => x.message.id)}::uuid[], ${col((x) => x.message.type)}::text[],
                                  ${col((x) => x.record.topic)}::text[], ${col((x) => x.record.partition)}::int[],
                                  ${col((x) => x.record.offset.toString())}::bigint[], ${col((x) => x.record.key)}::text[], ${rows}::int[])
               AS t(message_id, message_type, topic, partition, "offset", record_key, ord)),
           blocked AS (
             SELECT DISTINCT i.topic, i.record_key FROM input i
             WHERE ${checkBlocked} AND EXISTS (SELECT 1 FROM dead_letters d WHERE d.consumer_group = ${group} AND d.topic = i.topic
                             AND d.record_key = i.record_key AND d.status IN ('DEAD', 'REPLAY_REQUESTED'))
                OR ${checkBlocked} AND EXISTS (SELECT 1 FROM parked_messages p WHERE p.consumer_group = ${group} AND p.topic = i.topic
                             AND p.record_key = i.record_key)),
           inbox AS (
             INSERT INTO processed_events (message_id, consumer_group, message_type, topic, partition, "offset")
             SELECT i.message_id, ${group}, i.message_type, i.topic, i.partition, i."offset" FROM input i
             WHERE NOT EXISTS (SELECT 1 FROM blocked b WHERE b.topic = i.topic AND b.record_key = i.record_key)
             ON CONFLICT DO NOTHING RETURNING message_id)
      SELECT i.ord,
             EXISTS (SELECT 1 FROM blocked b WHERE b.topic = i.topic AND b.record_key = i.record_key) AS blocked,
             EXISTS (SELECT 1 FROM inbox x WHERE x.message_id = i.message_id) AS claimed
      FROM input i`.execute(tx)
    for (const row of r.rows) outcomes[row.ord] = row.blocked ? 'parked' : row.claimed ? 'applied' : 'duplicate'
    return outcomes
  }

  async function park(tx: Kysely<DB>, records: KafkaRecordIn[]) {
    await sql`
      INSERT INTO parked_messages (consumer_group, topic, partition, "offset", record_key, record_value, headers)
      SELECT ${group}, t.topic, t.partition, t."offset", t.record_key, t.record_value, t.headers::jsonb
      FROM unnest(${records.map((r) => r.topic)}::text[], ${records.map((r) => r.partition)}::int[],
                  ${records.map((r) => r.offset.toString())}::bigint[], ${records.map((r) => r.key)}::text[],
                  ${records.map((r) => r.value)}::text[], ${records.map((r) => JSON.stringify(r.headers))}::text[])
        WITH ORDINALITY AS t(topic, partition, "offset", record_key, record_value, headers, n)
      ORDER BY t.n
      ON CONFLICT DO NOTHING`.execute(tx)
  }

  // Dead letters an operator asked to replay, then parked records whose key is no longer blocked (resolver.ts).
  const resolve = createResolver({ db, group, logger, decode: decodeValue, describe, apply: applyInTx, stopping: () => stopping })

  const scheduleResolve = () => {
    resolver = setTimeout(async () => {
      try {
        await resolve()
      } catch (error) {
        logger.warn({ err: error, group }, 'resolving dead letters failed; will retry')
      }
      if (!stopping) scheduleResolve()
    }, opts.resolveEveryMs ?? 1_000)
  }

  return {
    group,
    name: group,
    async start() {
      stopping = false
      await batches.start()
      scheduleResolve()
      logger.info({ group, topics: opts.topics }, 'consumer started')
    },
    async stop() {
      stopping = true
      if (resolver) clearTimeout(resolver)
      await batches.stop()
    },
    resolve,
  }
}
