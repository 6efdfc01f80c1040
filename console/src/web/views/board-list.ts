// The board's list view: every order (or one status's, or one customer's), newest first, as a virtual list that
// asks for the next page when scrolled to its end; paging starts from a page the operator chooses.
import { html } from '../html.ts'
import type { ApiError } from '../api.ts'
import { ProblemBox, StatusBadge, VirtualList } from '../components.ts'
import { Link } from '../router.ts'
import { ago, money, number, shortId } from '../format.ts'
import type { OrderStatus } from '../orders.ts'
import type { Card } from './board-card.ts'

const LIST_ROW = 40

/** How far the list is paged: it starts at `startPage` and loads `nextPage` when scrolled to its end. */
export interface ListPaging {
  startPage: number
  nextPage: number
  done: boolean
  loading: boolean
  error: ApiError | null
  total: number | null
}

export function OrderList(props: {
  list: { current: ListPaging }
  listRows: Card[]
  listSize: number
  setListSize: (size: number) => void
  loadList: (reset?: boolean) => Promise<void>
  customerFilter: string | null
  singleStatus: OrderStatus | undefined
}) {
  const { list, listRows, listSize, setListSize, loadList, customerFilter, singleStatus } = props
  return html`
    <section class="panel list-panel">
      <div class="list-head">
        <span>${list.current.total === null ? '…' : `${number(listRows.length)} shown · ${number(list.current.total)} in ${customerFilter ? "this customer's orders" : singleStatus ? singleStatus.toLowerCase() : 'all orders'}`}</span>
        <label>page size <select value=${listSize} onChange=${(e: Event) => setListSize(Number((e.target as HTMLSelectElement).value))}>
          ${[25, 50, 100].map((n) => html`<option value=${n}>${n}</option>`)}</select></label>
        <label>from page <input class="input small num" type="number" min="1" value=${list.current.startPage + 1}
          onChange=${(e: Event) => { list.current.startPage = Math.max(0, Number((e.target as HTMLInputElement).value) - 1); void loadList(true) }} /></label>
        ${list.current.total !== null && html`<span class="muted">of ${number(Math.max(1, Math.ceil(list.current.total / listSize)))} · loaded through page ${list.current.nextPage}</span>`}
        ${!list.current.done && html`<button class="btn small" onClick=${() => loadList()} disabled=${list.current.loading}>Load next page</button>`}
      </div>
      ${list.current.error && html`<${ProblemBox} error=${list.current.error} retry=${() => loadList(true)} />`}
      <div class="list-row list-header"><span>Order</span><span>Status</span><span>Customer</span><span>Total</span><span>Created</span><span>Updated</span></div>
      <${VirtualList} items=${listRows} rowHeight=${LIST_ROW} keyOf=${(c: Card) => c.id} class="list" testid="order-list" onEnd=${() => loadList()}
        render=${(c: Card) => html`
          <div class=${`list-row ${c.movedAt && Date.now() - c.movedAt < 4000 ? 'moved' : ''}`} data-order-id=${c.id} data-status=${c.status}>
            <${Link} href=${`/orders/${c.id}`} class="mono">${c.id}</${Link}>
            <span><${StatusBadge} status=${c.status} /></span>
            <span class="mono muted">${c.customerId ? shortId(c.customerId) : '…'}</span>
            <span>${c.totalAmount === null ? '…' : money(c.totalAmount, c.currency)}</span>
            <span title=${c.createdAt}>${ago(c.createdAt)}</span>
            <span title=${c.updatedAt}>${ago(c.updatedAt)}</span>
          </div>`} />
    </section>`
}
