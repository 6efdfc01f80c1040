import type { ComponentChildren, VNode } from 'preact'
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import { html } from './html.ts'
import type { ApiError } from './api.ts'
import { getSession } from './session.ts'
import { Link } from './router.ts'
import type { StreamState } from './sse.ts'

/** What to do about an error, beyond the API's own detail. */
function hintFor(error: ApiError): string | null {
  const session = getSession()
  if (error.status === 0) return 'The console server itself does not answer: start it with `bash scripts/services.sh start console` and reload.'
  if (error.status === 401) return 'Your token is missing, invalid or expired: sign in again with a fresh one (npm run token -- --role operator).'
  if (error.status === 403) return `You are signed in as ${session?.role ?? 'nobody'}; this needs another role. Ask an admin if you should have it.`
  if (error.status === 429) return 'Too many requests from you in this window: wait a little; the panel retries by itself.'
  if (error.status === 502 || error.status === 503 || error.status === 504) return 'The service behind this panel is down or restarting. Other panels keep working; this one retries, or press Retry.'
  if (error.status >= 500) return 'An unexpected error: report it with the correlation id below.'
  return null
}

export function ProblemBox(props: { error: ApiError; retry?: () => void; compact?: boolean }) {
  const { error } = props
  const hint = hintFor(error)
  return html`
    <div class="problem" role="alert" data-testid="problem" data-status=${error.status} data-code=${error.code}>
      <div class="problem-title"><strong>${error.status ? `${error.status} ${error.title}` : error.title}</strong> <code>${error.code}</code></div>
      <div class="problem-detail" data-testid="problem-detail">${error.detail}</div>
      ${error.errors.length > 0 && html`<ul class="problem-errors">${error.errors.map((e) => html`<li><code>${e.field}</code> ${e.message}</li>`)}</ul>`}
      ${!props.compact && hint && html`<div class="problem-hint">${hint}</div>`}
      ${error.status === 401 && html`<div><${Link} href=${`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in again</${Link}></div>`}
      <div class="problem-meta">
        ${error.correlationId && html`<span>correlation id <code>${error.correlationId}</code></span>`}
        ${props.retry && html`<button class="btn small" onClick=${props.retry}>Retry</button>`}
      </div>
    </div>`
}

export function Panel(props: {
  title: string
  id?: string
  actions?: ComponentChildren
  error?: ApiError | null
  loading?: boolean
  retry?: () => void
  empty?: boolean
  emptyText?: string
  class?: string
  children?: ComponentChildren
}) {
  const showSpinner = props.loading && !props.children
  return html`
    <section class=${`panel ${props.class ?? ''}`} data-panel=${props.id ?? props.title} aria-busy=${props.loading ? 'true' : 'false'}>
      <header class="panel-head">
        <h2>${props.title}</h2>
        ${props.loading && html`<span class="spinner" title="loading"></span>`}
        <div class="panel-actions">${props.actions}</div>
      </header>
      ${props.error && html`<${ProblemBox} error=${props.error} retry=${props.retry} />`}
      ${showSpinner ? html`<div class="muted">Loading…</div>` : props.empty ? html`<div class="muted empty">${props.emptyText ?? 'Nothing here.'}</div>` : props.children}
    </section>`
}

const STATUS_CLASS: Record<string, string> = {
  PENDING: 'st-pending', CONFIRMED: 'st-confirmed', PROCESSING: 'st-processing', SHIPPED: 'st-shipped', DELIVERED: 'st-delivered',
  CANCELLED: 'st-cancelled', UP: 'st-up', DOWN: 'st-down', DEGRADED: 'st-degraded', UNKNOWN: 'st-unknown', RUNNING: 'st-up',
  FAILED: 'st-down', PAUSED: 'st-degraded', UNASSIGNED: 'st-degraded', RESTARTING: 'st-degraded', COMPLETED: 'st-up', COMPENSATED: 'st-degraded',
  COMPENSATING: 'st-degraded', COMPENSATION_FAILED: 'st-down', STARTED: 'st-pending', RESERVED: 'st-pending', COMMITTED: 'st-up',
  RELEASED: 'st-unknown', EXPIRED: 'st-degraded', PROCESSED: 'st-up', REFUNDED: 'st-unknown', DEAD: 'st-down', REPLAY_REQUESTED: 'st-pending',
  REPLAYED: 'st-up', DISCARDED: 'st-unknown', absent: 'st-unknown', error: 'st-down', ok: 'st-up',
}

export const StatusBadge = (props: { status: string | null | undefined; title?: string }) =>
  html`<span class=${`badge ${STATUS_CLASS[props.status ?? ''] ?? 'st-unknown'}`} title=${props.title} data-status=${props.status}>${props.status ?? '—'}</span>`

export function LiveIndicator(props: { state: StreamState | null; fallback?: string }) {
  const s = props.state
  if (!s) return html`<span class="live off" data-testid="live" data-live="off">not live</span>`
  switch (s.kind) {
    case 'open':
      return html`<span class="live on" data-testid="live" data-live="on" title="Receiving live updates">● live</span>`
    case 'connecting':
      return html`<span class="live wait" data-testid="live" data-live="connecting">connecting…</span>`
    case 'reconnecting':
      return html`<span class="live wait" data-testid="live" data-live="reconnecting" title=${s.reason}>reconnecting in ${Math.round(s.inMs / 1000)} s</span>`
    case 'failed':
      return html`<span class="live off" data-testid="live" data-live="failed" title=${s.error.detail}>live updates off: ${s.error.status} ${s.error.detail}${props.fallback ? ` — ${props.fallback}` : ''}</span>`
  }
}

/** An SVG sparkline; null values leave gaps. Several series share one scale. */
export function Sparkline(props: { series: { values: (number | null)[]; label: string; class?: string }[]; width?: number; height?: number; format: (v: number | null) => string; testid?: string }) {
  const width = props.width ?? 360
  const height = props.height ?? 64
  const all = props.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)))
  const max = Math.max(...all, 0) || 1
  const n = Math.max(...props.series.map((s) => s.values.length), 2)
  const x = (i: number) => (i / (n - 1)) * (width - 4) + 2
  const y = (v: number) => height - 3 - (v / max) * (height - 8)
  const pathOf = (values: (number | null)[]) => {
    let d = ''
    let pen = false
    values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false
        return
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `
      pen = true
    })
    return d
  }
  return html`
    <div class="spark" data-testid=${props.testid}>
      <svg width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${props.series.map((s) => s.label).join(', ')}>
        <line x1="0" x2=${width} y1=${height - 2} y2=${height - 2} class="spark-axis" />
        ${props.series.map((s, i) => html`<path d=${pathOf(s.values)} class=${`spark-line ${s.class ?? `s${i}`}`} fill="none" />`)}
        ${props.series.map((s, i) => {
          const lastIndex = s.values.length - 1
          const last = s.values[lastIndex]
          return last !== null && last !== undefined && Number.isFinite(last) ? html`<circle cx=${x(lastIndex)} cy=${y(last)} r="2.5" class=${`spark-dot ${s.class ?? `s${i}`}`} />` : null
        })}
      </svg>
      <div class="spark-legend">
        ${props.series.map((s, i) => html`<span class=${`legend ${s.class ?? `s${i}`}`}>${s.label}: <strong>${props.format(s.values.at(-1) ?? null)}</strong></span>`)}
        <span class="muted">max ${props.format(max === 1 && all.length === 0 ? null : max)}</span>
      </div>
    </div>`
}

