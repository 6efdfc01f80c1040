// Operations: health of every service and its components, live charts, Kafka topics and consumer lag,
// Debezium connectors (restart for admins), outbox publishing (what Debezium captured, or the relay's backlog, per
// the strategy in force), dead-letter summary and cache statistics.
// Every panel loads on its own, so one service being down never blanks the page.
import { useEffect, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api } from '../api.ts'
import { useAction, useResource } from '../hooks.ts'
import { Confirm, Json, Panel, ProblemBox, Sparkline, StatusBadge } from '../components.ts'
import { Link } from '../router.ts'
import { ago, bytes, number, seconds } from '../format.ts'
import { isAdmin, type Session } from '../session.ts'
import type { CaptureStatus, PublishingReport } from '../../../../services/relay/src/publishing.ts'
import type { ConnectorView } from '../../server/kafka-connect.ts'
import type { CacheStats as CacheStat } from '@trackops/cache'

interface ComponentHealth {
  status: string
  required?: boolean
  details?: Record<string, unknown>
}
interface ServiceHealth {
  name: string
  url: string
  status: string
  httpStatus?: number
  components?: Record<string, ComponentHealth>
  error?: string
  ms: number
}
interface OpsHealth {
  status: string
  checkedAt: string
  services: ServiceHealth[]
  kafka: { name: string; status: string; details?: Record<string, unknown>; error?: string }
  kafkaConnect: { name: string; status: string; url?: string; details?: Record<string, unknown>; error?: string }
}
interface KafkaView {
  clusterId: string
  brokers: number
  topics: { name: string; partitions: { partition: number; endOffset: number }[]; endOffset: number; isDlq: boolean }[]
  groups: { groupId: string; totalLag: number | null; topics: { topic: string; lag: number; partitions: { partition: number; lag: number }[] }[]; error?: string }[]
}
interface Point {
  at: string
  ordersPerMinute: number | null
  sagaP50Seconds: number | null
  sagaP99Seconds: number | null
  cdcLagP99Seconds: number | null
}
interface Summary extends Point {
  windowSeconds: number
  ordersMetric: string | null
  ordersTotal: number | null
  sagasInWindow: number | null
  sagaLifetime: { count: number; p50Seconds: number | null; p99Seconds: number | null } | null
  cdcRecordsInWindow: number | null
  cdcLifetime: { count: number; p99Seconds: number | null } | null
  consumerLag: number | null
  sources: { name: string; ok: boolean; error?: string }[]
  history: Point[]
}
/** GET /api/events/stats (relay): what publishes the outbox depends on the strategy, and so do the numbers. */
type OutboxStats = PublishingReport
type BacklogSource = Extract<PublishingReport, { strategy: 'outbox' }>['sources'][number]
interface DlqStats {
  groups: { source: string; group: string; topic: string; dead: number; replayRequested: number; replayed: number; discarded: number; parked: number }[]
  unavailable: { source: string; error: string }[]
}

const detailText = (d: Record<string, unknown> | undefined) =>
  d ? Object.entries(d).filter(([k]) => k !== 'checkMs').map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · ') : ''

function HealthPanel() {
  const health = useResource<OpsHealth>('/api/ops/health', { everyMs: 5_000 })
  const h = health.data
  const extra = h ? [h.kafka, h.kafkaConnect] : []
  return html`
    <${Panel} title="Health" id="health" loading=${health.loading} error=${health.error} retry=${health.reload}
      actions=${h && html`<${StatusBadge} status=${h.status} /> <span class="muted small">checked ${ago(h.checkedAt)}</span>`}>
      ${h && html`
        <div class="health-grid" data-testid="health">
          ${h.services.map((s) => html`
            <div class=${`health-card ${s.status === 'UP' ? '' : s.status === 'DOWN' ? 'down' : 'degraded'}`} data-service=${s.name} data-service-status=${s.status}>
              <div class="hc-head"><strong>${s.name}</strong> <${StatusBadge} status=${s.status} /></div>
              ${s.error && html`<div class="error-text">${s.error}</div>`}
              ${s.error && s.name !== 'console' && html`<div class="muted small">Start it: <code>bash scripts/services.sh start ${s.name}</code></div>`}
              ${s.components && html`
                <ul class="components">
                  ${Object.entries(s.components).map(([name, c]) => html`
                    <li title=${detailText(c.details)}>
                      <${StatusBadge} status=${c.status} /> ${name}${c.required === false ? html`<span class="muted small"> (optional)</span>` : ''}
                      ${c.status !== 'UP' && c.details && html`<div class="error-text small">${detailText(c.details)}</div>`}
                    </li>`)}
                </ul>`}
            </div>`)}
          ${extra.map((s) => html`
            <div class=${`health-card ${s.status === 'UP' ? '' : s.status === 'DOWN' ? 'down' : 'degraded'}`} data-service=${s.name} data-service-status=${s.status}>
              <div class="hc-head"><strong>${s.name}</strong> <${StatusBadge} status=${s.status} /></div>
              ${s.error && html`<div class="error-text">${s.error}</div>`}
              ${s.name === 'kafka-connect' && s.details?.connectors
                ? html`<ul class="components">${Object.entries(s.details.connectors as Record<string, { state: string; tasks: string[] }>).map(([n, c]) => html`<li><${StatusBadge} status=${c.state} /> ${n}</li>`)}</ul>`
                : s.details && html`<div class="muted small">${detailText(s.details)}</div>`}
            </div>`)}
        </div>`}
    </${Panel}>`
}

