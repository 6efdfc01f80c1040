// Consumer lag per group and partition, sampled every few seconds into trackops_consumer_lag and kept for
// health checks. One admin connection per process, shared by every consumer that asks.
import type { Logger } from 'pino'
import { createKafkaAdmin, type KafkaAdmin } from './kafka.ts'
import { messagingMetrics as m } from './metrics.ts'

export interface LagSample {
  group: string
  total: number
  partitions: { topic: string; partition: number; lag: number }[]
  sampledAt: Date
}

const samples = new Map<string, LagSample>()
let admin: KafkaAdmin | undefined

export function watchLag(opts: { brokers: string[]; group: string; topics: string[]; logger: Logger; everyMs?: number }) {
  admin ??= createKafkaAdmin({ brokers: opts.brokers, clientId: `lag-${process.pid}` })
  const sample = async () => {
    try {
      const partitions = await admin!.groupLag(opts.group, opts.topics)
      for (const p of partitions) m.consumerLag.set({ group: opts.group, topic: p.topic, partition: String(p.partition) }, p.lag)
      samples.set(opts.group, { group: opts.group, partitions, total: partitions.reduce((s, p) => s + p.lag, 0), sampledAt: new Date() })
    } catch (error) {
      opts.logger.debug({ err: error, group: opts.group }, 'consumer lag sample failed')
    }
  }
  void sample()
  const timer = setInterval(sample, opts.everyMs ?? 10_000)
  timer.unref()
  return () => clearInterval(timer)
}

/** The latest lag samples of this process's consumer groups. */
export const lagSamples = (): LagSample[] => [...samples.values()]
