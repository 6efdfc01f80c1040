// The orders board: one column per status, filled from the paged lists and kept current by the live stream
// GET /api/orders/events. Orders live in one map; columns and the list are views of it, rendered virtually.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { html } from '../html.ts'
import { api, ApiError, type Page } from '../api.ts'
import { openEventStream, type StreamState } from '../sse.ts'
import { LiveIndicator, ProblemBox } from '../components.ts'
import { navigate } from '../router.ts'
import { number, UUID_RE } from '../format.ts'
import { orderStatuses, parseOrderEvent, type Order, type OrderEvent, type OrderStatus } from '../orders.ts'
import { useTicker } from '../hooks.ts'
import type { Session } from '../session.ts'
import { cardOf, isNewer, time, type Card } from './board-card.ts'
import { BoardColumns, freshColumns } from './board-columns.ts'
import { OrderList, type ListPaging } from './board-list.ts'

const COLUMN_PAGE = 50
const LIST_PAGE = 100

const noteOf = (e: OrderEvent) => e.reason ?? e.sagaStep ?? (e.cause && e.cause !== 'saga' ? `by ${e.cause}` : null)

export function Board(_props: { session: Session }) {
  useTicker(5_000)
  const cards = useRef(new Map<string, Card>())
  const columns = useRef(freshColumns())
  const [version, setVersion] = useState(0)
  const frame = useRef<number | null>(null)
  const [mode, setMode] = useState<'board' | 'list'>(() => (new URLSearchParams(location.search).get('view') === 'list' ? 'list' : 'board'))
  const [shown, setShown] = useState<Set<OrderStatus>>(() => new Set(orderStatuses))
  const [customer, setCustomer] = useState('')
  const [search, setSearch] = useState('')
  const [stream, setStream] = useState<StreamState | null>(null)
  const [lookupError, setLookupError] = useState<ApiError | null>(null)

  const rerender = useCallback(() => {
    if (frame.current !== null) return
    frame.current = requestAnimationFrame(() => {
      frame.current = null
      setVersion((v) => v + 1)
    })
  }, [])

  const merge = useCallback((o: Order) => {
    const known = cards.current.get(o.id)
    // A live event newer than this read wins: reads can be a moment behind the stream.
    if (known && isNewer(known, o)) {
      cards.current.set(o.id, { ...cardOf(o), status: known.status, updatedAt: known.updatedAt, version: known.version, note: known.note, movedAt: known.movedAt })
    } else {
      cards.current.set(o.id, { ...cardOf(o), note: known?.note ?? null, movedAt: known?.movedAt ?? null })
    }
  }, [])

  const customerFilter = UUID_RE.test(customer.trim()) ? customer.trim().toLowerCase() : null

  // Board columns: each status paged on its own, or one customer's orders feeding every column.
  const loadColumn = useCallback(async (status: OrderStatus, reset = false) => {
    const col = columns.current[status]
    if (col.loading || (col.done && !reset)) return
    const page = reset ? 0 : col.nextPage
    col.loading = true
    rerender()
    const path = customerFilter
      ? `/api/orders/customer/${customerFilter}?page=${page}&size=${LIST_PAGE}&sort=updatedAt,desc`
      : `/api/orders/status/${status}?page=${page}&size=${COLUMN_PAGE}&sort=updatedAt,desc`
    try {
      const result = await api<Page<Order>>(path)
      result.content.forEach(merge)
      col.error = null
      col.nextPage = page + 1
      col.done = page + 1 >= result.totalPages
      if (!customerFilter) col.total = result.totalElements
    } catch (e) {
      col.error = e instanceof ApiError ? e : new ApiError(path, 0, { detail: String(e) })
    } finally {
      col.loading = false
      rerender()
    }
  }, [customerFilter, merge, rerender])

  const reloadColumns = useCallback(() => {
    columns.current = freshColumns()
    if (customerFilter) void loadColumn('PENDING', true) // one customer: one list feeds every column
    else for (const s of orderStatuses) void loadColumn(s, true)
  }, [customerFilter, loadColumn])

  useEffect(() => {
    reloadColumns()
  }, [reloadColumns])
  const reloadRef = useRef(reloadColumns)
  reloadRef.current = reloadColumns

  // The list view's paging: every order, newest first, loaded page by page as you scroll.
  const [listIds, setListIds] = useState<string[]>([])
  const list = useRef<ListPaging>({ nextPage: 0, done: false, loading: false, error: null, total: null, startPage: 0 })
  const [listSize, setListSize] = useState(LIST_PAGE)
  const singleStatus = shown.size === 1 ? [...shown][0] : undefined
  const listSource = customerFilter ? `/api/orders/customer/${customerFilter}` : singleStatus ? `/api/orders/status/${singleStatus}` : '/api/orders'

  const loadList = useCallback(async (reset = false) => {
    const l = list.current
    if (l.loading || (l.done && !reset)) return
    const page = reset ? l.startPage : l.nextPage
    l.loading = true
    rerender()
    const path = `${listSource}?page=${page}&size=${listSize}&sort=createdAt,desc`
    try {
      const result = await api<Page<Order>>(path)
      result.content.forEach(merge)
      l.error = null
      l.nextPage = page + 1
      l.done = page + 1 >= result.totalPages
      l.total = result.totalElements
      setListIds((ids) => {
        const base = reset ? [] : ids
        const seen = new Set(base)
        return [...base, ...result.content.map((o) => o.id).filter((id) => !seen.has(id))]
      })
    } catch (e) {
      l.error = e instanceof ApiError ? e : new ApiError(path, 0, { detail: String(e) })
    } finally {
      l.loading = false
      rerender()
    }
  }, [listSource, listSize, merge, rerender])

  useEffect(() => {
    if (mode !== 'list') return
    list.current = { ...list.current, nextPage: list.current.startPage, done: false, loading: false, error: null }
    void loadList(true)
  }, [mode, loadList])

  // Details of orders first seen on the stream, read a few at a time.
  const pending = useRef<string[]>([])
  const fetching = useRef(0)
  const pump = useCallback(() => {
    while (fetching.current < 3 && pending.current.length) {
      const id = pending.current.shift() as string
      fetching.current++
      api<Order>(`/api/orders/${id}`)
        .then((o) => { merge(o); rerender() })
        .catch(() => undefined)
        .finally(() => { fetching.current--; pump() })
    }
  }, [merge, rerender])

  // The live stream: each order event updates (or adds) its card and the columns' counts.
  const apply = useCallback((e: OrderEvent) => {
    const now = Date.now()
    const at = e.at ?? new Date(now).toISOString()
    const known = cards.current.get(e.orderId)
    const cols = columns.current
    if (known) {
      if (isNewer(known, { version: e.version ?? null, at }) || (known.version !== null && known.version === e.version)) return // already shown
      if (known.status !== e.status) {
        const from = cols[known.status]
        const to = cols[e.status]
        if (from.total !== null) from.total = Math.max(0, from.total - 1)
        if (to.total !== null) to.total++
      }
      cards.current.set(e.orderId, { ...known, status: e.status, updatedAt: at, version: e.version ?? known.version, note: noteOf(e), movedAt: now })
    } else {
      cards.current.set(e.orderId, {
        id: e.orderId, customerId: null, status: e.status, totalAmount: null, currency: 'USD',
        createdAt: at, updatedAt: at, lines: null, note: noteOf(e), version: e.version ?? null, movedAt: now,
      })
      const to = cols[e.status]
      if (to.total !== null) to.total++
      const prev = e.previousStatus ? cols[e.previousStatus] : null
      if (prev?.total) prev.total--
      if (!e.previousStatus) setListIds((ids) => (ids.includes(e.orderId) ? ids : [e.orderId, ...ids]))
      if (pending.current.length < 500) pending.current.push(e.orderId)
      pump()
    }
    rerender()
  }, [pump, rerender])

  useEffect(() => {
    let poll: ReturnType<typeof setInterval> | undefined
    const close = openEventStream('/api/orders/events', {
      onMessage: (m) => {
        if (m.event === 'resync') return reloadRef.current()
        const e = parseOrderEvent(m.data)
        if (e) apply(e)
      },
      onState: (s) => {
        setStream(s)
        // Without the stream the board still moves: re-read the first page of each column every 5 s.
        if (s.kind === 'failed' && !poll) {
          poll = setInterval(() => {
            if (document.visibilityState !== 'visible') return
            for (const st of orderStatuses) {
              api<Page<Order>>(`/api/orders/status/${st}?page=0&size=${COLUMN_PAGE}&sort=updatedAt,desc`)
                .then((p) => { p.content.forEach(merge); columns.current[st].total = p.totalElements; rerender() })
                .catch(() => undefined)
            }
          }, 5_000)
        }
      },
      // Events missed while disconnected may not be replayed: re-read the columns.
      onReconnected: () => reloadRef.current(),
    })
    return () => {
      close()
      if (poll) clearInterval(poll)
    }
  }, [apply, merge, rerender])

  // What is shown: the search and customer filters over the cards, by column and in list order.
  const term = search.trim().toLowerCase()
  const visible = useCallback((c: Card) =>
    (!term || c.id.startsWith(term) || c.id.includes(term)) && (!customerFilter || c.customerId === customerFilter), [term, customerFilter])

  const byStatus = useMemo(() => {
    const out = Object.fromEntries(orderStatuses.map((s) => [s, [] as Card[]])) as Record<OrderStatus, Card[]>
    for (const c of cards.current.values()) if (visible(c)) out[c.status].push(c)
    for (const s of orderStatuses) out[s].sort((a, b) => time(b.updatedAt) - time(a.updatedAt) || (a.id < b.id ? 1 : -1))
    return out
  }, [version, visible])

  const listRows = useMemo(
    () => listIds.map((id) => cards.current.get(id)).filter((c): c is Card => !!c && visible(c) && shown.has(c.status)),
    [listIds, version, visible, shown],
  )

  const toggle = (s: OrderStatus) =>
    setShown((old) => {
      const next = new Set(old)
      if (next.has(s)) next.delete(s)
      else next.add(s)
      return next.size ? next : new Set(orderStatuses)
    })

  const openSearch = async (e: Event) => {
    e.preventDefault()
    setLookupError(null)
    if (!UUID_RE.test(term)) return
    try {
      await api<Order>(`/api/orders/${term}`)
      navigate(`/orders/${term}`)
    } catch (err) {
      setLookupError(err as ApiError)
    }
  }

  const firstError = orderStatuses.map((s) => columns.current[s].error).find((x) => x) ?? null
  const allFailed = orderStatuses.every((s) => columns.current[s].error)
  const loadedCount = cards.current.size

  return html`
    <main class="page wide board-page" data-testid="board" data-version=${version}>
      <div class="toolbar">
        <h1>Orders</h1>
        <${LiveIndicator} state=${stream} fallback="polling every 5 s" />
        <div class="seg">
          <button class=${`btn small ${mode === 'board' ? 'on' : ''}`} data-testid="mode-board" onClick=${() => setMode('board')}>Board</button>
          <button class=${`btn small ${mode === 'list' ? 'on' : ''}`} data-testid="mode-list" onClick=${() => setMode('list')}>List</button>
        </div>
        <form class="search" onSubmit=${openSearch}>
          <input class="input" type="search" placeholder="Search by order id" value=${search} data-testid="search"
            onInput=${(e: Event) => setSearch((e.target as HTMLInputElement).value)} />
          ${UUID_RE.test(term) && html`<button class="btn small" type="submit">Open</button>`}
        </form>
        <input class=${`input ${customer && !customerFilter ? 'invalid' : ''}`} placeholder="Customer id (UUID)" value=${customer} data-testid="customer-filter"
          title="Show one customer's orders" onInput=${(e: Event) => setCustomer((e.target as HTMLInputElement).value)} />
        <div class="chips" role="group" aria-label="Statuses shown">
          ${orderStatuses.map((s) => html`
            <label class=${`chip ${shown.has(s) ? 'on' : ''}`}>
              <input type="checkbox" checked=${shown.has(s)} onChange=${() => toggle(s)} data-testid=${`filter-${s}`} />${s.toLowerCase()}
            </label>`)}
        </div>
        <span class="muted small">${number(loadedCount)} loaded</span>
      </div>
      ${lookupError && html`<${ProblemBox} error=${lookupError} compact />`}
      ${allFailed && firstError && html`<${ProblemBox} error=${firstError} retry=${reloadColumns} />`}
      ${mode === 'board'
        ? html`<${BoardColumns} shown=${shown} columns=${columns.current} byStatus=${byStatus} customerFilter=${customerFilter} allFailed=${allFailed} loadColumn=${loadColumn} />`
        : html`<${OrderList} list=${list} listRows=${listRows} listSize=${listSize} setListSize=${setListSize} loadList=${loadList} customerFilter=${customerFilter} singleStatus=${singleStatus} />`}
    </main>`
}