function ChartsPanel() {
  const summary = useResource<Summary>('/api/ops/metrics-summary', { everyMs: 5_000 })
  const [points, setPoints] = useState<Point[]>([])
  useEffect(() => {
    if (summary.data?.history) setPoints(summary.data.history.slice(-60))
  }, [summary.data])
  const s = summary.data
  const pick = (k: keyof Point) => points.map((p) => p[k] as number | null)
  const missing = s?.sources.filter((x) => !x.ok) ?? []
  return html`
    <${Panel} title="Live" id="charts" loading=${summary.loading} error=${summary.error} retry=${summary.reload}
      actions=${s && html`<span class="muted small">last ${s.windowSeconds || '–'} s · every 5 s</span>`}>
      ${s && html`
        <div class="charts" data-testid="charts">
          <div class="chart">
            <h3>Orders per minute</h3>
            <${Sparkline} testid="chart-orders" series=${[{ values: pick('ordersPerMinute'), label: 'orders/min' }]} format=${(v: number | null) => (v === null ? '—' : v.toFixed(1))} />
            <div class="muted small">${s.ordersMetric ? `${s.ordersMetric}: ${number(s.ordersTotal)} since start` : 'no orders counter exposed yet'}</div>
          </div>
          <div class="chart">
            <h3>Saga duration</h3>
            <${Sparkline} testid="chart-saga" series=${[{ values: pick('sagaP50Seconds'), label: 'p50' }, { values: pick('sagaP99Seconds'), label: 'p99', class: 's1' }]} format=${seconds} />
            <div class="muted small">${s.sagaLifetime ? `${number(s.sagaLifetime.count)} sagas since start · p50 ${seconds(s.sagaLifetime.p50Seconds)} · p99 ${seconds(s.sagaLifetime.p99Seconds)}` : 'no saga histogram yet'}</div>
          </div>
          <div class="chart">
            <h3>CDC lag p99</h3>
            <${Sparkline} testid="chart-cdc" series=${[{ values: pick('cdcLagP99Seconds'), label: 'p99', class: 's2' }]} format=${seconds} />
            <div class="muted small">${s.cdcLifetime ? `${number(s.cdcLifetime.count)} CDC records applied · p99 ${seconds(s.cdcLifetime.p99Seconds)}` : 'no CDC consumer metrics yet'}${s.consumerLag !== null ? ` · consumer lag ${number(s.consumerLag)}` : ''}</div>
          </div>
        </div>
        ${missing.length > 0 && html`<div class="muted small">Metrics missing from: ${missing.map((m) => `${m.name} (${m.error})`).join(', ')}</div>`}`}
    </${Panel}>`
}

