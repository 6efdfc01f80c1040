// Commit → cache invalidation (or, without an order cache, commit → the CDC record's arrival) under load: bench
// orders are updated with SQL at a fixed rate (a version bump each, as every writer of orders does) while orders
// are also placed at a background rate; each update's row change is awaited on trackops_orders.public.orders and,
// when the orders service caches orders in Redis, on the order's cache key (its version fence moving up).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { adminPool } from '../lib/pg.ts'
import { nowMs, watchTopics } from '../lib/events.ts'
import { placeOrdersOpenLoop } from '../lib/open-loop.ts'
import { sampleResources, type ResourceReport } from '../lib/resources.ts'
import { drainBenchSagas, getJson, operatorTokens, testEnv, url } from '../lib/stack.ts'
import { onInterrupt } from '../lib/interrupt.ts'
import { distribution, ms, type Distribution } from '../lib/stats.ts'
import { metricDeltas, scrapeServiceMetrics, type ConsumerTiming } from '../lib/service-metrics.ts'
import { log, progress, sleep } from '../lib/progress.ts'
import { findingsAndResources, table, verdict } from '../lib/markdown.ts'
import { percentileChart } from '../lib/svg.ts'
import { benchOrderId, deleteBenchOrders, findCacheKeyPrefix, insertBenchOrders } from './read-order.ts'
import { timedSince, type ScenarioContext, type ScenarioResult } from '../lib/scenario.ts'

const TARGET_P99 = 100
const CDC_TOPIC = 'trackops_orders.public.orders'

interface Update {
  id: string
  dueAt: number
  committedAt?: number
  version?: number
  sourceTsMs?: number
  cdcAt?: number
  cacheAt?: number
  error?: string
}

