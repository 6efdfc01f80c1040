// The soak: a steady mixed load (soak-load.ts) for N minutes while the stack is watched (soak-watch.ts), then a
// drain and the checks of what must hold however long it runs — every order final, no error in any service's log,
// each poison record dead-lettered once and nothing else, nothing kept past its retention or its bound. `npm run
// soak` (bench/soak.ts) writes the report with the slope per hour of latency, memory and storage; the test suite
// runs a short one and asserts only the checks (tests/soak).
import { open, stat } from 'node:fs/promises'
import { retentionSettings } from '../../packages/messaging/src/retention.ts'
import { trackSagas, type SagaTracker } from './open-loop.ts'
import { adminSql, serviceDatabases } from './pg.ts'
import { environOf, pidOf } from './processes.ts'
import { ensureProducts } from './products.ts'
import { progress, sleep } from './progress.ts'
import { FINAL_STATUSES, POISON_CORRELATION_PREFIX, runSoakLoad, type SoakLoad, type SoakLoadOptions } from './soak-load.ts'
import { watchStack, type Sample } from './soak-watch.ts'
import { root, type ServiceName } from './stack.ts'

export interface SoakOptions extends Omit<SoakLoadOptions, 'seconds' | 'products'> {
  minutes: number
  sampleSeconds: number
  /** How long to wait after the load for the last orders to become final. */
  drainSeconds: number
  products: number
}

export const soakDefaults: SoakOptions = { minutes: 60, rate: 10, readsPerSecond: 20, cancelShare: 0.05, sseShare: 0.02, poisonPerMinute: 1, sampleSeconds: 15, drainSeconds: 120, products: 16 }

export interface Check {
  what: string
  ok: boolean
  detail: string
}

export interface SoakResult {
  options: SoakOptions
  startedAt: string
  load: SoakLoad
  /** Per order placed (in order): POST → CONFIRMED on Kafka in ms, or null (cancelled, failed, not confirmed). */
  sagaMs: (number | null)[]
  samples: Sample[]
  /** Orders still not final when the drain ended: id → status. */
  notFinal: Record<string, string>
  errorLogs: string[]
  checks: Check[]
}

const services: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']
const logFile = (s: string) => `${root}.stack/logs/${s}.log`

async function logSizes(): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const s of services) out[s] = await stat(logFile(s)).then((x) => x.size).catch(() => 0)
  return out
}

/** Lines at level error or above that the services logged since `from`, except those about the soak's poison records. */
async function errorLinesSince(from: Record<string, number>): Promise<string[]> {
  const lines: string[] = []
  for (const s of services) {
    const file = await open(logFile(s), 'r').catch(() => null)
    if (!file) continue
    try {
      const size = (await file.stat()).size
      // A log that shrank was rotated or truncated: read it whole.
      const start = size < (from[s] ?? 0) ? 0 : (from[s] ?? 0)
      const buffer = Buffer.alloc(size - start)
      await file.read(buffer, 0, buffer.length, start)
      for (const line of buffer.toString('utf8').split('\n')) {
        if (!line.startsWith('{')) continue
        let entry: { level?: number; correlationId?: string; msg?: string }
        try {
          entry = JSON.parse(line) as typeof entry
        } catch {
          continue
        }
        if ((entry.level ?? 0) < 50) continue
        if (entry.correlationId?.startsWith(POISON_CORRELATION_PREFIX)) continue
        lines.push(`${s}: ${line.slice(0, 600)}`)
      }
    } finally {
      await file.close()
    }
  }
  return lines
}

async function settingOf(service: ServiceName, name: string, fallback: number): Promise<number> {
  const pid = await pidOf(service)
  const value = pid ? (await environOf(pid).catch(() => ({}) as Record<string, string>))[name] : undefined
  return value !== undefined && Number.isFinite(Number(value)) ? Number(value) : fallback
}

async function orderStatuses(ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (let i = 0; i < ids.length; i += 5_000) {
    const rows = await adminSql('trackops_orders', 'SELECT id::text, status FROM orders WHERE id = ANY($1::uuid[])', [ids.slice(i, i + 5_000)])
    for (const r of rows) out.set(String(r.id), String(r.status))
  }
  return out
}

/** Waits until every order placed is CONFIRMED or CANCELLED in the orders database, or the drain time is over. */
async function drain(ids: string[], seconds: number): Promise<Record<string, string>> {
  const started = Date.now()
  for (;;) {
    const statuses = await orderStatuses(ids)
    const open = ids.filter((id) => !FINAL_STATUSES.includes(statuses.get(id) ?? 'missing'))
    if (open.length === 0 || Date.now() - started > seconds * 1000) return Object.fromEntries(open.map((id) => [id, statuses.get(id) ?? 'missing']))
    progress('soak: last orders finishing', (Date.now() - started) / 1000, seconds, `${open.length} not final`)
    await sleep(1_000)
  }
}

