import client from 'prom-client'

// Low-cardinality labels only: consumer group, topic, outcome. Never keys or ids.
const counter = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })
const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
  (client.register.getSingleMetric(name) as client.Histogram | undefined) ??
  new client.Histogram({ name, help, labelNames, buckets })
const gauge = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Gauge | undefined) ?? new client.Gauge({ name, help, labelNames })

const fast = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export const messagingMetrics = {
  consumed: counter('trackops_messages_consumed_total', 'Records handled, by outcome (applied, duplicate, parked, dead_lettered; superseded: a row change replaced by a later one of the same batch).', ['group', 'topic', 'outcome']),
  retried: counter('trackops_messages_retried_total', 'Handler attempts that failed and were retried.', ['group', 'topic']),
  handleSeconds: histogram('trackops_message_handle_seconds', 'Time to apply one record: the transaction of the batch it was applied in.', ['group', 'topic'], fast),
  batchRecords: histogram('trackops_consumer_batch_records', 'Records applied in one consumer transaction.', ['group'], [1, 2, 5, 10, 20, 50, 100, 200, 500]),
  batchSeconds: histogram('trackops_consumer_batch_seconds', 'Time to apply one batch of records (transaction included).', ['group'], fast),
  batchFallbacks: counter('trackops_consumer_batch_fallbacks_total', 'Batches that failed and were applied again one record at a time.', ['group']),
  endToEndSeconds: histogram('trackops_message_age_seconds', 'Record age when applied: broker timestamp to commit (CDC lag for CDC topics).', ['group', 'topic'], fast),
  consumerLag: gauge('trackops_consumer_lag', 'Records behind the log end, per group and partition.', ['group', 'topic', 'partition']),
  replayed: counter('trackops_dead_letters_replayed_total', 'Dead letters replayed, by outcome.', ['group', 'outcome']),
  published: counter('trackops_outbox_published_total', 'Outbox rows published by the relay.', ['source']),
  publishFailures: counter('trackops_outbox_publish_failures_total', 'Relay batches the broker did not acknowledge.', ['source']),
  publishSeconds: histogram('trackops_outbox_publish_delay_seconds', 'Outbox row creation to broker acknowledgement (relay strategy).', ['source'], fast),
}
