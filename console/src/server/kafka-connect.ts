// Kafka Connect as the operations endpoints read it: the Debezium connectors with their state, their tasks' states
// and the settings worth showing, and the problem answered when Connect does not answer.
import { AppError } from '@trackops/http'
import { errorText, fetchWithin, readBody } from './backends.ts'

export interface ConnectorView {
  name: string
  type: string | null
  state: string
  workerId: string | null
  trace: string | null
  tasks: { id: number; state: string; workerId: string | null; trace: string | null }[]
  config: Record<string, string>
}

const CONFIG_SHOWN = ['connector.class', 'database.dbname', 'database.hostname', 'topic.prefix', 'table.include.list', 'plugin.name', 'slot.name', 'publication.name', 'transforms']

export async function listConnectors(connectUrl: string): Promise<{ version: string | null; connectors: ConnectorView[] }> {
  const root = await fetchWithin(connectUrl)
  const info = (await readBody(root)) as { version?: string }
  const res = await fetchWithin(`${connectUrl}/connectors?expand=status&expand=info`)
  if (!res.ok) throw new Error(`Kafka Connect answered HTTP ${res.status}`)
  const body = (await res.json()) as Record<string, {
    status?: { type?: string; connector?: { state?: string; worker_id?: string; trace?: string }; tasks?: { id: number; state: string; worker_id?: string; trace?: string }[] }
    info?: { config?: Record<string, string>; type?: string }
  }>
  const connectors = Object.entries(body).map(([name, c]) => ({
    name,
    type: c.status?.type ?? c.info?.type ?? null,
    state: c.status?.connector?.state ?? 'UNKNOWN',
    workerId: c.status?.connector?.worker_id ?? null,
    trace: c.status?.connector?.trace ?? null,
    tasks: (c.status?.tasks ?? []).map((t) => ({ id: t.id, state: t.state, workerId: t.worker_id ?? null, trace: t.trace ?? null })),
    config: Object.fromEntries(CONFIG_SHOWN.filter((k) => c.info?.config?.[k] !== undefined).map((k) => [k, c.info?.config?.[k] as string])),
  }))
  connectors.sort((a, b) => a.name.localeCompare(b.name))
  return { version: info.version ?? null, connectors }
}

export const connectUnavailable = (connectUrl: string, error: unknown) =>
  new AppError('kafka-connect.unavailable', `Kafka Connect does not answer at ${connectUrl}: ${errorText(error)}. Start the stack with \`bash infra/stack.sh up\`.`, { cause: error })