/**
 * A list that renders only the rows in view (plus a few), so thousands of rows cost what forty do. Rows have a
 * fixed height; `onEnd` fires when the last rows come into view (to load the next page).
 */
export function VirtualList<T>(props: {
  items: T[]
  rowHeight: number
  render: (item: T, index: number) => VNode
  keyOf: (item: T) => string
  onEnd?: () => void
  class?: string
  testid?: string
  overscan?: number
}) {
  const ref = useRef<HTMLDivElement>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const [height, setHeight] = useState(600)
  useLayoutEffect(() => {
    const el = ref.current
    if (!el) return
    setHeight(el.clientHeight || 600)
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])
  const overscan = props.overscan ?? 6
  const first = Math.max(0, Math.floor(scrollTop / props.rowHeight) - overscan)
  const last = Math.min(props.items.length, Math.ceil((scrollTop + height) / props.rowHeight) + overscan)
  const nearEnd = last >= props.items.length - 2
  useEffect(() => {
    if (nearEnd && props.onEnd) props.onEnd()
  }, [nearEnd, props.items.length])
  const visible = useMemo(() => props.items.slice(first, last), [props.items, first, last])
  return html`
    <div class=${`vlist ${props.class ?? ''}`} ref=${ref} data-testid=${props.testid} data-rows=${props.items.length} data-rendered=${visible.length}
         onScroll=${(e: Event) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}>
      <div class="vlist-inner" style=${{ height: `${props.items.length * props.rowHeight}px` }}>
        ${visible.map((item, i) => html`
          <div class="vrow" key=${props.keyOf(item)} style=${{ transform: `translateY(${(first + i) * props.rowHeight}px)`, height: `${props.rowHeight}px` }}>
            ${props.render(item, first + i)}
          </div>`)}
      </div>
    </div>`
}