function KafkaPanel() {
  const kafka = useResource<KafkaView>('/api/ops/kafka', { everyMs: 10_000 })
  const [showIdle, setShowIdle] = useState(false)
  const k = kafka.data
  const active = k?.groups.filter((g) => g.topics.length || g.error) ?? []
  const idle = k?.groups.filter((g) => !g.topics.length && !g.error) ?? []
  return html`
    <${Panel} title="Kafka" id="kafka" loading=${kafka.loading} error=${kafka.error} retry=${kafka.reload}
      actions=${k && html`<span class="muted small">cluster ${k.clusterId} · ${k.brokers} broker${k.brokers === 1 ? '' : 's'}</span>`}>
      ${k && html`
        <div class="grid two tight">
          <div>
            <h3>Consumer groups</h3>
            <table class="table" data-testid="consumer-groups">
              <thead><tr><th>Group</th><th>Topic</th><th class="num">Lag</th><th>Per partition</th></tr></thead>
              <tbody>
                ${active.flatMap((g) => (g.error
                  ? [html`<tr><td class="mono">${g.groupId}</td><td colspan="3" class="error-text">${g.error}</td></tr>`]
                  : g.topics.map((t, i) => html`
                    <tr data-group=${g.groupId} data-topic=${t.topic}>
                      <td class="mono">${i === 0 ? g.groupId : ''}</td>
                      <td class="mono">${t.topic}</td>
                      <td class=${`num ${t.lag > 0 ? 'strong warn-text' : ''}`}>${number(t.lag)}</td>
                      <td class="muted small">${t.partitions.map((p) => `${p.partition}:${p.lag}`).join(' ')}</td>
                    </tr>`)))}
              </tbody>
            </table>
            ${idle.length > 0 && html`
              <div class="muted small">${idle.length} group${idle.length === 1 ? '' : 's'} with no committed offsets
                <button class="btn ghost small" onClick=${() => setShowIdle(!showIdle)}>${showIdle ? 'hide' : 'show'}</button></div>
              ${showIdle && html`<div class="mono small">${idle.map((g) => g.groupId).join(', ')}</div>`}`}
          </div>
          <div>
            <h3>Topics</h3>
            <table class="table" data-testid="topics">
              <thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Messages (end offset)</th></tr></thead>
              <tbody>${k.topics.map((t) => html`
                <tr class=${t.isDlq && t.endOffset > 0 ? 'row-warn' : ''}><td class="mono">${t.name}</td><td class="num">${t.partitions.length}</td><td class="num">${number(t.endOffset)}</td></tr>`)}
              </tbody>
            </table>
          </div>
        </div>`}
    </${Panel}>`
}

function ConnectorsPanel(props: { admin: boolean }) {
  const connectors = useResource<{ connectUrl: string; version: string | null; connectors: ConnectorView[] }>('/api/ops/connectors', { everyMs: 10_000 })
  const action = useAction()
  const restart = async (name: string) => {
    await action.run(`restart ${name}`, () => api(`/api/ops/connectors/${encodeURIComponent(name)}/restart`, { method: 'POST' }))
    setTimeout(connectors.reload, 1_500)
  }
  const c = connectors.data
  return html`
    <${Panel} title="Debezium connectors" id="connectors" loading=${connectors.loading} error=${connectors.error} retry=${connectors.reload}
      actions=${c && html`<span class="muted small">Kafka Connect ${c.version ?? ''} at ${c.connectUrl}</span>`}
      empty=${c?.connectors.length === 0} emptyText="No connectors registered. Register them with: bash infra/stack.sh connectors">
      ${c && c.connectors.length > 0 && html`
        <table class="table" data-testid="connectors">
          <thead><tr><th>Connector</th><th>State</th><th>Tasks</th><th>Source</th>${props.admin && html`<th></th>`}</tr></thead>
          <tbody>${c.connectors.map((x) => html`
            <tr data-connector=${x.name}>
              <td class="mono">${x.name}${x.trace && html`<div class="error-text small">${x.trace.split('\n')[0]}</div>`}</td>
              <td><${StatusBadge} status=${x.state} /></td>
              <td>${x.tasks.map((t) => html`<span title=${t.trace ?? t.workerId ?? ''}><${StatusBadge} status=${t.state} /> </span>`)}
                ${x.tasks.filter((t) => t.trace).map((t) => html`<div class="error-text small">task ${t.id}: ${(t.trace ?? '').split('\n')[0]}</div>`)}</td>
              <td class="muted small">${x.config['database.dbname'] ?? ''} ${x.config['table.include.list'] ?? ''}</td>
              ${props.admin && html`<td><${Confirm} label="Restart" busy=${action.busy === `restart ${x.name}`} onConfirm=${() => restart(x.name)} testid=${`restart-${x.name}`} /></td>`}
            </tr>`)}
          </tbody>
        </table>`}
      ${action.error && html`<${ProblemBox} error=${action.error} compact />`}
      ${action.done && !action.error && html`<div class="ok">${action.done}: requested.</div>`}
    </${Panel}>`
}

const capturing = (x: CaptureStatus) =>
  x.connector.state === 'RUNNING' && x.connector.tasks.length > 0 && x.connector.tasks.every((t) => t.state === 'RUNNING') && !!x.slot?.active

