// One order for operators and admins: items, totals, address (full only for admins), timeline, saga steps,
// payment and reservation, and the actions the signed-in role may take. Live: GET /api/orders/{id}/events.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api } from '../api.ts'
import { useAction, useResource, useTicker } from '../hooks.ts'
import { openEventStream, type StreamState } from '../sse.ts'
import { Confirm, LiveIndicator, Panel, ProblemBox, StatusBadge } from '../components.ts'
import { Link } from '../router.ts'
import { ago, dateTime, duration, mask, money, shortId } from '../format.ts'
import { isTerminal, nextAction, parseOrderEvent, type HistoryEntry, type Order } from '../orders.ts'
import { isAdmin, type Session } from '../session.ts'

export interface SagaStep {
  name: string
  kind: string
  status: string
  attempts: number
  startedAt: string
  completedAt: string | null
  durationMs: number | null
  error: string | null
}

export interface Saga {
  id: string
  orderId: string
  status: string
  currentStep: string | null
  stepDeadline: string | null
  compensationAttempts: number
  reservation: string
  payment: string
  paymentId: string | null
  totalAmount: number
  currency: string
  cancelReason: string | null
  cause: string | null
  cancelledBy: string | null
  correlationId: string
  createdAt: string
  completedAt: string | null
  durationMs: number | null
  steps: SagaStep[]
}

interface Payment {
  id: string
  status: string
  amount: number
  currency: string | null
  gatewayChargeId: string | null
  failureCode: string | null
  failureReason: string | null
  attempts: number
  refund: { status: string; amount: number; reason: string; createdAt: string } | null
  createdAt: string
  updatedAt: string
}

interface Reservation {
  id: string
  productId: string
  productName: string
  quantity: number
  unitPrice: number
  status: string
  reservedAt: string
  expiresAt: string
  releasedAt: string | null
  committedAt: string | null
}

export function Timeline(props: { entries: HistoryEntry[]; showActors: boolean }) {
  return html`
    <ol class="timeline" data-testid="timeline">
      ${props.entries.map((e) => html`
        <li data-to=${e.to}>
          <div class="tl-dot"></div>
          <div class="tl-body">
            <div><${StatusBadge} status=${e.to} /> ${e.from ? html`<span class="muted">from ${e.from}</span>` : html`<span class="muted">order placed</span>`}</div>
            <div class="muted small" title=${e.at}>${dateTime(e.at)} · ${e.cause}${props.showActors && e.actor ? ` · ${e.actor}` : ''}</div>
            ${e.reason && html`<div class="tl-reason">${e.reason}</div>`}
          </div>
        </li>`)}
    </ol>`
}

