// The saga's and the messaging paths' Prometheus metrics, registered once per process (tests build many sagas).
import client from 'prom-client'

const counter = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })
const gauge = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Gauge | undefined) ?? new client.Gauge({ name, help, labelNames })
const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
  (client.register.getSingleMetric(name) as client.Histogram | undefined) ?? new client.Histogram({ name, help, labelNames, buckets })

const slow = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600]

export const sagaMetrics = {
  outcomes: counter('trackops_saga_outcomes_total', 'Sagas reaching an outcome: completed, compensated, compensation_failed.', ['outcome']),
  compensationFailed: counter('trackops_saga_compensation_failed_total', 'Compensations that exhausted their attempts; the saga waits for an operator (POST /api/sagas/{id}/retry).', []),
  stepSeconds: histogram('trackops_saga_step_duration_seconds', 'From a saga step\'s command to its reply.', ['step'], slow),
  sagaSeconds: histogram('trackops_saga_duration_seconds', 'From the start of a saga to its outcome.', ['outcome'], slow),
}

export const pathMetrics = {
  downSeconds: gauge('trackops_messaging_path_down_seconds', 'How long the messaging path to a saga participant has been down, as the last sweep saw it (0 while up).', ['participant']),
  outages: counter('trackops_messaging_path_outages_total', 'Outages of the messaging path to a saga participant that ended (counted by the copy that closed them).', ['participant']),
  extended: counter('trackops_messaging_path_deadlines_extended_total', 'Saga step deadlines pushed back when the messaging path to their participant came back.', ['participant']),
  roundTripSeconds: histogram('trackops_messaging_path_round_trip_seconds', 'From a path probe being enqueued to its answer being recorded.', ['participant'], [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]),
}
