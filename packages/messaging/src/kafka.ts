// The only file that imports the Kafka client: everything else speaks in KafkaRecordIn / KafkaRecordOut.
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'

export interface KafkaRecordOut {
  topic: string
  key: string
  value: string
  headers: Record<string, string>
}

export interface KafkaRecordIn extends KafkaRecordOut {
  partition: number
  offset: bigint
  timestamp: bigint
}

export interface KafkaProducer {
  /** Resolves once the broker acknowledged every record (acks=all); records of one key keep their order. */
  send(records: KafkaRecordOut[]): Promise<void>
  close(): Promise<void>
}

const SEND_TIMEOUT_MS = 10_000

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms (is Kafka up?)`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function createKafkaProducer(opts: { brokers: string[]; clientId: string }): KafkaProducer {
  // retries must stay small with idempotent producers: otherwise a send to a dead broker never settles.
  const producer = new Producer({
    clientId: opts.clientId,
    bootstrapBrokers: opts.brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    retries: 3,
    retryDelay: 200,
    autocreateTopics: false,
  })
  return {
    async send(records) {
      if (records.length === 0) return
      await withTimeout(
        producer.send({
          messages: records.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers })),
        }),
        SEND_TIMEOUT_MS,
        'Kafka send',
      )
    },
    async close() {
      await producer.close()
    },
  }
}

export interface KafkaSubscription {
  pause(): void
  resume(): void
  close(): Promise<void>
}

/**
 * Subscribes a consumer group. `onRecord` is called per record in partition order; `commit` after it resolves
 * marks the record (and everything before it in its partition) as done. Offsets are never auto-committed.
 * When the stream fails (a broker restart, a fenced epoch, a lost coordinator) the consumer is rebuilt with
 * backoff and resumes from the committed offsets: records after the last commit come again, and are deduped.
 */
export async function subscribe(opts: {
  brokers: string[]
  groupId: string
  clientId: string
  topics: string[]
  onRecord: (record: KafkaRecordIn, commit: () => Promise<void>) => void
  onError: (error: Error) => void
}): Promise<KafkaSubscription> {
  type Live = { consumer: Consumer<string, string, string, string>; stream: Awaited<ReturnType<Consumer<string, string, string, string>['consume']>> }
  let current: Live | undefined
  let closed = false
  let paused = false
  let restarting: Promise<void> | undefined

  async function open(): Promise<void> {
    const consumer = new Consumer({
      groupId: opts.groupId,
      clientId: opts.clientId,
      bootstrapBrokers: opts.brokers,
      deserializers: stringDeserializers,
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
      maxWaitTime: 100,
      retries: 5,
      retryDelay: 500,
    })
    let stream: Live['stream']
    try {
      stream = await consumer.consume({ topics: opts.topics, mode: 'committed', fallbackMode: 'earliest', autocommit: false })
    } catch (error) {
      await consumer.close(true).catch(() => undefined)
      throw error
    }
    const live: Live = { consumer, stream }
    stream.on('data', (message) => {
      const headers: Record<string, string> = {}
      for (const [k, v] of message.headers) headers[String(k)] = v == null ? '' : String(v)
      opts.onRecord(
        { topic: message.topic, partition: message.partition, offset: message.offset, timestamp: message.timestamp, key: message.key ?? '', value: message.value ?? '', headers },
        async () => {
          await message.commit()
        },
      )
    })
    const failed = (error?: Error) => {
      if (closed || current !== live) return
      if (error) opts.onError(error)
      void restart()
    }
    stream.on('error', failed)
    stream.on('close', () => failed())
    current = live
    if (paused) stream.pause()
  }

  function restart(): Promise<void> {
    restarting ??= (async () => {
      const old = current
      current = undefined
      await old?.stream.close().catch(() => undefined)
      await old?.consumer.close(true).catch(() => undefined)
      // Retried every 2 s at most: a broker that is back should be used within a couple of seconds, since saga
      // deadlines are held only while the path is down. Reported on the first failure and every 30th after it.
      for (let delay = 250, attempt = 0; !closed; delay = Math.min(delay * 2, 2_000), attempt++) {
        try {
          await open()
          break
        } catch (error) {
          if (attempt % 30 === 0) opts.onError(error as Error)
          await new Promise((r) => setTimeout(r, delay))
        }
      }
    })().finally(() => {
      restarting = undefined
    })
    return restarting
  }

  // A service starts even while Kafka is down: the first subscription is retried in the background.
  await open().catch((error: Error) => {
    opts.onError(error)
    void restart()
  })
  return {
    pause() {
      paused = true
      current?.stream.pause()
    },
    resume() {
      paused = false
      current?.stream.resume()
    },
    async close() {
      closed = true
      await restarting
      await current?.stream.close().catch(() => undefined)
      await current?.consumer.close(true).catch(() => undefined)
    },
  }
}

export interface KafkaAdmin {
  /** Broker metadata; throws when no broker answers. */
  describeCluster(): Promise<{ clusterId: string; brokers: number; topics: string[] }>
  /** Per-partition lag of a consumer group on the given topics (log end offset − committed offset). */
  groupLag(groupId: string, topics: string[]): Promise<{ topic: string; partition: number; lag: number }[]>
  topicEndOffsets(topics: string[]): Promise<Map<string, bigint>>
  createTopics(topics: { name: string; partitions: number }[]): Promise<void>
  listGroups(): Promise<string[]>
  close(): Promise<void>
}

export function createKafkaAdmin(opts: { brokers: string[]; clientId: string }): KafkaAdmin {
  const admin = new Admin({ clientId: opts.clientId, bootstrapBrokers: opts.brokers, retries: 1, timeout: 3_000 })
  const endOffsets = async (topics: string[]) => {
    const meta = await admin.metadata({ topics })
    const request = topics.map((name) => ({
      name,
      partitions: Array.from({ length: meta.topics.get(name)?.partitionsCount ?? 0 }, (_, partitionIndex) => ({
        partitionIndex,
        timestamp: -1n,
      })),
    }))
    const listed = await admin.listOffsets({ topics: request })
    const result = new Map<string, bigint>()
    for (const t of listed) for (const p of t.partitions) result.set(`${t.name}:${p.partitionIndex}`, p.offset)
    return result
  }
  return {
    async describeCluster() {
      const topics = await withTimeout(admin.listTopics(), 3_000, 'Kafka topic listing')
      const meta = await withTimeout(admin.metadata({ topics: [], forceUpdate: true }), 3_000, 'Kafka metadata')
      return { clusterId: meta.id, brokers: meta.brokers.size, topics }
    },
    async groupLag(groupId, topics) {
      const ends = await endOffsets(topics)
      const [group] = await admin.listConsumerGroupOffsets({ groups: [groupId] })
      const committed = new Map<string, bigint>()
      for (const t of group?.topics ?? []) for (const p of t.partitions) committed.set(`${t.name}:${p.partitionIndex}`, p.committedOffset)
      return [...ends].map(([tp, end]) => {
        const [topic = '', partition = '0'] = tp.split(/:(?=\d+$)/)
        const done = committed.get(tp) ?? 0n
        return { topic, partition: Number(partition), lag: Number(end - (done < 0n ? 0n : done)) }
      })
    },
    topicEndOffsets: endOffsets,
    async createTopics(topics) {
      const existing = new Set(await admin.listTopics())
      for (const t of topics) {
        if (!existing.has(t.name)) await admin.createTopics({ topics: [t.name], partitions: t.partitions, replicas: 1 })
      }
    },
    async listGroups() {
      return [...(await admin.listGroups()).keys()]
    },
    async close() {
      await admin.close()
    },
  }
}
