// A customer's own orders (GET /api/orders/customer/{sub}), each linking to its tracking page.
import { useState } from 'preact/hooks'
import { html } from '../html.ts'
import { useResource } from '../hooks.ts'
import type { Page } from '../api.ts'
import { Panel, StatusBadge } from '../components.ts'
import { Link } from '../router.ts'
import { ago, money, shortId } from '../format.ts'
import type { Order } from '../orders.ts'
import type { Session } from '../session.ts'

export function MyOrders(props: { session: Session }) {
  const [page, setPage] = useState(0)
  const orders = useResource<Page<Order>>(`/api/orders/customer/${encodeURIComponent(props.session.sub)}?page=${page}&size=20&sort=createdAt,desc`, { everyMs: 10_000 })
  const p = orders.data
  return html`
    <main class="page narrow" data-testid="my-orders">
      <${Panel} title="My orders" id="my-orders" loading=${orders.loading} error=${orders.error} retry=${orders.reload}
        empty=${p?.content.length === 0} emptyText="You have no orders yet."
        actions=${p && p.totalPages > 1 && html`<span class="pager"><button class="btn small" disabled=${page === 0} onClick=${() => setPage(page - 1)}>‹</button> page ${page + 1} of ${p.totalPages} <button class="btn small" disabled=${page + 1 >= p.totalPages} onClick=${() => setPage(page + 1)}>›</button></span>`}>
        ${p && p.content.length > 0 && html`
          <table class="table">
            <thead><tr><th>Order</th><th>Status</th><th>Items</th><th class="num">Total</th><th>Placed</th></tr></thead>
            <tbody>${p.content.map((o) => html`
              <tr data-order-id=${o.id}>
                <td><${Link} href=${`/track/${o.id}`} class="mono">#${shortId(o.id)}</${Link}></td>
                <td><${StatusBadge} status=${o.status} /></td>
                <td>${o.items?.map((i) => `${i.quantity} × ${i.productName}`).join(', ')}</td>
                <td class="num">${money(o.totalAmount, o.currency)}</td>
                <td>${ago(o.createdAt)}</td>
              </tr>`)}
            </tbody>
          </table>`}
      </${Panel}>
    </main>`
}