/** Debezium publishes from the WAL and marks nothing: what it captured is its slot's position, not a row count. */
function CaptureTable(props: { sources: CaptureStatus[] }) {
  return html`
    <table class="table" data-testid="outbox" data-strategy="debezium">
      <thead><tr><th>Service</th><th>Connector</th><th>Slot</th><th class="num" title="current WAL − the slot's confirmed_flush_lsn">Slot lag</th>
        <th class="num" title="outbox rows already captured, kept until pruning">Retained for pruning</th></tr></thead>
      <tbody>${props.sources.map((x) => html`
        <tr data-source=${x.source} data-connector-state=${x.connector.state} data-capturing=${capturing(x) ? 'yes' : 'no'} data-lag-bytes=${x.slot?.lagBytes ?? ''}
          class=${capturing(x) ? '' : 'row-warn'}>
          <td>${x.source}</td>
          <td><span class="mono small">${x.connector.name}</span> <${StatusBadge} status=${x.connector.state} />
            ${x.connector.tasks.map((t) => html` <span class="nowrap" title=${t.trace ?? `task ${t.id}`}><span class="muted small">task</span> <${StatusBadge} status=${t.state} /></span>`)}
            ${x.connector.error && html`<div class="error-text small">${x.connector.error}</div>`}</td>
          <td>${x.slot
            ? html`<span class="mono small">${x.slot.name}</span> ${x.slot.active ? '' : html`<span class="flag bad">inactive</span>`}
                <div class="muted small mono" title="confirmed_flush_lsn / pg_current_wal_lsn()">${x.slot.confirmedFlushLsn ?? '—'} / ${x.slot.currentWalLsn}</div>`
            : html`<span class=${x.error ? 'error-text small' : 'muted small'}>${x.error ?? 'no replication slot: the connector never started on this database'}</span>`}</td>
          <td class="num strong nowrap">${bytes(x.slot?.lagBytes)}</td>
          <td class="num">${x.retained ? html`${number(x.retained.rows)}<div class="muted small">${x.retained.rows ? `oldest ${seconds(x.retained.oldestAgeSeconds)}` : ''}</div>` : '—'}</td>
        </tr>`)}
      </tbody>
    </table>`
}

/** The relay's polling publisher marks rows as it sends them: the unpublished ones are the backlog. */
function BacklogTable(props: { sources: BacklogSource[] }) {
  return html`
    <table class="table" data-testid="outbox" data-strategy="outbox">
      <thead><tr><th>Service</th><th class="num">Unpublished</th><th class="num">Failed attempts</th><th class="num">Oldest waiting</th><th class="num">Published (retained)</th></tr></thead>
      <tbody>${props.sources.map((x) => ('error' in x
        ? html`<tr data-source=${x.source}><td>${x.source}</td><td colspan="4" class="error-text">${x.error}</td></tr>`
        : html`<tr data-source=${x.source} data-unpublished=${x.unpublished}><td>${x.source}</td><td class="num">${number(x.unpublished)}</td><td class="num">${number(x.failed)}</td>
            <td class="num">${seconds(x.oldestUnpublishedAgeSeconds ?? null)}</td><td class="num">${number(x.published)}</td></tr>`))}
      </tbody>
    </table>`
}

function OutboxPanel() {
  const stats = useResource<OutboxStats>('/api/events/stats', { everyMs: 5_000 })
  const s = stats.data
  return html`
    <${Panel} title=${s?.strategy === 'debezium' ? 'Outbox capture (Debezium)' : s?.strategy === 'outbox' ? 'Outbox backlog (relay)' : 'Outbox'} id="outbox"
      loading=${stats.loading} error=${stats.error} retry=${stats.reload}
      actions=${s && html`<span class="muted small" data-testid="outbox-strategy">strategy: <strong>${s.strategy}</strong> · published by ${s.publisher === 'relay' ? 'the relay' : 'Debezium'}</span>`}>
      ${s && (s.strategy === 'debezium' ? html`<${CaptureTable} sources=${s.sources} />` : html`<${BacklogTable} sources=${s.sources} />`)}
      ${s && html`<p class="muted small" data-testid="outbox-explanation">${s.explanation}</p>`}
    </${Panel}>`
}

