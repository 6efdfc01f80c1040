// Open-loop order arrivals: order i is due at start + i/rate whatever happened to the earlier ones, so a slow
// system cannot slow the arrivals down (no coordinated omission). Latency is measured from the due time; how
// late the scheduler itself fired is reported too. Every order's saga is followed on Kafka, hop by hop.
import type { KafkaRecordIn } from '../../packages/messaging/src/kafka.ts'
import { nowMs, watchTopics, type Watcher } from './events.ts'
import { customers as makeCustomers, url, type Customer } from './stack.ts'
import { orderBody } from './products.ts'
import { distribution, type Distribution } from './stats.ts'
import { sleep } from './progress.ts'

/** The records of one saga, in order, with the topic each is published on. */
export const stages = [
  { stage: 'created', topic: 'orders.events', type: 'ORDER_CREATED' },
  { stage: 'reserveCommand', topic: 'inventory.commands', type: 'RESERVE_INVENTORY' },
  { stage: 'reserved', topic: 'inventory.events', type: 'INVENTORY_RESERVED' },
  { stage: 'paymentCommand', topic: 'payments.commands', type: 'PROCESS_PAYMENT' },
  { stage: 'paid', topic: 'payments.events', type: 'PAYMENT_PROCESSED' },
  { stage: 'confirmed', topic: 'orders.events', type: 'ORDER_STATUS_UPDATED' },
] as const
export type Stage = (typeof stages)[number]['stage'] | 'cancelled' | 'failed'

/** Hops between consecutive records, as seen by the bench's consumer (its own delivery delay cancels out). */
export const hops: { name: string; from: Stage | 'due'; to: Stage }[] = [
  { name: 'POST due → RESERVE_INVENTORY on Kafka (order tx + publish)', from: 'due', to: 'reserveCommand' },
  { name: 'RESERVE_INVENTORY → INVENTORY_RESERVED (inventory consume + tx + publish)', from: 'reserveCommand', to: 'reserved' },
  { name: 'INVENTORY_RESERVED → PROCESS_PAYMENT (orders consume + tx + publish)', from: 'reserved', to: 'paymentCommand' },
  { name: 'PROCESS_PAYMENT → PAYMENT_PROCESSED (payments consume + tx + publish)', from: 'paymentCommand', to: 'paid' },
  { name: 'PAYMENT_PROCESSED → ORDER CONFIRMED (orders consume + tx + publish)', from: 'paid', to: 'confirmed' },
]

export interface Posted {
  dueAt: number
  sentAt: number
  answeredAt?: number
  status?: number
  orderId?: string
  error?: string
}

export interface SagaTracker {
  arrivals: Map<string, Partial<Record<Stage, number>>>
  close(): Promise<void>
  watcher: Watcher
}

/** Follows every saga on Kafka: first arrival time of each stage record per order id (the records' key). */
export async function trackSagas(groupId = 'trackops-bench-saga'): Promise<SagaTracker> {
  const arrivals = new Map<string, Partial<Record<Stage, number>>>()
  const byTopicType = new Map<string, Stage>(stages.filter((s) => s.stage !== 'confirmed').map((s) => [`${s.topic}|${s.type}`, s.stage]))
  byTopicType.set('orders.events|ORDER_CANCELLED', 'cancelled')
  byTopicType.set('inventory.events|INVENTORY_RESERVATION_FAILED', 'failed')
  byTopicType.set('payments.events|PAYMENT_FAILED', 'failed')
  const onRecord = (record: KafkaRecordIn, at: number) => {
    const type = record.headers.type ?? ''
    let stage = byTopicType.get(`${record.topic}|${type}`)
    if (!stage && record.topic === 'orders.events' && type === 'ORDER_STATUS_UPDATED') {
      try {
        const v = JSON.parse(record.value) as { data?: { newStatus?: string } }
        if (v.data?.newStatus === 'CONFIRMED') stage = 'confirmed'
      } catch {
        return
      }
    }
    if (!stage) return
    let entry = arrivals.get(record.key)
    if (!entry) {
      entry = {}
      arrivals.set(record.key, entry)
    }
    entry[stage] ??= at
  }
  const watcher = await watchTopics({ groupId, topics: [...new Set(stages.map((s) => s.topic))], onRecord })
  await watcher.ready()
  return { arrivals, watcher, close: () => watcher.close() }
}

export interface ArrivalRun {
  rate: number
  seconds: number
  posted: Posted[]
  startedAt: number
  endedAt: number
  lateness: Distribution
}