export function OrderPage(props: { id: string; session: Session }) {
  useTicker(5_000)
  const { id, session } = props
  const admin = isAdmin(session)
  const order = useResource<Order>(`/api/orders/${id}`)
  const history = useResource<{ orderId: string; entries: HistoryEntry[] }>(`/api/orders/${id}/history`)
  const saga = useResource<Saga>(`/api/sagas/order/${id}`)
  const payment = useResource<Payment>(`/api/payments/order/${id}`)
  const reservations = useResource<Reservation[]>(`/api/inventory/reservations/order/${id}`)
  const [stream, setStream] = useState<StreamState | null>(null)
  const [lastEvent, setLastEvent] = useState<string | null>(null)
  const action = useAction()

  const reloadAll = useCallback(() => {
    order.reload()
    history.reload()
    saga.reload()
    payment.reload()
    reservations.reload()
  }, [order.reload, history.reload, saga.reload, payment.reload, reservations.reload])

  // Several events of one change arrive together: reload once after they settle.
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null)
  const snapshots = useRef(0)
  const reloadSoon = useCallback(() => {
    if (timer.current) clearTimeout(timer.current)
    timer.current = setTimeout(reloadAll, 250)
  }, [reloadAll])

  useEffect(() => {
    let poll: ReturnType<typeof setInterval> | undefined
    const close = openEventStream(`/api/orders/${id}/events`, {
      onMessage: (m) => {
        if (m.event === 'resync') return reloadSoon()
        const e = parseOrderEvent(m.data)
        if (!e || e.orderId !== id) return
        if (m.event === 'snapshot') {
          // The first snapshot is what was just loaded; a later one follows a reconnect that could not resume.
          if (snapshots.current++ > 0) reloadSoon()
          return
        }
        setLastEvent(`${e.previousStatus ? `${e.previousStatus} → ` : ''}${e.status}${e.cause ? ` by ${e.cause}` : ''}${e.sagaStep ? ` (${e.sagaStep})` : ''}${e.reason ? `: ${e.reason}` : ''}`)
        order.setData((o) => (o ? { ...o, status: e.status } : o))
        reloadSoon()
      },
      onState: (s) => {
        setStream(s)
        // Without the stream the page still follows the order: re-read it every 5 s.
        if (s.kind === 'failed' && !poll) poll = setInterval(reloadAll, 5_000)
      },
      onReconnected: reloadAll,
    })
    return () => {
      close()
      if (poll) clearInterval(poll)
      if (timer.current) clearTimeout(timer.current)
    }
  }, [id])

  if (order.error && !order.data) {
    const notFound = order.error.status === 404
    return html`
      <main class="page narrow" data-testid="order-page">
        <${Panel} title=${notFound ? 'Order not found' : 'Order'} id="order">
          ${notFound ? html`<p data-testid="order-not-found">No order <code>${id}</code>. It may belong to another customer, or the id is mistyped.</p>` : null}
          <${ProblemBox} error=${order.error} retry=${order.reload} />
        </${Panel}>
      </main>`
  }

  const o = order.data
  const next = o ? nextAction[o.status] : undefined
  const ifMatch = o?.version !== undefined ? { 'if-match': `"${o.version}"` } : undefined
  const advance = async () => {
    if (!o || !next) return
    const updated = await action.run(next.label, () => api<Order>(`/api/orders/${id}/${next.action}`, { method: 'POST', ...(ifMatch ? { headers: ifMatch } : {}) }))
    if (updated) order.setData(() => updated)
    reloadSoon()
  }
  const cancel = async (reason: string) => {
    const q = reason.trim() ? `?reason=${encodeURIComponent(reason.trim())}` : ''
    const result = await action.run('Cancel', () => api<Order | { order: Order; cancellation: string }>(`/api/orders/${id}${q}`, { method: 'DELETE' }))
    if (result) order.setData(() => ('order' in result ? result.order : result))
    reloadSoon()
  }
  const sagaAction = async (kind: 'retry' | 'compensate') => {
    if (!saga.data) return
    const updated = await action.run(kind === 'retry' ? 'Retry compensation' : 'Compensate', () =>
      api<Saga>(`/api/sagas/${saga.data?.id}/${kind}`, { method: 'POST', ...(kind === 'compensate' ? { body: { reason: 'compensated from the console' } } : {}) }))
    if (updated) saga.setData(() => updated)
    reloadSoon()
  }

  const addr = o?.address
  const showAddr = (v: string | null | undefined) => (admin ? (v ?? '—') : mask(v))
  const s = saga.data

  return html`
    <main class="page order-page" data-testid="order-page" data-order-id=${id} data-status=${o?.status}>
      <div class="toolbar">
        <${Link} href="/board" class="muted">← Orders</${Link}>
        <h1>Order <span class="mono" title=${id}>${shortId(id)}</span></h1>
        ${o && html`<${StatusBadge} status=${o.status} />`}
        <${LiveIndicator} state=${stream} fallback="refreshing every 5 s" />
        ${lastEvent && html`<span class="muted small" data-testid="last-event">last change: ${lastEvent}</span>`}
        <button class="btn small ghost" onClick=${reloadAll}>Refresh</button>
      </div>

      <div class="grid two">
        <${Panel} title="Summary" id="summary" loading=${order.loading} error=${order.error} retry=${order.reload}>
          ${o && html`
            <dl class="facts">
              <dt>Order id</dt><dd class="mono">${o.id}</dd>
              <dt>Status</dt><dd><${StatusBadge} status=${o.status} /></dd>
              ${o.status === 'CANCELLED' && html`
                <dt>Cancelled</dt>
                <dd data-testid="cancellation" data-cancelled-by=${o.cancelledBy ?? ''}>
                  <span data-testid="cancellation-reason">${o.cancellationReason ?? '—'}</span>
                  <span class="muted"> by </span><span class="mono" data-testid="cancelled-by">${o.cancelledBy ?? '—'}</span>
                </dd>`}
              <dt>Customer</dt><dd class="mono">${o.customerId}</dd>
              <dt>Total</dt><dd class="amount big" data-testid="order-total">${money(o.totalAmount, o.currency)}</dd>
              <dt>Placed</dt><dd title=${o.createdAt}>${dateTime(o.createdAt)} (${ago(o.createdAt)})</dd>
              <dt>Updated</dt><dd title=${o.updatedAt}>${dateTime(o.updatedAt)} (${ago(o.updatedAt)})</dd>
              ${o.version !== undefined && html`<dt>Version</dt><dd>${o.version}</dd>`}
            </dl>`}
        </${Panel}>

        <${Panel} title="Actions" id="actions">
          ${o && html`
            <div class="actions" data-testid="actions">
              ${next && html`<button class="btn primary" data-testid="advance" disabled=${!!action.busy} onClick=${advance}>${action.busy === next.label ? '…' : next.label}</button>`}
              ${!isTerminal(o.status) && html`<${Confirm} label="Cancel order" confirmLabel="Yes, cancel it" danger withNote="reason (optional)" busy=${action.busy === 'Cancel'} onConfirm=${cancel} testid="cancel" />`}
              ${admin && s?.status === 'COMPENSATION_FAILED' && html`<${Confirm} label="Retry compensation" busy=${!!action.busy} onConfirm=${() => sagaAction('retry')} testid="saga-retry" />`}
              ${admin && s?.status === 'RUNNING' && html`<${Confirm} label="Force compensation" danger busy=${!!action.busy} onConfirm=${() => sagaAction('compensate')} testid="saga-compensate" />`}
              ${isTerminal(o.status) && html`<span class="muted">This order is ${o.status.toLowerCase()}: nothing more to do.</span>`}
            </div>
            ${!admin && html`<p class="muted small">Saga retry/compensation is for admins.</p>`}
            ${action.error && html`<${ProblemBox} error=${action.error} compact />`}
            ${action.done && !action.error && html`<div class="ok" data-testid="action-done">${action.done}: done.</div>`}`}
        </${Panel}>
      </div>

      <div class="grid two">
        <${Panel} title="Items" id="items" loading=${order.loading}>
          ${o?.items && html`
            <table class="table" data-testid="items">
              <thead><tr><th>Product</th><th>Name</th><th class="num">Qty</th><th class="num">Unit</th><th class="num">Total</th></tr></thead>
              <tbody>${o.items.map((i) => html`<tr><td class="mono">${i.productId}</td><td>${i.productName}</td><td class="num">${i.quantity}</td><td class="num">${money(i.unitPrice, o.currency)}</td><td class="num">${money(i.totalPrice, o.currency)}</td></tr>`)}</tbody>
              <tfoot><tr><td colspan="4">Total</td><td class="num"><strong>${money(o.totalAmount, o.currency)}</strong></td></tr></tfoot>
            </table>`}
        </${Panel}>

        <${Panel} title=${admin ? 'Delivery address' : 'Delivery address (masked)'} id="address">
          ${addr && html`
            <address data-testid="address" data-masked=${admin ? 'no' : 'yes'}>
              <div>${showAddr(addr.streetAddress)}</div>
              <div>${addr.postalCode} ${addr.city}${addr.state ? `, ${addr.state}` : ''}</div>
              <div>${addr.country}</div>
              <div>☎ ${showAddr(addr.phoneNumber)}</div>
              ${o?.deliveryInstructions && html`<div class="muted">“${admin ? o.deliveryInstructions : mask(o.deliveryInstructions)}”</div>`}
            </address>
            ${!admin && html`<p class="muted small">Street and phone are masked; only admins see them in full.</p>`}`}
        </${Panel}>
      </div>

      <div class="grid two">
        <${Panel} title="Saga" id="saga" loading=${saga.loading} error=${saga.error} retry=${saga.reload}
          actions=${s && html`<${StatusBadge} status=${s.status} /> <span class="muted small">${s.durationMs !== null ? `took ${duration(s.durationMs)}` : `running ${ago(s.createdAt).replace(' ago', '')}`}</span>`}>
          ${s && html`
            <table class="table" data-testid="saga-steps" data-saga-status=${s.status}>
              <thead><tr><th>#</th><th>Step</th><th>Kind</th><th>Status</th><th class="num">Attempts</th><th>Started</th><th class="num">Duration</th></tr></thead>
              <tbody>
                ${s.steps.map((st, i) => html`
                  <tr data-step=${st.name} data-step-status=${st.status} class=${st.kind === 'compensation' ? 'compensation' : ''}>
                    <td>${i + 1}</td>
                    <td class="mono">${st.name}${st.error && html`<div class="error-text">${st.error}</div>`}</td>
                    <td>${st.kind}</td>
                    <td><${StatusBadge} status=${st.status} /></td>
                    <td class="num">${st.attempts}</td>
                    <td title=${st.startedAt}>${dateTime(st.startedAt)}</td>
                    <td class="num">${duration(st.durationMs)}</td>
                  </tr>`)}
              </tbody>
            </table>
            <dl class="facts small">
              <dt>Reservation</dt><dd>${s.reservation}</dd>
              <dt>Payment</dt><dd>${s.payment}</dd>
              ${s.currentStep && html`<dt>Waiting for</dt><dd>${s.currentStep}${s.stepDeadline ? ` until ${dateTime(s.stepDeadline)}` : ''}</dd>`}
              ${s.cancelReason && html`<dt>Cancel reason</dt><dd>${s.cancelReason}</dd>`}
              <dt>Correlation id</dt><dd class="mono">${s.correlationId}</dd>
            </dl>`}
        </${Panel}>

        <${Panel} title="Timeline" id="timeline" loading=${history.loading} error=${history.error} retry=${history.reload}>
          ${history.data && html`<${Timeline} entries=${history.data.entries} showActors />`}
        </${Panel}>
      </div>

      <div class="grid two">
        <${Panel} title="Payment" id="payment" loading=${payment.loading} error=${payment.error && payment.error.status !== 404 ? payment.error : null} retry=${payment.reload}>
          ${payment.error?.status === 404 && html`<p class="muted">No payment yet: it is taken after stock is reserved.</p>`}
          ${payment.data && html`
            <dl class="facts" data-testid="payment" data-payment-status=${payment.data.status}>
              <dt>Status</dt><dd><${StatusBadge} status=${payment.data.status} /></dd>
              <dt>Amount</dt><dd>${money(payment.data.amount, payment.data.currency ?? 'USD')}</dd>
              <dt>Charge</dt><dd class="mono">${payment.data.gatewayChargeId ?? '—'}</dd>
              <dt>Attempts</dt><dd>${payment.data.attempts}</dd>
              ${payment.data.failureReason && html`<dt>Failure</dt><dd class="error-text">${payment.data.failureCode}: ${payment.data.failureReason}</dd>`}
              ${payment.data.refund && html`<dt>Refund</dt><dd>${payment.data.refund.status} ${money(payment.data.refund.amount, payment.data.currency ?? 'USD')} — ${payment.data.refund.reason}</dd>`}
              <dt>Updated</dt><dd>${dateTime(payment.data.updatedAt)}</dd>
            </dl>`}
        </${Panel}>

        <${Panel} title="Stock reservation" id="reservation" loading=${reservations.loading} error=${reservations.error} retry=${reservations.reload}
          empty=${reservations.data?.length === 0} emptyText="No reservation for this order.">
          ${reservations.data && reservations.data.length > 0 && html`
            <table class="table" data-testid="reservations">
              <thead><tr><th>Product</th><th class="num">Qty</th><th>Status</th><th>Reserved</th><th>Expires / ended</th></tr></thead>
              <tbody>${reservations.data.map((r) => html`
                <tr><td><span class="mono">${r.productId}</span> ${r.productName}</td><td class="num">${r.quantity}</td><td><${StatusBadge} status=${r.status} /></td>
                  <td>${dateTime(r.reservedAt)}</td><td>${dateTime(r.committedAt ?? r.releasedAt ?? r.expiresAt)}</td></tr>`)}
              </tbody>
            </table>`}
        </${Panel}>
      </div>
    </main>`
}
