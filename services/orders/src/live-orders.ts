// Live order updates over Server-Sent Events: GET /api/orders/{id}/events (the order's owner, or staff) and
// GET /api/orders/events (staff: every order).
//
// Fed by the change stream, after commit: the order change handler (order-cache.ts) calls publishChange for each
// committed change of an order row (status changes; with the previous status, cause and reason from the history
// row written in the same transaction). The event goes through Redis (createFanout: a per-order stream for
// Last-Event-ID resume plus pub/sub), so every copy of the service sees every change whichever copy consumed it.
// Saga steps that do not change the order row (inventory reserved, payment in progress) are not announced: they
// commit inside the consumer runner's transaction and the saga tables are not captured; the stream carries the
// order's status changes, which include the saga's outcomes (CONFIRMED, CANCELLED with its reason).
//
// Delivery is at-least-once upstream; a Redis fence (the last version published per order) publishes each version
// once and never an older one after a newer. Each client has its own bounded queue: a slow client is cut off
// (it reconnects with Last-Event-ID) and never slows the listener or the other clients.
import { Type } from 'typebox'
import type { Logger } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { canSee, type App } from '@trackops/http'
import type { Redis } from '@trackops/runtime'
import { createClientQueue, createFanout, formatSse, streamToClient, type ClientItem, type ClientQueue, type Fanout, type FanoutMessage } from '@trackops/live'
import type { Order, OrderStatus } from './order.ts'
import { findHistoryEntry, getOrder, type Db } from './order-store.ts'
import { orderNotFound } from './change-status.ts'
import type { OrderChange } from './order-cache.ts'

/** `data:` of every live event. */
export interface OrderEvent {
  orderId: string
  status: OrderStatus
  previousStatus: OrderStatus | null
  reason: string | null
  cause: string | null
  version: number
  at: string
}

export const LIVE_CHANNEL = 'trackops:orders:live'
const HISTORY_TTL_SECONDS = 86_400
const HEARTBEAT_MS = 15_000

// Compare-and-set of the last version published for an order, so replays and late records are not announced.
const FENCE = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`

export function createLiveOrders(deps: { db: Db; redis: Redis; redisUrl: string; logger: Logger; channel?: string }) {
  const channel = deps.channel ?? LIVE_CHANNEL
  const fanout: Fanout<OrderEvent> = createFanout<OrderEvent>({ redis: deps.redisUrl, channel, logger: deps.logger, historyTtlSeconds: HISTORY_TTL_SECONDS })

  /** The change as an event: previous status, cause and reason come from the history row of that version. */
  async function eventOf(change: OrderChange & { status: OrderStatus }): Promise<OrderEvent> {
    const entry = await findHistoryEntry(deps.db, change.orderId, change.version)
    return {
      orderId: change.orderId,
      status: change.status,
      previousStatus: entry?.from ?? null,
      reason: entry?.reason ?? null,
      cause: entry?.cause ?? null,
      version: change.version,
      at: (entry?.at ?? new Date(change.committedAt)).toISOString(),
    }
  }

  return {
    fanout,
    channel,
    /** Announces a committed change once; Redis failing loses the announcement, never the change (it is in the database). */
    async publishChange(change: OrderChange): Promise<string | null> {
      if (!change.status) return null
      const event = await eventOf({ ...change, status: change.status })
      let fresh: unknown
      try {
        if (deps.redis.status !== 'ready') return null
        fresh = await deps.redis.eval(FENCE, 1, `${channel}:published:${change.orderId}`, change.version, HISTORY_TTL_SECONDS)
      } catch (error) {
        deps.logger.debug({ err: error, orderId: change.orderId }, 'live update not announced: Redis failed')
        return null
      }
      if (fresh !== 1) return null
      return fanout.publish(change.orderId, event)
    },
    stats: () => fanout.stats(),
    close: () => fanout.close(),
  }
}
export type LiveOrders = ReturnType<typeof createLiveOrders>

// --- SSE --------------------------------------------------------------------------------------------------------------

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
  const sseResponse = { 200: Type.String({ description: 'text/event-stream' }) }

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
        response: sseResponse,
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
        queue.push({
          kind: 'event',
          name: 'snapshot',
          event: {
            orderId: order.id,
            status: order.status,
            previousStatus: current?.from ?? null,
            reason: current?.reason ?? null,
            cause: current?.cause ?? null,
            version: order.version,
            at: order.updatedAt.toISOString(),
          },
        })
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
