import client from 'prom-client'

// Labels are channel names and overflow policies only, never keys or ids.
const counter = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })

export const liveMetrics = {
  published: counter('trackops_fanout_published_total', 'Live-update events published.', ['channel']),
  publishFailures: counter('trackops_fanout_publish_failures_total', 'Live-update events not published because Redis failed.', ['channel']),
  received: counter('trackops_fanout_received_total', 'Live-update events received from Redis by this process.', ['channel']),
  clientOverflows: counter('trackops_fanout_client_overflows_total', 'Live-update clients whose buffer overflowed, by policy (disconnect, drop-oldest).', ['policy']),
}
