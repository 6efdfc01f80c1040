// The live-update routes: GET /api/orders/{id}/events (the order's owner, or staff) and GET /api/orders/events
// (staff: every order), Server-Sent Events from the fan-out createLiveOrders (live-orders.ts) keeps.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { canSee, problems, type App } from '@trackops/http'
import { createClientQueue, formatSse, streamToClient, type ClientItem, type ClientQueue, type FanoutMessage } from '@trackops/live'
import type { Order } from './order.ts'
import { getOrder, type Db } from './order-store.ts'
import { findHistoryEntry } from './history-store.ts'
import { orderNotFound } from './change-status.ts'
import { HEARTBEAT_MS, orderEventOf, type LiveOrders, type OrderEvent } from './live-orders.ts'

type Frame = { kind: 'event'; name: 'snapshot' | 'status'; id?: string; event: OrderEvent } | { kind: 'resync' } | { kind: 'heartbeat' }

const frameOf = (item: ClientItem<Frame>): string => {
  if (item.type === 'gap') return formatSse({ event: 'resync', data: { dropped: item.dropped } })
  const f = item.message
  switch (f.kind) {
    case 'event':
      return formatSse({ ...(f.id ? { id: f.id } : {}), event: f.name, data: f.event })
    case 'resync':
      return formatSse({ event: 'resync', data: {} })
    case 'heartbeat':
      return ': heartbeat\n\n'
  }
}

/** Redis Stream ids ("ms-seq") in order. */
function streamIdAfter(a: string, b: string): boolean {
  const [am = '0', as = '0'] = a.split('-')
  const [bm = '0', bs = '0'] = b.split('-')
  const ams = BigInt(am)
  const bms = BigInt(bm)
  return ams > bms || (ams === bms && BigInt(as) > BigInt(bs))
}

const lastEventIdOf = (req: FastifyRequest) => {
  const value = req.headers['last-event-id']
  return typeof value === 'string' && /^\d{1,20}-\d{1,20}$/.test(value) ? value : null
}

