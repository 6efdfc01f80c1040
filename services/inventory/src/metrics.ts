// Business counters of the inventory service (exported at /actuator/prometheus).
import client from 'prom-client'

const counter = (name: string, help: string, labelNames: string[] = []) =>
  (client.register.getSingleMetric(name) as client.Counter | undefined) ?? new client.Counter({ name, help, labelNames })

export const inventoryMetrics = {
  reservations: counter('trackops_inventory_reservations_total', 'Reservation requests by outcome (RESERVED, FAILED, REPLAYED).', ['outcome', 'source']),
  commits: counter('trackops_inventory_commits_total', 'Commit requests by outcome.', ['outcome']),
  released: counter('trackops_inventory_released_units_total', 'Units returned to available stock by releases, by kind (reserved, restocked).', ['kind']),
  expired: counter('trackops_inventory_reservations_expired_total', 'Orders whose reservation expired and whose stock returned.'),
  adjustments: counter('trackops_inventory_adjustments_total', 'Stock adjustments by reason.', ['reason']),
}
