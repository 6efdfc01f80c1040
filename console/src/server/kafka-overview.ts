// GET /api/ops/kafka: the topics with their end offsets, and every consumer group with its lag per topic it
// consumes.
import type { KafkaAdmin } from '@trackops/messaging'
import { errorText } from './backends.ts'

export async function kafkaOverview(admin: KafkaAdmin) {
  const cluster = await admin.describeCluster()
  const topics = cluster.topics.filter((t) => !t.startsWith('__') && !t.startsWith('_connect')).sort()
  const ends = topics.length ? await admin.topicEndOffsets(topics) : new Map<string, bigint>()
  const byTopic = new Map<string, { partition: number; endOffset: number }[]>()
  for (const [tp, end] of ends) {
    const [topic = '', partition = '0'] = tp.split(/:(?=\d+$)/)
    const list = byTopic.get(topic) ?? []
    list.push({ partition: Number(partition), endOffset: Number(end) })
    byTopic.set(topic, list)
  }
  const groups = (await admin.listGroups()).sort()
  const lags = await Promise.all(
    groups.map(async (groupId) => {
      try {
        const lag = await admin.groupLag(groupId, topics)
        // groupLag counts an uncommitted partition as fully behind; a topic counts as consumed by the group only
        // when it committed something on it.
        const perTopic = new Map<string, { lag: number; committed: boolean; partitions: { partition: number; lag: number }[] }>()
        for (const p of lag) {
          const end = byTopic.get(p.topic)?.find((x) => x.partition === p.partition)?.endOffset ?? 0
          const entry = perTopic.get(p.topic) ?? { lag: 0, committed: false, partitions: [] }
          entry.partitions.push({ partition: p.partition, lag: p.lag })
          entry.lag += p.lag
          entry.committed ||= p.lag < end
          perTopic.set(p.topic, entry)
        }
        const consumed = [...perTopic].filter(([, e]) => e.committed)
        return {
          groupId,
          totalLag: consumed.reduce((n, [, e]) => n + e.lag, 0),
          topics: consumed.map(([topic, e]) => ({ topic, lag: e.lag, partitions: e.partitions.sort((a, b) => a.partition - b.partition) })),
        }
      } catch (error) {
        return { groupId, totalLag: null, topics: [], error: errorText(error) }
      }
    }),
  )
  return {
    clusterId: cluster.clusterId,
    brokers: cluster.brokers,
    topics: topics.map((name) => {
      const partitions = (byTopic.get(name) ?? []).sort((a, b) => a.partition - b.partition)
      return { name, partitions, endOffset: partitions.reduce((n, p) => n + p.endOffset, 0), isDlq: name.endsWith('.dlq') }
    }),
    groups: lags,
  }
}