/** What must hold after any soak, long or short: the assertions of tests/soak, the verdict of the report. */
async function mustHold(result: Omit<SoakResult, 'checks'>, startedAt: Date): Promise<Check[]> {
  const { load, samples } = result
  const checks: Check[] = []
  const placed = load.orders.filter((o) => o.orderId)
  const failedPosts = load.orders.filter((o) => !o.orderId)
  checks.push({ what: 'every order placed', ok: failedPosts.length === 0, detail: `${placed.length} of ${load.orders.length} POSTs answered 201${failedPosts.length ? `; failures: ${JSON.stringify(countBy(failedPosts.map((o) => o.error ?? '?')))}` : ''}` })
  const notFinal = Object.entries(result.notFinal)
  checks.push({ what: 'every order final (CONFIRMED or CANCELLED)', ok: notFinal.length === 0, detail: notFinal.length ? `${notFinal.length} not final after the drain, e.g. ${notFinal.slice(0, 3).map(([id, s]) => `${id} ${s}`).join(', ')}` : `${placed.length} final` })
  const cancels = placed.filter((o) => o.cancelStatus !== undefined)
  const badCancels = cancels.filter((o) => o.cancelStatus !== 200 && o.cancelStatus !== 202)
  checks.push({ what: 'every cancellation accepted', ok: badCancels.length === 0, detail: `${cancels.length} DELETEs${badCancels.length ? `; answers ${JSON.stringify(countBy(badCancels.map((o) => String(o.cancelStatus))))}` : ''}` })
  const followed = placed.filter((o) => o.sse)
  const unseen = followed.filter((o) => !o.sse?.final)
  checks.push({ what: 'every order followed over SSE reached its final status there', ok: unseen.length === 0, detail: `${followed.length} followed${unseen.length ? `; ${unseen.length} without a final status: ${unseen.slice(0, 3).map((o) => o.sse?.error).join('; ')}` : ''}` })
  const badReads = load.reads.filter((r) => r.status !== 200)
  checks.push({ what: 'every operator read answered 200', ok: badReads.length === 0, detail: `${load.reads.length} reads${badReads.length ? `; others: ${JSON.stringify(countBy(badReads.map((r) => String(r.status))))}` : ''}` })
  checks.push({ what: 'no error in any service log', ok: result.errorLogs.length === 0, detail: result.errorLogs.length ? `${result.errorLogs.length} lines, first: ${result.errorLogs[0]}` : 'none (poison records excluded)' })

  // Dead letters written during the soak: exactly the poison records, once each.
  const letters: { db: string; key: string; group: string; topic: string }[] = []
  for (const db of serviceDatabases) {
    for (const r of await adminSql(db, 'SELECT record_key, consumer_group, topic FROM dead_letters WHERE created_at >= $1', [startedAt])) letters.push({ db, key: String(r.record_key), group: String(r.consumer_group), topic: String(r.topic) })
  }
  const poison = new Set(load.poisonKeys)
  const perPoison = countBy(letters.filter((l) => poison.has(l.key)).map((l) => l.key))
  const wrongCount = load.poisonKeys.filter((k) => perPoison[k] !== 1)
  const others = letters.filter((l) => !poison.has(l.key))
  checks.push({
    what: 'each poison record dead-lettered once, nothing else dead-lettered',
    ok: wrongCount.length === 0 && others.length === 0,
    detail: `${load.poisonKeys.length} poison records, ${letters.length - others.length} dead letters of them${wrongCount.length ? `; ${wrongCount.length} not dead-lettered exactly once` : ''}${others.length ? `; others: ${others.slice(0, 3).map((l) => `${l.db} ${l.group} ${l.topic} ${l.key}`).join(', ')}` : ''}`,
  })

  // Nothing kept past its retention.
  const inboxHours = await Promise.all((['orders', 'inventory', 'payments'] as const).map((s) => settingOf(s, 'INBOX_RETENTION_HOURS', (retentionSettings.INBOX_RETENTION_HOURS as { default?: number }).default ?? 192)))
  const outboxSeconds = await settingOf('relay', 'OUTBOX_RETENTION_SECONDS', 600)
  const keyHours = await settingOf('orders', 'ORDER_IDEMPOTENCY_RETENTION_HOURS', 24)
  const overdue: string[] = []
  for (const [i, db] of serviceDatabases.entries()) {
    const [inbox] = await adminSql(db, `SELECT count(*)::int AS n FROM processed_events WHERE processed_at < now() - make_interval(hours => $1)`, [inboxHours[i]])
    if (inbox?.n) overdue.push(`${db}: ${String(inbox.n)} inbox rows older than ${inboxHours[i]} h`)
    // the relay prunes every minute or so: a row may outlive its retention by that much
    const [outbox] = await adminSql(db, `SELECT count(*)::int AS n FROM outbox WHERE created_at < now() - make_interval(secs => $1)`, [outboxSeconds + 180])
    if (outbox?.n) overdue.push(`${db}: ${String(outbox.n)} outbox rows older than ${outboxSeconds} s + 180 s`)
  }
  const [keys] = await adminSql('trackops_orders', `SELECT count(*)::int AS n FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1 + 1)`, [keyHours])
  if (keys?.n) overdue.push(`${String(keys.n)} idempotency keys older than ${keyHours} h + 1 h`)
  checks.push({ what: 'no inbox, outbox or idempotency row older than its retention', ok: overdue.length === 0, detail: overdue.join('; ') || `inbox ${inboxHours.join('/')} h, outbox ${outboxSeconds} s, idempotency keys ${keyHours} h` })

  const [bound] = await adminSql('postgres', `SELECT setting::bigint * 1024 * 1024 AS bytes FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`)
  const walBound = Number(bound?.bytes ?? -1)
  const worstWal = Math.max(0, ...samples.flatMap((s) => Object.values(s.slots).map((x) => x.retainedBytes)))
  const lost = [...new Set(samples.flatMap((s) => Object.entries(s.slots).filter(([, x]) => x.walStatus === 'lost').map(([n]) => n)))]
  checks.push({ what: 'replication slots within their WAL bound, none lost', ok: walBound > 0 && worstWal < walBound && lost.length === 0, detail: `largest retained ${mib(worstWal)} of ${walBound > 0 ? mib(walBound) : 'no bound (max_slot_wal_keep_size = -1)'}${lost.length ? `; lost: ${lost.join(', ')}` : ''}` })
  const redis = samples.map((s) => s.redis).filter((r) => r !== null)
  const worstRedis = Math.max(0, ...redis.map((r) => r.usedBytes))
  const redisBound = redis[0]?.maxBytes ?? 0
  checks.push({ what: 'Redis within its memory bound', ok: redis.length > 0 && redisBound > 0 && worstRedis <= redisBound, detail: redis.length ? `largest ${mib(worstRedis)} of ${redisBound ? mib(redisBound) : 'no bound (maxmemory 0)'}` : 'Redis never answered' })
  return checks
}

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const v of values) out[v] = (out[v] ?? 0) + 1
  return out
}

