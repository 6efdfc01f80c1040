// The customer's tracking page: where the order is, live. Another customer's order answers 404 from the API
// (ids cannot be probed), shown here as "order not found".
import { useEffect, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { useAction, useResource, useTicker } from '../hooks.ts'
import { api } from '../api.ts'
import { openEventStream, type StreamState } from '../sse.ts'
import { Confirm, LiveIndicator, Panel, ProblemBox, StatusBadge } from '../components.ts'
import { Link, navigate } from '../router.ts'
import { ago, dateTime, money, shortId, UUID_RE } from '../format.ts'
import { parseOrderEvent, type HistoryEntry, type Order, type OrderStatus } from '../orders.ts'
import { isStaff, type Session } from '../session.ts'
import { Timeline } from './order.ts'

const STEPS: { status: OrderStatus; label: string }[] = [
  { status: 'PENDING', label: 'Placed' },
  { status: 'CONFIRMED', label: 'Confirmed' },
  { status: 'PROCESSING', label: 'Being prepared' },
  { status: 'SHIPPED', label: 'Shipped' },
  { status: 'DELIVERED', label: 'Delivered' },
]

export function TrackLookup() {
  const [id, setId] = useState('')
  const valid = UUID_RE.test(id.trim())
  return html`
    <main class="page narrow">
      <form class="panel" onSubmit=${(e: Event) => { e.preventDefault(); if (valid) navigate(`/track/${id.trim().toLowerCase()}`) }}>
        <h1>Track an order</h1>
        <label for="order-id">Order number</label>
        <div class="row"><input id="order-id" class="input mono" placeholder="e.g. 3f2b…-…" value=${id} onInput=${(e: Event) => setId((e.target as HTMLInputElement).value)} />
          <button class="btn primary" type="submit" disabled=${!valid}>Track</button></div>
      </form>
    </main>`
}

export function Track(props: { orderId: string; session: Session }) {
  useTicker(10_000)
  const { orderId, session } = props
  const order = useResource<Order>(`/api/orders/${orderId}`)
  const history = useResource<{ entries: HistoryEntry[] }>(`/api/orders/${orderId}/history`)
  const [stream, setStream] = useState<StreamState | null>(null)
  const cancel = useAction()

  useEffect(() => {
    let poll: ReturnType<typeof setInterval> | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const close = openEventStream(`/api/orders/${orderId}/events`, {
      onMessage: (m) => {
        if (m.event === 'resync') return void order.reload()
        const e = parseOrderEvent(m.data)
        if (!e || e.orderId !== orderId) return
        order.setData((o) => (o ? { ...o, status: e.status, updatedAt: e.at ?? o.updatedAt } : o))
        clearTimeout(timer)
        timer = setTimeout(() => { history.reload(); order.reload() }, 250)
      },
      onState: (s) => {
        setStream(s)
        // A missing stream endpoint must not stop tracking: fall back to reading every 5 s. A 404 for the
        // order itself is answered by the order request below.
        if (s.kind === 'failed' && !poll) poll = setInterval(() => { order.reload(); history.reload() }, 5_000)
      },
      onReconnected: () => { order.reload(); history.reload() },
    })
    return () => {
      close()
      clearTimeout(timer)
      if (poll) clearInterval(poll)
    }
  }, [orderId])

  if (order.error && !order.data) {
    const notFound = order.error.status === 404
    return html`
      <main class="page narrow" data-testid="track" data-state=${notFound ? 'not-found' : 'error'}>
        <section class="panel track-card">
          ${notFound
            ? html`
              <h1 data-testid="track-not-found">Order not found</h1>
              <p>We could not find order <code>${orderId}</code> for you (${session.sub}). Check the order number, or sign in as the customer who placed it.</p>
              <p><${Link} href=${isStaff(session) ? '/board' : '/my-orders'}>Your orders</${Link}></p>`
            : html`<h1>Tracking unavailable</h1><${ProblemBox} error=${order.error} retry=${order.reload} />`}
        </section>
      </main>`
  }

  const o = order.data
  const cancelled = o?.status === 'CANCELLED'
  const reached = (s: OrderStatus) => {
    if (!o) return false
    const entries = history.data?.entries ?? []
    return entries.some((e) => e.to === s) || STEPS.findIndex((x) => x.status === s) <= STEPS.findIndex((x) => x.status === o.status)
  }
  const cancelEntry = history.data?.entries.find((e) => e.to === 'CANCELLED')
  return html`
    <main class="page narrow" data-testid="track" data-state="found" data-status=${o?.status}>
      <section class="panel track-card">
        <div class="track-head">
          <div>
            <div class="muted small">Order</div>
            <h1 class="mono" title=${orderId}>#${shortId(orderId)}</h1>
          </div>
          ${o && html`<div class="track-status"><${StatusBadge} status=${o.status} /><div class="muted small">updated ${ago(o.updatedAt)}</div></div>`}
          <${LiveIndicator} state=${stream} fallback="refreshing every 5 s" />
        </div>
        ${order.loading && !o && html`<div class="muted">Loading…</div>`}
        ${o && html`
          <ol class=${`stepper ${cancelled ? 'cancelled' : ''}`} data-testid="stepper">
            ${STEPS.map((s) => html`<li class=${reached(s.status) ? 'done' : ''} data-step=${s.status}><span class="dot"></span>${s.label}</li>`)}
          </ol>
          ${cancelled && html`<div class="notice bad" data-testid="cancelled">This order was cancelled${cancelEntry?.reason ? `: ${cancelEntry.reason}` : '.'}</div>`}
          <div class="track-summary">
            <span>${o.items?.map((i) => `${i.quantity} × ${i.productName}`).join(', ')}</span>
            <strong>${money(o.totalAmount, o.currency)}</strong>
          </div>
          <div class="muted small">Placed ${dateTime(o.createdAt)}</div>
          ${(o.status === 'PENDING' || o.status === 'CONFIRMED') && html`
            <div class="actions">
              <${Confirm} label="Cancel this order" confirmLabel="Yes, cancel my order" danger busy=${!!cancel.busy} testid="customer-cancel"
                onConfirm=${async () => { await cancel.run('Cancel', () => api(`/api/orders/${orderId}`, { method: 'DELETE' })); order.reload(); history.reload() }} />
              <span class="muted small">Possible until it is being prepared; a payment is refunded.</span>
            </div>`}
          ${cancel.error && html`<${ProblemBox} error=${cancel.error} compact />`}`}
      </section>
      <${Panel} title="Timeline" id="track-timeline" loading=${history.loading} error=${history.error} retry=${history.reload}>
        ${history.data && html`<${Timeline} entries=${history.data.entries} showActors=${isStaff(session)} />`}
      </${Panel}>
    </main>`
}
