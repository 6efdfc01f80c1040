// Stock levels (low stock highlighted), reservations by state, and admins' stock adjustments.
import { useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api, pageNumber, type Page } from '../api.ts'
import { useAction, useResource } from '../hooks.ts'
import { Panel, ProblemBox, StatusBadge } from '../components.ts'
import { Link } from '../router.ts'
import { ago, dateTime, money, number, shortId } from '../format.ts'
import { isAdmin, type Session } from '../session.ts'

interface Item {
  productId: string
  productName: string
  category: string | null
  availableQuantity: number
  reservedQuantity: number
  soldQuantity: number
  onHandQuantity: number
  unitPrice: number
  minStockLevel: number | null
  reorderQuantity: number | null
  isActive: boolean
  isDiscontinued: boolean
  isLowStock: boolean
  isOutOfStock: boolean
  needsReordering: boolean
  updatedAt: string
}

interface Reservation {
  id: string
  orderId: string
  productId: string
  productName: string
  quantity: number
  status: string
  reservedAt: string
  expiresAt: string
  releasedAt: string | null
  committedAt: string | null
}

interface Stats {
  totalItems: number
  totalAvailableQuantity: number
  totalReservedQuantity: number
  totalSoldQuantity?: number
  outOfStockItems: number
  lowStockItems?: number
}

const RESERVATION_STATES = ['RESERVED', 'COMMITTED', 'RELEASED', 'EXPIRED'] as const
const REASONS = ['RECEIVED', 'WRITE_OFF', 'CORRECTION'] as const

function Pager(props: { page: Page<unknown> | null; onPage: (n: number) => void }) {
  const p = props.page
  if (!p || p.totalPages <= 1) return null
  const n = pageNumber(p)
  return html`
    <span class="pager">
      <button class="btn small" disabled=${n <= 0} onClick=${() => props.onPage(n - 1)}>‹</button>
      page ${n + 1} of ${p.totalPages}
      <button class="btn small" disabled=${n + 1 >= p.totalPages} onClick=${() => props.onPage(n + 1)}>›</button>
    </span>`
}

function AdjustForm(props: { item: Item; onDone: () => void; onCancel: () => void }) {
  const [quantity, setQuantity] = useState('')
  const [reason, setReason] = useState<(typeof REASONS)[number]>('RECEIVED')
  const [note, setNote] = useState('')
  const action = useAction()
  const submit = async (e: Event) => {
    e.preventDefault()
    const q = Number(quantity)
    const done = await action.run('Adjust', () =>
      api(`/api/inventory/items/${encodeURIComponent(props.item.productId)}/adjustments`, { method: 'POST', body: { quantity: q, reason, note: note.trim() || null } }))
    if (done) props.onDone()
  }
  return html`
    <form class="adjust" onSubmit=${submit} data-testid=${`adjust-form-${props.item.productId}`}>
      <select value=${reason} onChange=${(e: Event) => setReason((e.target as HTMLSelectElement).value as typeof reason)} data-testid="adjust-reason">
        ${REASONS.map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
      <input class="input small num" type="number" step="1" required placeholder=${reason === 'WRITE_OFF' ? '-5' : '+10'} value=${quantity}
        onInput=${(e: Event) => setQuantity((e.target as HTMLInputElement).value)} data-testid="adjust-quantity" />
      <input class="input small" placeholder="note" value=${note} maxLength=${500} onInput=${(e: Event) => setNote((e.target as HTMLInputElement).value)} />
      <button class="btn primary small" type="submit" disabled=${!quantity || !!action.busy} data-testid="adjust-submit">Apply</button>
      <button class="btn ghost small" type="button" onClick=${props.onCancel}>Close</button>
      ${action.error && html`<${ProblemBox} error=${action.error} compact />`}
    </form>`
}

