// What publishes each service's outbox and how far it got. The answer depends on the strategy in force:
//   - outbox: the relay's polling publisher sends rows and marks them (published_at); what waits is the backlog.
//   - debezium: the source database's outbox connector reads the WAL through its replication slot. Nothing marks
//     rows, so "unpublished" means nothing here: progress is the slot's confirmed_flush_lsn against the current WAL
//     position, and the rows in the table are only retained until pruning (OUTBOX_RETENTION_SECONDS).
import { sql } from 'kysely'
import { outboxStats, retainedOf, type OutboxStats, type Retained } from './events-store.ts'
import type { Source } from './sources.ts'

export type Strategy = 'debezium' | 'outbox'

export interface ConnectorState {
  name: string
  /** Kafka Connect's state (RUNNING, PAUSED, FAILED, …), NOT_REGISTERED, or UNREACHABLE when Connect does not answer. */
  state: string
  tasks: { id: number; state: string; trace: string | null }[]
  error?: string
}

export interface SlotPosition {
  name: string
  active: boolean
  /** The WAL position up to which the connector confirmed it has captured changes. */
  confirmedFlushLsn: string | null
  /** The server's current WAL write position. */
  currentWalLsn: string
  /** currentWalLsn − confirmedFlushLsn: WAL the connector has not confirmed yet (the server's WAL is shared by its databases). */
  lagBytes: number | null
}

export interface CaptureStatus {
  source: string
  connector: ConnectorState
  /** null when the database has no slot of that name (the connector never started on it). */
  slot: SlotPosition | null
  retained: Retained | null
  /** Why slot or retained rows could not be read. */
  error?: string
}

export const explanations = {
  debezium:
    'EVENT_PUBLISHING_STRATEGY=debezium: each database\'s outbox connector (Debezium, in Kafka Connect) reads new outbox rows from the WAL ' +
    'through its replication slot and publishes them; nothing marks rows published. Capture progress is the slot: confirmedFlushLsn is the ' +
    'WAL position the connector confirmed, lagBytes how much WAL the server wrote after it (small and moving while the connector runs). ' +
    'Retained rows are outbox rows already written to the WAL, kept only until pruning after retentionSeconds; they are not a backlog.',
  outbox:
    'EVENT_PUBLISHING_STRATEGY=outbox: the relay polls each outbox table, publishes rows in order and marks them published. Unpublished ' +
    'rows are the backlog, oldestUnpublishedAgeSeconds how long the oldest has waited, failed how many of them Kafka refused at least once; ' +
    'published rows are retained until pruning after retentionSeconds.',
} as const

interface ConnectorsAnswer {
  [name: string]: {
    status?: { connector?: { state?: string; trace?: string }; tasks?: { id: number; state?: string; trace?: string }[] }
    info?: { config?: Record<string, string> }
  }
}

/** Every connector's state and slot name from Kafka Connect, in one request; an Error when Connect does not answer. */
async function connectorsOf(connectUrl: string, get: typeof fetch): Promise<ConnectorsAnswer | Error> {
  try {
    const res = await get(`${connectUrl}/connectors?expand=status&expand=info`, { signal: AbortSignal.timeout(2_000) })
    if (!res.ok) return new Error(`Kafka Connect answered HTTP ${res.status}`)
    return (await res.json()) as ConnectorsAnswer
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

/** The named slot in this source's database, with both WAL positions; null when there is no such slot. */
export async function slotPosition(source: Source, slot: string): Promise<SlotPosition | null> {
  const r = await sql<{ active: boolean; confirmed: string | null; current: string; lag: string | null }>`
    SELECT active, confirmed_flush_lsn::text AS confirmed, pg_current_wal_lsn()::text AS current,
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag
    FROM pg_replication_slots WHERE slot_name = ${slot} AND database = current_database()`.execute(source.db)
  const row = r.rows[0]
  if (!row) return null
  return { name: slot, active: row.active, confirmedFlushLsn: row.confirmed, currentWalLsn: row.current, lagBytes: row.lag === null ? null : Number(row.lag) }
}

// The connectors of infra/connectors name their slot like themselves (trackops-orders-outbox → trackops_orders_outbox).
const conventionalSlot = (connector: string) => connector.replace(/-/g, '_')

/** Under debezium: per source, its connector (Kafka Connect), its slot (the database) and the rows kept for pruning. */
export async function captureStatus(sources: Source[], connectUrl: string, get: typeof fetch = fetch): Promise<CaptureStatus[]> {
  const connect = await connectorsOf(connectUrl, get)
  return Promise.all(
    sources.map(async (source): Promise<CaptureStatus> => {
      const found = connect instanceof Error ? undefined : connect[source.connector]
      const connector: ConnectorState =
        connect instanceof Error
          ? { name: source.connector, state: 'UNREACHABLE', tasks: [], error: `Kafka Connect does not answer at ${connectUrl}: ${connect.message}` }
          : !found
            ? { name: source.connector, state: 'NOT_REGISTERED', tasks: [], error: 'not registered: bash infra/stack.sh connectors' }
            : {
                name: source.connector,
                state: found.status?.connector?.state ?? 'UNKNOWN',
                tasks: (found.status?.tasks ?? []).map((t) => ({ id: t.id, state: t.state ?? 'UNKNOWN', trace: t.trace?.split('\n')[0] ?? null })),
              }
      const slotName = found?.info?.config?.['slot.name'] ?? conventionalSlot(source.connector)
      try {
        const [slot, retained] = await Promise.all([slotPosition(source, slotName), retainedOf(source)])
        return { source: source.name, connector, slot, retained }
      } catch (error) {
        return { source: source.name, connector, slot: null, retained: null, error: `${source.name} database: ${(error as Error).message}` }
      }
    }),
  )
}

export type PublishingReport =
  | { strategy: 'debezium'; publisher: 'debezium'; explanation: string; retentionSeconds: number; connectUrl: string; sources: CaptureStatus[]; timestamp: string }
  | { strategy: 'outbox'; publisher: 'relay'; explanation: string; retentionSeconds: number; sources: (OutboxStats | { source: string; error: string })[]; timestamp: string }

/** The outbox panel's truth for the strategy in force. */
export async function publishingReport(opts: { sources: Source[]; strategy: Strategy; connectUrl: string; retentionSeconds: number; fetch?: typeof fetch }): Promise<PublishingReport> {
  const timestamp = () => new Date().toISOString()
  if (opts.strategy === 'debezium') {
    const sources = await captureStatus(opts.sources, opts.connectUrl, opts.fetch)
    return { strategy: 'debezium', publisher: 'debezium', explanation: explanations.debezium, retentionSeconds: opts.retentionSeconds, connectUrl: opts.connectUrl, sources, timestamp: timestamp() }
  }
  const sources = (await outboxStats(opts.sources)).map((s) => ('value' in s ? s.value : { source: s.source.name, error: `${s.source.name} database: ${s.error}` }))
  return { strategy: 'outbox', publisher: 'relay', explanation: explanations.outbox, retentionSeconds: opts.retentionSeconds, sources, timestamp: timestamp() }
}