function DlqSummary() {
  const stats = useResource<DlqStats>('/api/dlq/stats', { everyMs: 10_000 })
  const g = stats.data?.groups ?? []
  const dead = g.reduce((n, x) => n + (x.dead ?? 0), 0)
  return html`
    <${Panel} title="Dead letters" id="dlq-summary" loading=${stats.loading} error=${stats.error} retry=${stats.reload}
      actions=${html`<${Link} href="/ops/dlq" class="btn small">Open dead letters →</${Link}>`}>
      ${stats.data && html`
        <p><strong class=${dead ? 'bad-text' : ''}>${number(dead)}</strong> waiting for an operator.</p>
        ${g.filter((x) => x.dead || x.parked).length > 0 && html`
          <table class="table"><thead><tr><th>Group</th><th>Topic</th><th class="num">Dead</th><th class="num">Parked behind</th></tr></thead>
            <tbody>${g.filter((x) => x.dead || x.parked).map((x) => html`<tr><td class="mono">${x.source} · ${x.group}</td><td class="mono">${x.topic}</td><td class="num">${x.dead}</td><td class="num">${x.parked}</td></tr>`)}</tbody></table>`}
        ${stats.data.unavailable.map((u) => html`<div class="error-text small">${u.source}: ${u.error}</div>`)}`}
    </${Panel}>`
}

function CachesPanel() {
  const caches = useResource<{ services: { name: string; status: string; caches?: unknown; error?: string; detail?: string }[] }>('/api/ops/caches', { everyMs: 10_000 })
  return html`
    <${Panel} title="Caches" id="caches" loading=${caches.loading} error=${caches.error} retry=${caches.reload}>
      ${caches.data && html`
        <div data-testid="caches">
          ${caches.data.services.map((s) => html`
            <div>
              <h3>${s.name} <${StatusBadge} status=${s.status} /></h3>
              ${s.error && html`<div class="error-text">${s.error}</div>`}
              ${s.detail && html`<div class="muted small">${s.detail}</div>`}
              ${s.caches !== undefined && html`<${CacheStats} value=${s.caches} />`}
            </div>`)}
        </div>`}
    </${Panel}>`
}

/** Cache statistics (packages/cache: { caches: { name: stats } }); anything else is shown as it comes. */
function CacheStats(props: { value: unknown }) {
  const named = (props.value as { caches?: unknown } | null)?.caches
  const rows = named && typeof named === 'object' ? Object.entries(named as Record<string, CacheStat>).filter(([, c]) => c && typeof c.hits === 'number') : []
  if (!rows.length) return named && typeof named === 'object' && Object.keys(named).length === 0 ? html`<div class="muted">No caches registered.</div>` : html`<${Json} value=${props.value} />`
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(1)} ms`)
  return html`
    <table class="table small" data-testid="cache-stats">
      <thead><tr><th>Cache</th><th class="num">Hit ratio</th><th class="num">Hits</th><th class="num">Misses</th><th class="num">Loads</th><th class="num">Load avg / p99</th>
        <th class="num">Invalidations</th><th class="num">Stale ignored</th><th class="num">Errors</th><th>State</th></tr></thead>
      <tbody>${rows.map(([name, c]) => html`
        <tr data-cache=${name}>
          <td class="mono">${name}</td>
          <td class="num strong">${c.hitRatio === null ? '—' : `${(c.hitRatio * 100).toFixed(1)} %`}</td>
          <td class="num">${number(c.hits)}</td><td class="num">${number(c.misses)}</td><td class="num">${number(c.loads)}</td>
          <td class="num">${ms(c.loadLatencyMs?.avg)} / ${ms(c.loadLatencyMs?.p99)}</td>
          <td class="num">${number(c.invalidations)}${c.pendingInvalidations ? html` <span class="flag warn">${c.pendingInvalidations} pending</span>` : ''}</td>
          <td class="num">${number(c.staleWritesIgnored ?? null)}</td>
          <td class=${`num ${c.errors ? 'bad-text' : ''}`}>${number(c.errors)}</td>
          <td>${c.degraded ? html`<span class="flag bad">degraded: reads go to the database</span>` : html`<${StatusBadge} status="UP" />`}</td>
        </tr>`)}
      </tbody>
    </table>`
}

export function Operations(props: { session: Session }) {
  const admin = isAdmin(props.session)
  return html`
    <main class="page" data-testid="operations">
      <div class="toolbar"><h1>Operations</h1>${!admin && html`<span class="muted small">Connector restarts and dead-letter actions are for admins.</span>`}</div>
      <${HealthPanel} />
      <${ChartsPanel} />
      <div class="grid two">
        <${OutboxPanel} />
        <${DlqSummary} />
      </div>
      <${ConnectorsPanel} admin=${admin} />
      <${KafkaPanel} />
      <${CachesPanel} />
    </main>`
}