export function Inventory(props: { session: Session }) {
  const admin = isAdmin(props.session)
  const [itemPage, setItemPage] = useState(0)
  const [category, setCategory] = useState('')
  const [state, setState] = useState<(typeof RESERVATION_STATES)[number]>('RESERVED')
  const [resPage, setResPage] = useState(0)
  const [adjusting, setAdjusting] = useState<string | null>(null)
  const items = useResource<Page<Item>>(`/api/inventory/items?page=${itemPage}&size=25&sort=productName,asc${category ? `&category=${encodeURIComponent(category)}` : ''}`, { everyMs: 10_000 })
  const stats = useResource<Stats>('/api/inventory/items/stats', { everyMs: 10_000 })
  const reservations = useResource<Page<Reservation>>(`/api/inventory/reservations?status=${state}&page=${resPage}&size=25&sort=createdAt,desc`, { everyMs: 10_000 })

  const st = stats.data
  return html`
    <main class="page" data-testid="inventory">
      <div class="toolbar"><h1>Inventory</h1>${!admin && html`<span class="muted small">Stock adjustments are for admins.</span>`}</div>
      <${Panel} title="Totals" id="stock-stats" loading=${stats.loading} error=${stats.error} retry=${stats.reload}>
        ${st && html`
          <div class="tiles">
            <div class="tile"><span>${number(st.totalItems)}</span>products</div>
            <div class="tile"><span>${number(st.totalAvailableQuantity)}</span>available</div>
            <div class="tile"><span>${number(st.totalReservedQuantity)}</span>reserved</div>
            ${st.totalSoldQuantity !== undefined && html`<div class="tile"><span>${number(st.totalSoldQuantity)}</span>sold</div>`}
            <div class=${`tile ${st.lowStockItems ? 'warn' : ''}`}><span>${number(st.lowStockItems ?? null)}</span>low stock</div>
            <div class=${`tile ${st.outOfStockItems ? 'bad' : ''}`}><span>${number(st.outOfStockItems)}</span>out of stock</div>
          </div>`}
      </${Panel}>

      <${Panel} title="Stock levels" id="stock" loading=${items.loading} error=${items.error} retry=${items.reload}
        actions=${html`
          <input class="input small" placeholder="category" data-testid="category-filter" value=${category} onChange=${(e: Event) => { setCategory((e.target as HTMLInputElement).value.trim()); setItemPage(0) }} />
          <${Pager} page=${items.data} onPage=${setItemPage} />`}
        empty=${items.data?.content.length === 0} emptyText="No items.">
        ${items.data && items.data.content.length > 0 && html`
          <table class="table" data-testid="stock-table">
            <thead><tr><th>Product</th><th>Name</th><th>Category</th><th class="num">Available</th><th class="num">Reserved</th><th class="num">Sold</th>
              <th class="num">Min</th><th class="num">Price</th><th>Flags</th><th>Updated</th>${admin && html`<th></th>`}</tr></thead>
            <tbody>
              ${items.data.content.map((i) => html`
                <tr class=${i.isOutOfStock ? 'row-bad' : i.isLowStock ? 'row-warn' : ''} data-product-id=${i.productId} data-low-stock=${i.isLowStock ? 'yes' : 'no'}>
                  <td class="mono">${i.productId}</td>
                  <td>${i.productName}</td>
                  <td>${i.category ?? '—'}</td>
                  <td class="num strong" data-testid="available">${number(i.availableQuantity)}</td>
                  <td class="num">${number(i.reservedQuantity)}</td>
                  <td class="num">${number(i.soldQuantity)}</td>
                  <td class="num">${number(i.minStockLevel)}</td>
                  <td class="num">${money(i.unitPrice)}</td>
                  <td class="flags">
                    ${i.isOutOfStock && html`<span class="flag bad">out of stock</span>`}
                    ${i.isLowStock && !i.isOutOfStock && html`<span class="flag warn">low stock</span>`}
                    ${i.needsReordering && html`<span class="flag">reorder ${i.reorderQuantity ?? ''}</span>`}
                    ${i.isDiscontinued && html`<span class="flag">discontinued</span>`}
                    ${!i.isActive && !i.isDiscontinued && html`<span class="flag">inactive</span>`}
                  </td>
                  <td title=${i.updatedAt}>${ago(i.updatedAt)}</td>
                  ${admin && html`<td>${adjusting === i.productId
                    ? html`<${AdjustForm} item=${i} onDone=${() => { setAdjusting(null); items.reload(); stats.reload() }} onCancel=${() => setAdjusting(null)} />`
                    : html`<button class="btn small" data-testid=${`adjust-${i.productId}`} onClick=${() => setAdjusting(i.productId)}>Adjust</button>`}</td>`}
                </tr>`)}
            </tbody>
          </table>`}
      </${Panel}>

      <${Panel} title="Reservations" id="reservations" loading=${reservations.loading} error=${reservations.error} retry=${reservations.reload}
        actions=${html`
          <div class="seg">${RESERVATION_STATES.map((s) => html`<button class=${`btn small ${state === s ? 'on' : ''}`} data-testid=${`res-${s}`} onClick=${() => { setState(s); setResPage(0) }}>${s.toLowerCase()}</button>`)}</div>
          ${reservations.data && html`<span class="muted small">${number(reservations.data.totalElements)} ${state.toLowerCase()}</span>`}
          <${Pager} page=${reservations.data} onPage=${setResPage} />`}
        empty=${reservations.data?.content.length === 0} emptyText=${`No ${state.toLowerCase()} reservations.`}>
        ${reservations.data && reservations.data.content.length > 0 && html`
          <table class="table" data-testid="reservations-table">
            <thead><tr><th>Order</th><th>Product</th><th class="num">Qty</th><th>Status</th><th>Reserved</th><th>${state === 'RESERVED' ? 'Expires' : 'Ended'}</th></tr></thead>
            <tbody>${reservations.data.content.map((r) => html`
              <tr>
                <td><${Link} href=${`/orders/${r.orderId}`} class="mono">${shortId(r.orderId)}</${Link}></td>
                <td><span class="mono">${r.productId}</span> ${r.productName}</td>
                <td class="num">${r.quantity}</td>
                <td><${StatusBadge} status=${r.status} /></td>
                <td title=${r.reservedAt}>${ago(r.reservedAt)}</td>
                <td>${state === 'RESERVED' ? dateTime(r.expiresAt) : dateTime(r.committedAt ?? r.releasedAt ?? r.expiresAt)}</td>
              </tr>`)}
            </tbody>
          </table>`}
      </${Panel}>
    </main>`
}
