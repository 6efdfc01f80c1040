// The board's columns, one per status shown: how far each is paged, and the columns as virtual lists of cards.
import { html } from '../html.ts'
import type { ApiError } from '../api.ts'
import { ProblemBox, StatusBadge, VirtualList } from '../components.ts'
import { number } from '../format.ts'
import { orderStatuses, type OrderStatus } from '../orders.ts'
import { renderCard, type Card } from './board-card.ts'

const ROW = 86

export interface ColumnState {
  nextPage: number
  done: boolean
  loading: boolean
  error: ApiError | null
  total: number | null
}

export const freshColumns = (): Record<OrderStatus, ColumnState> =>
  Object.fromEntries(orderStatuses.map((s) => [s, { nextPage: 0, done: false, loading: false, error: null, total: null }])) as Record<OrderStatus, ColumnState>

export function BoardColumns(props: {
  shown: Set<OrderStatus>
  columns: Record<OrderStatus, ColumnState>
  byStatus: Record<OrderStatus, Card[]>
  /** One customer's orders: a single list feeds every column. */
  customerFilter: string | null
  /** Every column failed: the board shows that error once, above the columns. */
  allFailed: boolean
  loadColumn: (status: OrderStatus, reset?: boolean) => Promise<void>
}) {
  const { shown, columns, byStatus, customerFilter, allFailed, loadColumn } = props
  return html`
    <div class="columns">
      ${orderStatuses.filter((s) => shown.has(s)).map((s) => {
        const col = columns[s]
        const items = byStatus[s]
        return html`
          <section class="column" data-column=${s}>
            <header>
              <${StatusBadge} status=${s} />
              <span class="count" data-testid=${`count-${s}`}>${customerFilter ? number(items.length) : col.total === null ? (col.error ? '—' : '…') : number(col.total)}</span>
              ${col.loading && html`<span class="spinner"></span>`}
            </header>
            ${col.error && !allFailed && html`<${ProblemBox} error=${col.error} compact retry=${() => loadColumn(s, true)} />`}
            <${VirtualList} items=${items} rowHeight=${ROW} keyOf=${(c: Card) => c.id} render=${renderCard} testid=${`column-${s}`}
              onEnd=${() => void loadColumn(customerFilter ? 'PENDING' : s)} />
            ${items.length === 0 && !col.loading && !col.error && html`<div class="muted empty">No ${s.toLowerCase()} orders</div>`}
          </section>`
      })}
    </div>`
}