export async function cdcLagScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.settings.cdcLag
  const startedAt = new Date()
  const resources: Record<string, ResourceReport> = {}
  const findings: string[] = []
  const count = Math.round(s.updatesPerSecond * s.seconds)
  const nonce = randomBytes(2).toString('hex')
  const ids = Array.from({ length: count }, (_, i) => benchOrderId(nonce, i + 1))
  const updates = new Map<string, Update>()
  const redis = new Redis(testEnv.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  let prefix: string | null = null
  let timings: ConsumerTiming[] = []
  const watcher = await watchTopics({
    groupId: 'trackops-bench-cdc',
    topics: [CDC_TOPIC],
    onRecord(record, at) {
      if (!record.value) return
      let v: { op?: string; after?: { id?: string; version?: number | string } | null; source?: { ts_ms?: number } }
      try {
        v = JSON.parse(record.value)
      } catch {
        return
      }
      const u = v.after?.id ? updates.get(v.after.id) : undefined
      // Each bench order is updated exactly once, so its first update record is the one (it may even arrive
      // before the UPDATE's reply has been processed here).
      if (!u || v.op !== 'u' || u.cdcAt !== undefined) return
      u.cdcAt = at
      u.sourceTsMs = v.source?.ts_ms
    },
  })
  const unregister = onInterrupt(() => deleteBenchOrders())
  try {
    log(`cdc-lag: writing ${count} bench orders; waiting for the CDC consumer to catch up`)
    await deleteBenchOrders()
    await insertBenchOrders(nonce, count, ctx.products[0] as string)
    await watcher.ready()
    await redis.connect()

    // Read each order once through the API: with an order cache, that fills its key, whose fence the update moves.
    const tokens = await operatorTokens(200)
    const first = await getJson(`${url('orders')}/api/orders/${ids[0] as string}`, { headers: { authorization: tokens[0] as string } })
    if (first.status !== 200) throw new Error(`GET of a bench order answered ${first.status}`)
    await sleep(300)
    prefix = await findCacheKeyPrefix(redis, ids[0] as string)
    if (prefix) {
      log(`cdc-lag: order cache keys under "${prefix}"; reading the ${count} orders once to fill them`)
      for (let i = 0; i < ids.length; i += 16) {
        await Promise.all(ids.slice(i, i + 16).map((id, j) => getJson(`${url('orders')}/api/orders/${id}`, { headers: { authorization: tokens[(i + j) % tokens.length] as string } })))
      }
    } else {
      log('cdc-lag: the orders service keeps no Redis key for a read order: measuring commit → CDC record arrival')
    }
    await sleep(1_000)
    await drainBenchSagas(60_000)

    // The measurement: the updates at a fixed rate, each awaited on the CDC topic and (with a cache) in Redis.
    const pool = adminPool('trackops_orders')
    const sampler = sampleResources()
    const metricsBefore = await scrapeServiceMetrics()
    const background = s.backgroundOrdersPerSecond > 0 ? await placeOrdersOpenLoop({ rate: s.backgroundOrdersPerSecond, seconds: s.seconds, products: ctx.products }) : null
    let polling = true
    const poller = (async () => {
      if (!prefix) return
      while (polling) {
        const open = [...updates.values()].filter((u) => u.version !== undefined && u.cacheAt === undefined)
        if (open.length) {
          const pipeline = redis.pipeline()
          for (const u of open) pipeline.hget(`${prefix}${u.id}`, 'v')
          const replies = (await pipeline.exec()) ?? []
          const at = nowMs()
          open.forEach((u, i) => {
            const v = replies[i]?.[1]
            if (v !== null && v !== undefined && Number(v) >= (u.version as number)) u.cacheAt = at
          })
        }
        await sleep(2)
      }
    })()
    const interval = 1000 / s.updatesPerSecond
    const t0 = nowMs() + 20
    const inflight: Promise<void>[] = []
    for (let i = 0; i < count; ) {
      const now = nowMs()
      const due = t0 + i * interval
      if (due > now) {
        await sleep(Math.min(due - now, 50))
        continue
      }
      const u: Update = { id: ids[i] as string, dueAt: due }
      updates.set(u.id, u)
      inflight.push(
        pool
          .query<{ version: string }>(`UPDATE orders SET updated_at = now(), version = version + 1 WHERE id = $1 RETURNING version`, [u.id])
          .then((r) => {
            u.committedAt = nowMs()
            u.version = Number(r.rows[0]?.version)
          })
          .catch((error: unknown) => {
            u.error = String(error)
          }),
      )
      i++
      if (i % Math.max(1, Math.round(s.updatesPerSecond)) === 0) {
        const seen = [...updates.values()].filter((x) => x.cdcAt !== undefined).length
        progress('cdc-lag', (now - t0) / 1000, s.seconds, `updates ${i}  CDC records seen ${seen}${prefix ? `  cache fenced ${[...updates.values()].filter((x) => x.cacheAt !== undefined).length}` : ''}`)
      }
    }
    await Promise.all(inflight)
    const waitUntil = nowMs() + 15_000
    while (nowMs() < waitUntil && [...updates.values()].some((u) => u.cdcAt === undefined || (prefix && u.cacheAt === undefined))) await sleep(100)
    polling = false
    await poller
    await background?.answered
    resources['updates + background orders'] = await sampler.stop()
    timings = metricDeltas(metricsBefore, await scrapeServiceMetrics()).filter((t) => t.topic === CDC_TOPIC)
  } finally {
    unregister()
    await watcher.close().catch(() => undefined)
    redis.disconnect()
    await deleteBenchOrders().catch((e: unknown) => log(`  ! could not delete the bench's orders: ${String(e)}`))
  }

  const all = [...updates.values()].filter((u) => u.committedAt !== undefined)
  const since = (pick: (u: Update) => number | undefined, from: (u: Update) => number | undefined): Distribution =>
    distribution(all.map((u) => {
      const a = pick(u)
      const b = from(u)
      return a === undefined || b === undefined ? Infinity : Math.max(0, a - b)
    }))
  const commitToCdc = since((u) => u.cdcAt, (u) => u.committedAt)
  const sourceToCdc = since((u) => u.cdcAt, (u) => u.sourceTsMs)
  const commitToCache = prefix ? since((u) => u.cacheAt, (u) => u.committedAt) : null
  const sqlLatency = since((u) => u.committedAt, (u) => u.dueAt)
  const measured = commitToCache ?? commitToCdc
  const met = measured.p99 === null ? false : measured.p99 <= TARGET_P99
  const what = commitToCache ? 'commit → cache key fenced (invalidated) in Redis' : 'commit → CDC record consumed (no order cache wired)'

  const gaps = all.filter((u) => u.cdcAt !== undefined && u.committedAt !== undefined).map((u) => Math.max(0, (u.cdcAt as number) - (u.committedAt as number)))
  const buckets = [0, 100, 200, 300, 400, 500, 600, 800, 1000, Infinity]
  const spread = buckets.slice(0, -1).map((b, i) => `${b}–${buckets[i + 1] === Infinity ? '∞' : buckets[i + 1]} ms: ${gaps.filter((g) => g >= b && g < (buckets[i + 1] as number)).length}`)
  findings.push(`Commit → CDC record consumed, how many updates took how long: ${spread.join(', ')}.`)
  if (commitToCache && commitToCache.p50 !== null && commitToCdc.p50 !== null) findings.push(`Of that, the orders service's cache invalidation adds ${ms((commitToCache.p50 ?? 0) - (commitToCdc.p50 ?? 0))} at the median (commit → cache p50 ${ms(commitToCache.p50)} vs commit → CDC p50 ${ms(commitToCdc.p50)}).`)
  for (const g of new Set(timings.map((t) => `${t.service}|${t.group}`))) {
    const [service, group] = g.split('|')
    const age = timings.find((t) => `${t.service}|${t.group}` === g && t.metric === 'message_age_seconds')
    const handle = timings.find((t) => `${t.service}|${t.group}` === g && t.metric === 'message_handle_seconds')
    if (age) findings.push(`As ${service} measures it, group ${group} applied ${age.count} records of ${CDC_TOPIC} at a mean age of ${ms(age.meanMs)} (Debezium commit timestamp → applied; p99 ≤ ${age.p99UpToMs === null ? '> 10 s' : ms(age.p99UpToMs)})${handle ? `, ${ms(handle.meanMs)} of it applying` : ''}.`)
  }
  if (commitToCache && commitToCache.unfinished > 0) findings.push(`${commitToCache.unfinished} of ${commitToCache.count} cache keys never showed the new version within 15 s of the run's end.`)
  if (!commitToCache) findings.push('No order cache is wired into the orders service yet (no Redis key appears for an order it served), so the figure is commit → CDC record arrival at a Kafka consumer: the floor under any CDC-driven invalidation.')

  const chart = percentileChart(
    `cdc-lag: ${what}`,
    [
      ...(commitToCache ? [{ name: 'commit → cache fenced', dist: commitToCache }] : []),
      { name: 'commit → CDC record consumed', dist: commitToCdc },
      { name: 'Debezium source.ts_ms → consumed', dist: sourceToCdc, dashed: true },
    ],
    [{ y: TARGET_P99, label: `target p99 ${TARGET_P99} ms` }],
  )

  const md = [
    `## 4. cdc-lag — commit → ${commitToCache ? 'cache invalidation' : 'CDC record'}`,
    '',
    `${count} bench orders updated once each with SQL (\`UPDATE orders SET updated_at = now(), version = version + 1\`, autocommit) at ${s.updatesPerSecond}/s for ${s.seconds} s, while orders are placed through the API at ${s.backgroundOrdersPerSecond}/s (open loop) as background load. ` +
      `Commit time = when PostgreSQL acknowledged the UPDATE to the bench; CDC arrival = when the row change (op u, the new version) reached the bench's consumer of \`${CDC_TOPIC}\`` +
      (commitToCache ? `; cache = when the order's key \`${prefix}<id>\` held the new version or a newer fence (polled every 2 ms).` : '.'),
    '',
    table(
      ['measure', 'samples', 'p50', 'p90', 'p99', 'max', 'missing'],
      [
        ...(commitToCache ? [['commit → cache key fenced', commitToCache.count, ms(commitToCache.p50), ms(commitToCache.p90), ms(commitToCache.p99, '> 15 s'), ms(commitToCache.max), commitToCache.unfinished] as (string | number)[]] : []),
        ['commit → CDC record consumed', commitToCdc.count, ms(commitToCdc.p50), ms(commitToCdc.p90), ms(commitToCdc.p99, '> 15 s'), ms(commitToCdc.max), commitToCdc.unfinished],
        ['source.ts_ms → CDC record consumed', sourceToCdc.count, ms(sourceToCdc.p50), ms(sourceToCdc.p90), ms(sourceToCdc.p99), ms(sourceToCdc.max), sourceToCdc.unfinished],
        ['UPDATE due → committed (SQL)', sqlLatency.count, ms(sqlLatency.p50), ms(sqlLatency.p90), ms(sqlLatency.p99), ms(sqlLatency.max), sqlLatency.unfinished],
      ],
    ),
    '',
    `Target: ${what} p99 ≤ ${TARGET_P99} ms — ${ms(measured.p99, '> 15 s')}: ${verdict(met)}.`,
    '',
    `![cdc-lag latency](CHART:latency)`,
    '',
    findingsAndResources(findings, resources),
  ].join('\n')

  return {
    name: 'cdc-lag',
    ...timedSince(startedAt),
    checks: [{ scenario: 'cdc-lag', what, value: `p50 ${ms(measured.p50)}, p99 ${ms(measured.p99, '> 15 s')}`, target: `p99 ≤ ${TARGET_P99} ms`, met }],
    findings,
    resources,
    charts: { latency: { title: 'cdc-lag latency', svg: chart } },
    markdown: md,
    data: { settings: s, cachePrefix: prefix, serviceTimings: timings, commitToCache, commitToCdc, sourceToCdc, sqlLatency, errors: all.filter((u) => u.error).length },
  }
}