function sagaLatencies(load: SoakLoad, tracker: SagaTracker): (number | null)[] {
  return load.orders.map((o) => {
    const confirmed = o.orderId ? tracker.arrivals.get(o.orderId)?.confirmed : undefined
    return confirmed === undefined ? null : confirmed - o.dueAt
  })
}

/** Runs one soak against the running stack and checks what must hold; progress goes to stderr. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const startedAt = new Date()
  const products = await ensureProducts(options.products)
  const tracker = await trackSagas('trackops-soak-saga')
  const logsFrom = await logSizes()
  const watch = watchStack(Date.now(), options.sampleSeconds)
  let load: SoakLoad
  let notFinal: Record<string, string>
  try {
    const seconds = options.minutes * 60
    load = await runSoakLoad({ ...options, seconds, products }, (elapsed, l, streams) => {
      const s = watch.samples.at(-1)
      const final = l.orders.filter((o) => o.orderId && (tracker.arrivals.get(o.orderId)?.confirmed ?? tracker.arrivals.get(o.orderId)?.cancelled) !== undefined).length
      progress('soak', Math.min(elapsed, seconds), seconds, `orders ${l.orders.length} (final ${final})  reads ${l.reads.length}  SSE open ${streams}  poison ${l.poisonKeys.length}${s ? `  orders RSS ${s.rssMiB.orders ?? '?'} MiB` : ''}`)
    })
    notFinal = await drain(load.orders.flatMap((o) => (o.orderId ? [o.orderId] : [])), options.drainSeconds)
    // the confirmations of the last orders reach the bench's consumer a moment after the database says so
    await sleep(2_000)
  } finally {
    await watch.stop()
    await tracker.close().catch(() => undefined)
  }
  const partial = { options, startedAt: startedAt.toISOString(), load, sagaMs: sagaLatencies(load, tracker), samples: watch.samples, notFinal, errorLogs: await errorLinesSince(logsFrom) }
  return { ...partial, checks: await mustHold(partial, startedAt) }
}
