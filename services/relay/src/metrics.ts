// Relay gauges, refreshed on a timer (every 10 s in main.ts) rather than on scrape, so a slow or unreachable
// database never stalls /actuator/prometheus. A source that cannot be read keeps its previous values.
import client from 'prom-client'
import type { Logger } from 'pino'
import { dlqStatsOf } from './dlq-store.ts'
import { outboxStatsOf } from './events-store.ts'
import { slotLag, type Source } from './sources.ts'

const gauge = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Gauge | undefined) ?? new client.Gauge({ name, help, labelNames })

export const relayMetrics = {
  dlqDepth: gauge('trackops_dlq_depth', 'Unresolved dead letters (DEAD or REPLAY_REQUESTED), per source database and consumer group.', ['source', 'group']),
  outboxBacklog: gauge('trackops_outbox_backlog', 'Unpublished outbox rows per source (outbox strategy only: Debezium does not mark rows).', ['source']),
  outboxOldestAge: gauge('trackops_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row per source, 0 when none (outbox strategy only).', ['source']),
  slotLag: gauge('trackops_cdc_slot_lag_bytes', 'WAL bytes a replication slot has not confirmed yet (debezium strategy).', ['source', 'slot']),
}

export function createRelayMetrics(opts: { sources: Source[]; strategy: 'debezium' | 'outbox'; logger: Logger }) {
  async function refreshSource(source: Source) {
    const letters = await dlqStatsOf(source)
    const depth = new Map<string, number>()
    for (const row of letters) depth.set(row.group, (depth.get(row.group) ?? 0) + row.dead + row.replayRequested)
    for (const [group, n] of depth) relayMetrics.dlqDepth.set({ source: source.name, group }, n)

    if (opts.strategy === 'outbox') {
      const outbox = await outboxStatsOf(source)
      relayMetrics.outboxBacklog.set({ source: source.name }, outbox.unpublished)
      relayMetrics.outboxOldestAge.set({ source: source.name }, outbox.oldestUnpublishedAgeSeconds ?? 0)
    } else {
      for (const slot of (await slotLag(source)) ?? []) {
        if (slot.lagBytes !== null) relayMetrics.slotLag.set({ source: source.name, slot: slot.slot }, slot.lagBytes)
      }
    }
  }

  return {
    async refresh() {
      const results = await Promise.allSettled(opts.sources.map(refreshSource))
      results.forEach((r, i) => {
        if (r.status === 'rejected') opts.logger.warn({ err: r.reason, source: opts.sources[i]!.name }, 'relay metrics refresh failed')
      })
    },
  }
}