/** Key/value rendering of any JSON value: for shapes the console does not know in detail. */
export function Json(props: { value: unknown; depth?: number }): VNode {
  const v = props.value
  const depth = props.depth ?? 0
  if (v === null || v === undefined) return html`<span class="muted">—</span>`
  if (typeof v !== 'object') return html`<span>${String(v)}</span>`
  if (Array.isArray(v)) {
    if (v.length === 0) return html`<span class="muted">[]</span>`
    if (depth > 2) return html`<span class="muted">[${v.length} items]</span>`
    return html`<ol class="kv-list">${v.map((x) => html`<li><${Json} value=${x} depth=${depth + 1} /></li>`)}</ol>`
  }
  const entries = Object.entries(v as Record<string, unknown>)
  if (depth > 2) return html`<code>${JSON.stringify(v).slice(0, 120)}</code>`
  return html`<dl class="kv">${entries.map(([k, x]) => html`<dt>${k}</dt><dd><${Json} value=${x} depth=${depth + 1} /></dd>`)}</dl>`
}

export function Confirm(props: { label: string; confirmLabel?: string; danger?: boolean; disabled?: boolean; busy?: boolean; onConfirm: (note: string) => void; withNote?: string; testid?: string }) {
  const [open, setOpen] = useState(false)
  const [note, setNote] = useState('')
  if (!open) {
    return html`<button class=${`btn ${props.danger ? 'danger' : ''}`} disabled=${props.disabled || props.busy} data-testid=${props.testid} onClick=${() => setOpen(true)}>${props.busy ? '…' : props.label}</button>`
  }
  return html`
    <span class="confirm">
      ${props.withNote !== undefined && html`<input class="input small" placeholder=${props.withNote} value=${note} onInput=${(e: Event) => setNote((e.target as HTMLInputElement).value)} data-testid=${props.testid ? `${props.testid}-note` : undefined} />`}
      <button class=${`btn ${props.danger ? 'danger' : 'primary'}`} data-testid=${props.testid ? `${props.testid}-confirm` : undefined}
        onClick=${() => { setOpen(false); props.onConfirm(note) }}>${props.confirmLabel ?? `Yes, ${props.label.toLowerCase()}`}</button>
      <button class="btn ghost" onClick=${() => setOpen(false)}>Keep</button>
    </span>`
}
