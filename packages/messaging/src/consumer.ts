// The one consumer runner (DESIGN §2). Delivery is at-least-once; effects are once because the inbox row
// (processed_events) commits in the same transaction as the handler's writes and outbox rows. The offset is
// committed only after that transaction. Records of one partition are applied strictly in order; once a
// record is dead-lettered, later records with its key are parked until an operator replays or discards it.
import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { dlqTopic, isTransient, validateMessage, type AnyMessage } from '@trackops/contracts'
import { subscribe, type KafkaProducer, type KafkaRecordIn, type KafkaSubscription } from './kafka.ts'
import { messagingMetrics as m } from './metrics.ts'
import type { MessageContext } from './envelope.ts'
import { watchLag } from './lag.ts'
import type { MessagingTables } from './tables.ts'
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

export interface ConsumerOptions<DB extends MessagingTables> {
  db: Kysely<DB>
  brokers: string[]
  producer: KafkaProducer
  logger: Logger
  group: string
  topics: string[]
  handle: MessageHandler<DB>
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

const MAX_IN_FLIGHT = 500
const RESUME_AT = 100
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))

export function createConsumer<DB extends MessagingTables>(opts: ConsumerOptions<DB>): ConsumerRunner {
  const { db, group, logger } = opts
  const retry = opts.retry ?? defaultRetry
  const queues = new Map<string, Promise<void>>()
  let subscription: KafkaSubscription | undefined
  let resolver: NodeJS.Timeout | undefined
  let stopLag: (() => void) | undefined
  let stopping = false

  const contextFor = (message: AnyMessage, record: Pick<KafkaRecordIn, 'headers' | 'timestamp'>): HandlerContext => ({
    correlationId: message.correlationId,
    causationId: message.id,
    headers: record.headers,
    recordTimestamp: Number(record.timestamp),
    log: logger.child({ correlationId: message.correlationId, messageId: message.id, messageType: message.type, group }),
  })

  /**
   * The inbox insert — unless `checkBlocked` finds the record's key behind a dead letter or parked records — in one
   * statement (one round trip per record): 'blocked', 'duplicate' (this group already applied it) or 'claimed'.
   */
  async function claim(tx: Kysely<DB>, message: AnyMessage, record: KafkaRecordIn, checkBlocked: boolean): Promise<'blocked' | 'duplicate' | 'claimed'> {
    // Path probes: applying one twice is harmless and they come every few seconds, so no inbox row piles up for them.
    if (isTransient(message.type)) return 'claimed'
    const blocked = checkBlocked
      ? sql`EXISTS (SELECT 1 FROM dead_letters WHERE consumer_group = ${group} AND topic = ${record.topic}
                      AND record_key = ${record.key} AND status IN ('DEAD', 'REPLAY_REQUESTED'))
            OR EXISTS (SELECT 1 FROM parked_messages WHERE consumer_group = ${group} AND topic = ${record.topic}
                      AND record_key = ${record.key})`
      : sql`false`
    const r = await sql<{ blocked: boolean; claimed: boolean }>`
      WITH check_key AS (SELECT ${blocked} AS blocked),
           inbox AS (
             INSERT INTO processed_events (message_id, consumer_group, message_type, topic, partition, "offset")
             SELECT ${message.id}, ${group}, ${message.type}, ${record.topic}, ${record.partition}, ${record.offset.toString()}
             WHERE NOT (SELECT blocked FROM check_key)
             ON CONFLICT DO NOTHING RETURNING 1)
      SELECT (SELECT blocked FROM check_key) AS blocked, EXISTS (SELECT 1 FROM inbox) AS claimed`.execute(tx)
    const row = r.rows[0]
    return row?.blocked ? 'blocked' : row?.claimed ? 'claimed' : 'duplicate'
  }

  /** Inbox insert + handler in one transaction; false when this group already applied the message. */
  async function applyInTx(tx: Kysely<DB>, message: AnyMessage, record: KafkaRecordIn): Promise<boolean> {
    if ((await claim(tx, message, record, false)) === 'duplicate') return false
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
      ON CONFLICT (consumer_group, topic, partition, "offset") DO NOTHING RETURNING 1`.execute(db)
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

  async function processRecord(record: KafkaRecordIn): Promise<void> {
    const started = process.hrtime.bigint()
    let parsed: unknown
    try {
      parsed = JSON.parse(record.value)
    } catch {
      return deadLetter(record, 'value is not valid JSON', 1)
    }
    const checked = validateMessage(parsed)
    if (!checked.ok) {
      return deadLetter(record, `schema: ${checked.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, 1)
    }
    const message = checked.message
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await withSpan(`${message.type} process`, 'consumer', contextFromHeaders(record.headers), () => db.transaction().execute(async (tx) => {
          const claimed = await claim(tx, message, record, true)
          if (claimed === 'blocked') {
            await sql`
              INSERT INTO parked_messages (consumer_group, topic, partition, "offset", record_key, record_value, headers)
              VALUES (${group}, ${record.topic}, ${record.partition}, ${record.offset.toString()}, ${record.key},
                      ${record.value}, ${JSON.stringify(record.headers)})
              ON CONFLICT DO NOTHING`.execute(tx)
            return 'parked'
          }
          if (claimed === 'duplicate') return 'duplicate'
          await opts.handle(tx, message, contextFor(message, record))
          return 'applied'
        }))
        m.consumed.inc({ group, topic: record.topic, outcome })
        m.handleSeconds.observe({ group, topic: record.topic }, Number(process.hrtime.bigint() - started) / 1e9)
        m.endToEndSeconds.observe({ group, topic: record.topic }, Math.max(0, Date.now() - Number(record.timestamp)) / 1000)
        if (outcome === 'parked') logger.warn({ group, topic: record.topic, correlationId: message.correlationId, messageId: message.id }, 'record parked behind a dead letter of its key')
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

  let inFlight = 0
  function enqueueRecord(record: KafkaRecordIn, commit: () => Promise<void>) {
    // Backpressure: stop fetching while too many records wait, so memory stays bounded.
    if (++inFlight >= MAX_IN_FLIGHT) subscription?.pause()
    const key = `${record.topic}:${record.partition}`
    const previous = queues.get(key) ?? Promise.resolve()
    // The offset commit is sent after the transaction committed but not awaited: the next record need not wait
    // a broker round trip. Commits of one partition go out in order; a lost one means a redelivery, deduped.
    const next = previous
      .then(() => processRecord(record))
      .then(() => {
        commit().catch((error) => logger.warn({ err: error, group, topic: record.topic, partition: record.partition }, 'offset commit failed; the record will be redelivered and deduplicated'))
      })
      .catch((error) => {
        // Only reached when stopping mid-record: the record is redelivered and deduped.
        logger.warn({ err: error, group, topic: record.topic, partition: record.partition }, 'record left uncommitted')
      })
    queues.set(key, next)
    void next.finally(() => {
      if (queues.get(key) === next) queues.delete(key)
      if (--inFlight === RESUME_AT && !stopping) subscription?.resume()
    })
  }

  // --- resolution of dead letters (operator replays) and parked records --------------------------------------
  type StoredRecord = { topic: string; partition: number; offset: string; record_key: string; record_value: string; headers: Record<string, string> }
  const toRecord = (r: StoredRecord): KafkaRecordIn => ({
    topic: r.topic,
    partition: r.partition,
    offset: BigInt(r.offset),
    key: r.record_key,
    value: r.record_value,
    headers: r.headers,
    timestamp: BigInt(Date.now()),
  })
  const decode = (r: StoredRecord) => {
    try {
      const checked = validateMessage(JSON.parse(r.record_value))
      return checked.ok ? checked.message : new PermanentError(`schema: ${checked.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`)
    } catch {
      return new PermanentError('value is not valid JSON')
    }
  }

  async function replayOne(): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const row = (
        await sql<StoredRecord & { id: string; attempts: number }>`
          SELECT id, topic, partition, "offset", record_key, record_value, headers, attempts FROM dead_letters
          WHERE consumer_group = ${group} AND status = 'REPLAY_REQUESTED'
          ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(tx)
      ).rows[0]
      if (!row) return false
      const message = decode(row)
      try {
        if (message instanceof Error) throw message
        await sql`SAVEPOINT replay`.execute(tx)
        await withSpan(`${message.type} replay`, 'consumer', contextFromHeaders(row.headers), () => applyInTx(tx, message, toRecord(row)))
        await sql`UPDATE dead_letters SET status = 'REPLAYED', updated_at = now() WHERE id = ${row.id}`.execute(tx)
        m.replayed.inc({ group, outcome: 'applied' })
        logger.info({ group, deadLetterId: row.id, correlationId: row.headers.correlationId }, 'dead letter replayed')
      } catch (error) {
        if (isInfrastructureError(error)) throw error
        if (!(message instanceof Error)) await sql`ROLLBACK TO SAVEPOINT replay`.execute(tx)
        await sql`UPDATE dead_letters SET status = 'DEAD', attempts = attempts + 1, error = ${describe(error).slice(0, 4000)},
                    resolved_by = NULL, updated_at = now() WHERE id = ${row.id}`.execute(tx)
        m.replayed.inc({ group, outcome: 'failed' })
        logger.error({ err: error, group, deadLetterId: row.id }, 'dead letter replay failed; it stays dead')
      }
      return true
    })
  }

  /** Applies the oldest parked record of one unblocked key; false when there is nothing to do. */
  async function drainOne(): Promise<boolean> {
    return db.transaction().execute(async (tx) => {
      const row = (
        await sql<StoredRecord & { seq: number }>`
          SELECT p.seq, p.topic, p.partition, p."offset", p.record_key, p.record_value, p.headers FROM parked_messages p
          WHERE p.consumer_group = ${group}
            AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.consumer_group = p.consumer_group AND d.topic = p.topic
                              AND d.record_key = p.record_key AND d.status IN ('DEAD', 'REPLAY_REQUESTED'))
            AND NOT EXISTS (SELECT 1 FROM parked_messages e WHERE e.consumer_group = p.consumer_group AND e.topic = p.topic
                              AND e.record_key = p.record_key AND e.seq < p.seq)
          ORDER BY p.seq LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(tx)
      ).rows[0]
      if (!row) return false
      const record = toRecord(row)
      const message = decode(row)
      try {
        if (message instanceof Error) throw message
        await sql`SAVEPOINT drain`.execute(tx)
        await withSpan(`${message.type} unpark`, 'consumer', contextFromHeaders(row.headers), () => applyInTx(tx, message, record))
        m.consumed.inc({ group, topic: row.topic, outcome: 'applied' })
      } catch (error) {
        if (isInfrastructureError(error)) throw error
        if (!(message instanceof Error)) await sql`ROLLBACK TO SAVEPOINT drain`.execute(tx)
        // A parked record that fails becomes the key's new dead letter; the ones after it stay parked.
        await sql`
          INSERT INTO dead_letters (id, consumer_group, topic, partition, "offset", record_key, record_value, headers,
                                    message_id, message_type, error, attempts)
          VALUES (${randomUUID()}, ${group}, ${row.topic}, ${row.partition}, ${row.offset}, ${row.record_key},
                  ${row.record_value}, ${JSON.stringify(row.headers)}, ${row.headers.id ?? null}, ${row.headers.type ?? null},
                  ${describe(error).slice(0, 4000)}, 1)
          ON CONFLICT (consumer_group, topic, partition, "offset") DO UPDATE SET status = 'DEAD', error = EXCLUDED.error,
            attempts = dead_letters.attempts + 1, updated_at = now()`.execute(tx)
        m.consumed.inc({ group, topic: row.topic, outcome: 'dead_lettered' })
      }
      await sql`DELETE FROM parked_messages WHERE seq = ${row.seq}`.execute(tx)
      return true
    })
  }

  async function resolve(): Promise<number> {
    let done = 0
    while (!stopping && (await replayOne())) done++
    while (!stopping && (await drainOne())) done++
    return done
  }

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
      subscription = await subscribe({
        brokers: opts.brokers,
        groupId: group,
        clientId: `${group}-${process.pid}`,
        topics: opts.topics,
        onRecord: enqueueRecord,
        onError: (error) => logger.error({ err: error, group }, 'consumer stream error'),
      })
      scheduleResolve()
      stopLag = watchLag({ brokers: opts.brokers, group, topics: opts.topics, logger })
      logger.info({ group, topics: opts.topics }, 'consumer started')
    },
    async stop() {
      stopping = true
      stopLag?.()
      if (resolver) clearTimeout(resolver)
      subscription?.pause()
      await Promise.allSettled([...queues.values()])
      await subscription?.close()
    },
    resolve,
  }
}
