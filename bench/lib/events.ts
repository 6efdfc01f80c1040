// Watching Kafka topics through the messaging package's one Kafka seam. The bench's groups commit as they go, so
// a later run starts where this one stopped; `ready()` resolves once the backlog that existed at subscription is
// consumed, so arrival times measured afterwards are not inflated by old records.
import { createKafkaAdmin, subscribe, type KafkaRecordIn, type KafkaSubscription } from '../../packages/messaging/src/kafka.ts'
import { testEnv } from './stack.ts'

/** Epoch milliseconds with sub-millisecond resolution. */
export const nowMs = () => performance.timeOrigin + performance.now()

export interface Watcher {
  ready(timeoutMs?: number): Promise<void>
  close(): Promise<void>
  errors: string[]
}

export async function watchTopics(opts: { groupId: string; topics: string[]; onRecord: (record: KafkaRecordIn, arrivedAt: number) => void }): Promise<Watcher> {
  const admin = createKafkaAdmin({ brokers: testEnv.brokers, clientId: `${opts.groupId}-admin` })
  const ends = await admin.topicEndOffsets(opts.topics)
  const committed = new Map<string, bigint>()
  for (const p of await admin.groupLag(opts.groupId, opts.topics)) {
    const key = `${p.topic}:${p.partition}`
    committed.set(key, (ends.get(key) ?? 0n) - BigInt(p.lag))
  }
  const seen = new Map<string, bigint>()
  const commits = new Map<string, () => Promise<void>>()
  const errors: string[] = []
  const subscription: KafkaSubscription = await subscribe({
    brokers: testEnv.brokers,
    groupId: opts.groupId,
    clientId: `${opts.groupId}-${process.pid}`,
    topics: opts.topics,
    onRecord(record, commit) {
      const arrivedAt = nowMs()
      const key = `${record.topic}:${record.partition}`
      seen.set(key, record.offset)
      commits.set(key, commit)
      opts.onRecord(record, arrivedAt)
    },
    onError: (error) => {
      if (errors.length < 20) errors.push(error.message)
    },
  })
  const flush = async () => {
    const pending = [...commits.values()]
    commits.clear()
    await Promise.allSettled(pending.map((c) => c()))
  }
  const flusher = setInterval(() => void flush(), 1_000)

  return {
    errors,
    async ready(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const behind = [...ends].filter(([key, end]) => end > 0n && (committed.get(key) ?? 0n) < end && (seen.get(key) ?? -1n) < end - 1n)
        if (behind.length === 0) return
        if (Date.now() > deadline) throw new Error(`Kafka watcher ${opts.groupId} still catching up after ${timeoutMs / 1000} s on ${behind.map(([k]) => k).join(', ')}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    },
    async close() {
      clearInterval(flusher)
      await flush()
      await subscription.close()
      await admin.close().catch(() => undefined)
    },
  }
}