export function registerLiveRoutes(app: App, deps: { db: Db; live: LiveOrders; maxBuffered?: number }) {
  const { db, live } = deps
  const open = new Set<ClientQueue<Frame>>()
  // Streams never end by themselves: end them when the server closes, or close() would wait for the clients.
  app.addHook('preClose', async () => {
    for (const queue of open) queue.close()
  })

  /** Hijacks the reply and streams the queue until the client or the server goes away. */
  async function stream(req: FastifyRequest, reply: FastifyReply, queue: ClientQueue<Frame>, cleanup: () => void) {
    reply.hijack()
    const res = reply.raw
    // Headers set by the shared hooks (correlation id, rate limit) are not sent by a hijacked reply: copy them.
    const shared = Object.entries(reply.getHeaders()).filter((entry): entry is [string, string | number | string[]] => entry[1] !== undefined)
    res.writeHead(200, {
      ...Object.fromEntries(shared),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    res.write('retry: 3000\n\n')
    open.add(queue)
    const heartbeat = setInterval(() => queue.push({ kind: 'heartbeat' }), HEARTBEAT_MS)
    const started = performance.now()
    try {
      await streamToClient(queue, res, frameOf)
    } finally {
      clearInterval(heartbeat)
      open.delete(queue)
      queue.close()
      cleanup()
      // A stream the server ended finishes normally and the shared onResponse hook ends its span; one the client
      // dropped (or that overflowed) never finishes.
      if (res.destroyed && !res.writableFinished) req.span?.end(undefined, { 'http.route': req.routeOptions.url ?? 'unmatched', 'http.response.status_code': 200 })
      req.log.info({ route: req.routeOptions.url, ms: Math.round(performance.now() - started), sub: req.principal?.sub, overflowed: queue.overflowed }, 'event stream closed')
    }
  }

  const tags = ['orders']
  // The reply is hijacked and written by stream(): this schema only documents it.
  const sseResponse = {
    200: { description: 'Server-Sent Events: `event:`, `id:` and `data:` lines, each data a JSON object.', content: { 'text/event-stream': { schema: Type.String() } } },
  }

  app.get(
    '/api/orders/:id/events',
    {
      schema: {
        tags,
        summary: "An order's live updates (Server-Sent Events)",
        description:
          'First the current status (`event: snapshot`, read from the database), then every status change as it commits (`event: status`, with `id:`). ' +
          'Reconnect with Last-Event-ID to receive what was missed; when that is no longer possible a fresh snapshot is sent. A comment line every 15 s keeps the connection open. Customers may follow only their own orders (404 otherwise).',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { ...sseResponse, ...problems(404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id.toLowerCase()
      const queue = createClientQueue<Frame>({ maxBuffered: deps.maxBuffered ?? 100 })
      let sentVersion = 0
      let sentId: string | null = null
      const send = (m: FanoutMessage<OrderEvent>) => {
        if (m.event.version <= sentVersion || (sentId !== null && !streamIdAfter(m.id, sentId))) return
        sentVersion = m.event.version
        sentId = m.id
        queue.push({ kind: 'event', name: 'status', id: m.id, event: m.event })
      }
      const pushSnapshot = async (order: Order) => {
        if (order.version <= sentVersion) return
        const entry = await findHistoryEntry(db, id)
        if (order.version <= sentVersion) return
        sentVersion = order.version
        const current = entry?.to === order.status ? entry : null
        queue.push({ kind: 'event', name: 'snapshot', event: orderEventOf({ orderId: order.id, status: order.status, version: order.version }, current, order.updatedAt) })
      }

      // Subscribed before the current state is read, so no change can fall between the two; what the client
      // already has is skipped by version (and stream id).
      const early: FanoutMessage<OrderEvent>[] = []
      let deliver: (m: FanoutMessage<OrderEvent>) => void = (m) => early.push(m)
      const unsubscribe = live.fanout.subscribe(
        (m) => {
          if (m.key === id) deliver(m)
        },
        {
          // Events may have been missed while the subscription was down: the current state stands in for them.
          onGap: () => {
            getOrder(db, id)
              .then((order) => (order ? pushSnapshot(order) : undefined))
              .catch((error: unknown) => req.log.warn({ err: error, orderId: id }, 'live resync failed'))
          },
        },
      )
      try {
        const order = await getOrder(db, id)
        if (!order || !canSee(req.principal, order.customerId)) throw orderNotFound(id)
        const lastEventId = lastEventIdOf(req)
        const missed = lastEventId ? await live.fanout.recentEvents(id, lastEventId) : null
        if (missed && !missed.gap) {
          sentId = lastEventId
          if (missed.since) sentVersion = missed.since.event.version // what the client already has
          for (const m of missed.events) send(m)
          // An announcement can be lost (Redis failing, a crash after the commit), with or without later ones: the
          // database has the last word, and a newer version than the client has is sent as a snapshot.
          await pushSnapshot(order)
        } else {
          await pushSnapshot(order)
        }
      } catch (error) {
        unsubscribe()
        queue.close()
        throw error
      }
      for (const m of early) send(m)
      deliver = send
      await stream(req, reply, queue, unsubscribe)
    },
  )

  app.get(
    '/api/orders/events',
    {
      config: { auth: ['operator', 'admin'] },
      schema: {
        tags,
        summary: 'Live updates of every order (Server-Sent Events; operators)',
        description:
          'Every status change of any order as it commits (`event: status`). This stream cannot be resumed: after a reconnect, or when events may have been missed, an `event: resync` asks the client to reload what it shows.',
        response: sseResponse,
      },
    },
    async (req, reply) => {
      const queue = createClientQueue<Frame>({ maxBuffered: deps.maxBuffered ?? 1000 })
      if (req.headers['last-event-id']) queue.push({ kind: 'resync' })
      const unsubscribe = live.fanout.subscribe((m) => queue.push({ kind: 'event', name: 'status', id: m.id, event: m.event }), { onGap: () => queue.push({ kind: 'resync' }) })
      await stream(req, reply, queue, unsubscribe)
    },
  )
}
