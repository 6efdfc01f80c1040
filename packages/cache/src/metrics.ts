import client from 'prom-client'

// Labels are cache names only, never keys or ids.
const counter = (name: string, help: string, labelNames: string[]) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })
const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
  (client.register.getSingleMetric(name) as client.Histogram | undefined) ?? new client.Histogram({ name, help, labelNames, buckets })

export const cacheMetrics = {
  requests: counter('trackops_cache_requests_total', 'Cache reads, by result (hit, miss).', ['cache', 'result']),
  errors: counter('trackops_cache_errors_total', 'Redis operations that failed or were skipped because Redis was unavailable.', ['cache']),
  loadSeconds: histogram('trackops_cache_load_seconds', 'Time to load an entry from the database on a miss.', ['cache'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
  invalidations: counter('trackops_cache_invalidations_total', 'Version-fenced invalidations received.', ['cache']),
}
