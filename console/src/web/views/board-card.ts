// An order as the board shows it: a card, made from a read or from a live event, which of two readings is newer,
// and how a card renders in a column.
import { html } from '../html.ts'
import { Link } from '../router.ts'
import { ago, money, shortId } from '../format.ts'
import type { Order, OrderStatus } from '../orders.ts'

export interface Card {
  id: string
  customerId: string | null
  status: OrderStatus
  totalAmount: number | null
  currency: string
  createdAt: string
  updatedAt: string
  lines: number | null
  note: string | null
  version: number | null
  /** Client time of the last live change, for a short highlight. */
  movedAt: number | null
}

export const cardOf = (o: Order): Card => ({
  id: o.id,
  customerId: o.customerId,
  status: o.status,
  totalAmount: o.totalAmount,
  currency: o.currency,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
  lines: o.items?.length ?? null,
  note: null,
  version: o.version ?? null,
  movedAt: null,
})

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : 0)

/** Whether what the card shows is later than `other`: by row version when both have one, else by time. */
export const isNewer = (card: Card, other: { version?: number | null; updatedAt?: string; at?: string }) =>
  card.version !== null && other.version != null ? card.version > other.version : time(card.updatedAt) > time(other.updatedAt ?? other.at)

export const renderCard = (c: Card) => html`
  <article class=${`card ${c.movedAt && Date.now() - c.movedAt < 4000 ? 'moved' : ''}`} data-order-id=${c.id} data-status=${c.status}>
    <div class="card-top">
      <${Link} href=${`/orders/${c.id}`} class="mono card-id" title=${c.id}>#${shortId(c.id)}</${Link}>
      <span class="amount">${c.totalAmount === null ? '…' : money(c.totalAmount, c.currency)}</span>
    </div>
    <div class="card-meta muted">
      ${c.customerId ? html`<span title=${c.customerId}>cust ${shortId(c.customerId)}</span>` : html`<span>loading…</span>`}
      ${c.lines !== null && html`<span>· ${c.lines} line${c.lines === 1 ? '' : 's'}</span>`}
    </div>
    <div class="card-foot">
      <span class="muted" title=${c.updatedAt}>${ago(c.updatedAt)}</span>
      ${c.note && html`<span class="card-note" title=${c.note}>${c.note}</span>`}
    </div>
  </article>`