/** Places orders at `rate` per second for `seconds`; resolves when the last one is sent (not answered). */
export async function placeOrdersOpenLoop(opts: {
  rate: number
  seconds: number
  products: string[]
  customers?: Customer[]
  onTick?: (elapsedS: number, posted: Posted[]) => void
}): Promise<ArrivalRun & { answered: Promise<void> }> {
  const n = Math.max(1, Math.round(opts.rate * opts.seconds))
  const pool = opts.customers ?? (await makeCustomers(n))
  const bodies = pool.map((c, i) => JSON.stringify(orderBody(c.customerId, opts.products[i % opts.products.length] as string)))
  const posted: Posted[] = []
  const inflight: Promise<void>[] = []
  const lateness: number[] = []
  const interval = 1000 / opts.rate
  const target = `${url('orders')}/api/orders`
  const startedAt = nowMs() + 50
  let lastTick = startedAt
  for (let i = 0; i < n; ) {
    const now = nowMs()
    const due = startedAt + i * interval
    if (due > now) {
      await sleep(Math.min(due - now, 50))
      continue
    }
    const c = pool[i % pool.length] as Customer
    const p: Posted = { dueAt: due, sentAt: now }
    posted.push(p)
    lateness.push(now - due)
    inflight.push(
      fetch(target, { method: 'POST', headers: { authorization: c.authorization, 'content-type': 'application/json' }, body: bodies[i % bodies.length], signal: AbortSignal.timeout(30_000) })
        .then(async (res) => {
          p.answeredAt = nowMs()
          p.status = res.status
          const body = (await res.json().catch(() => ({}))) as { id?: string; code?: string }
          if (res.status === 201) p.orderId = body.id
          else p.error = body.code ?? String(res.status)
        })
        .catch((error: unknown) => {
          p.answeredAt = nowMs()
          // fetch reports a failed connection as TypeError('fetch failed') with the socket error as its cause.
          const cause = (error as { cause?: { code?: string; message?: string } }).cause
          p.error = error instanceof Error ? `${error.name}${cause ? `: ${cause.code ?? cause.message ?? ''}` : ''}` : String(error)
        }),
    )
    i++
    if (opts.onTick && now - lastTick >= 1000) {
      lastTick = now
      opts.onTick((now - startedAt) / 1000, posted)
    }
  }
  return { rate: opts.rate, seconds: opts.seconds, posted, startedAt, endedAt: nowMs(), lateness: distribution(lateness), answered: Promise.all(inflight).then(() => undefined) }
}

export interface SagaPhaseResult {
  rate: number
  seconds: number
  sent: number
  postOk: number
  postErrors: Record<string, number>
  confirmed: number
  cancelled: number
  unfinished: number
  /** Confirmations per second that arrived by the end of the phase + 2 s. */
  completedPerSecond: number
  endToEnd: Distribution
  post: Distribution
  hops: { name: string; dist: Distribution }[]
  schedulerLateness: Distribution
  held: boolean
  notHeldBecause: string[]
  drainSeconds: number
}

/** Waits until every posted order is confirmed or cancelled (or the drain time runs out), then sums the phase up. */
export async function settlePhase(run: ArrivalRun & { answered: Promise<void> }, tracker: SagaTracker, drainSeconds: number, onTick?: (waitedS: number, open: number) => void): Promise<SagaPhaseResult> {
  await run.answered
  const waitStart = nowMs()
  const done = (p: Posted) => !p.orderId || tracker.arrivals.get(p.orderId)?.confirmed !== undefined || tracker.arrivals.get(p.orderId)?.cancelled !== undefined
  for (;;) {
    const open = run.posted.filter((p) => !done(p)).length
    if (open === 0 || nowMs() - waitStart > drainSeconds * 1000) break
    onTick?.((nowMs() - waitStart) / 1000, open)
    await sleep(200)
  }
  const drainSeconds_ = Math.round((nowMs() - waitStart) / 100) / 10
  const ok = run.posted.filter((p) => p.orderId)
  const postErrors: Record<string, number> = {}
  for (const p of run.posted) if (!p.orderId) postErrors[p.error ?? 'unknown'] = (postErrors[p.error ?? 'unknown'] ?? 0) + 1
  const arrivalsOf = (p: Posted) => tracker.arrivals.get(p.orderId as string) ?? {}
  const e2e = run.posted.map((p) => {
    const c = p.orderId ? arrivalsOf(p).confirmed : undefined
    return c === undefined ? Infinity : c - p.dueAt
  })
  const windowEnd = run.endedAt + 2_000
  const completedInWindow = ok.filter((p) => (arrivalsOf(p).confirmed ?? Infinity) <= windowEnd).length
  const hopDists = hops.map((h) => {
    const values: number[] = []
    for (const p of ok) {
      const a = arrivalsOf(p)
      const from = h.from === 'due' ? p.dueAt : a[h.from]
      const to = a[h.to]
      if (from !== undefined && to !== undefined) values.push(Math.max(0, to - from))
    }
    return { name: h.name, dist: distribution(values) }
  })
  const endToEnd = distribution(e2e)
  const completedPerSecond = Math.round((completedInWindow / run.seconds) * 10) / 10
  const notHeld: string[] = []
  if (completedPerSecond < 0.95 * run.rate) notHeld.push(`completed ${completedPerSecond}/s < 95 % of ${run.rate}/s`)
  if (endToEnd.p99 === null || endToEnd.p99 >= 2000) notHeld.push(`p99 ${endToEnd.p99 === null ? '> drain time' : `${Math.round(endToEnd.p99)} ms`} ≥ 2 s`)
  const errorCount = run.posted.length - ok.length
  if (errorCount > 0.01 * run.posted.length) notHeld.push(`${errorCount} POSTs failed`)
  return {
    rate: run.rate,
    seconds: run.seconds,
    sent: run.posted.length,
    postOk: ok.length,
    postErrors,
    confirmed: ok.filter((p) => arrivalsOf(p).confirmed !== undefined).length,
    cancelled: ok.filter((p) => arrivalsOf(p).cancelled !== undefined && arrivalsOf(p).confirmed === undefined).length,
    unfinished: ok.filter((p) => arrivalsOf(p).confirmed === undefined && arrivalsOf(p).cancelled === undefined).length,
    completedPerSecond,
    endToEnd,
    post: distribution(run.posted.map((p) => (p.answeredAt === undefined ? Infinity : p.answeredAt - p.dueAt))),
    hops: hopDists,
    schedulerLateness: run.lateness,
    held: notHeld.length === 0,
    notHeldBecause: notHeld,
    drainSeconds: drainSeconds_,
  }
}
