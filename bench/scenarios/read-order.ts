// GET /api/orders/{id}: a hot set (a few orders read over and over: cache hits when the service caches) and a cold
// set (thousands of orders read once each: misses), against a bare Fastify route serving the same JSON from memory
// and against PostgreSQL running getOrder's two statements (pgbench).
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { adminSql, pgbench, type PgbenchResult } from '../lib/pg.ts'
import { cannon, type LoadResult } from '../lib/load.ts'
import { sampleResources, type ResourceReport } from '../lib/resources.ts'
import { getJson, MARKER_CUSTOMER, operatorTokens, root, testEnv, url } from '../lib/stack.ts'
import { onInterrupt } from '../lib/interrupt.ts'
import { distribution, ms, ratio } from '../lib/stats.ts'
import { log, progress } from '../lib/progress.ts'
import { findingsAndResources, pct, profileTables, table, verdict } from '../lib/markdown.ts'
import { profileOrders, type ProfileSummary } from '../lib/profile.ts'
import { percentileChart } from '../lib/svg.ts'
import { timedSince, type ScenarioContext, type ScenarioResult } from '../lib/scenario.ts'

const TARGET = 0.5
const hex12 = (i: number) => i.toString(16).padStart(12, '0')
export const benchOrderId = (nonce: string, i: number) => `be4c${nonce}-0000-4000-8000-${hex12(i)}`

/** Writes `count` orders with one line each straight into trackops_orders (customer MARKER_CUSTOMER). */
export async function insertBenchOrders(nonce: string, count: number, productId: string) {
  const id = `('be4c' || $1 || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid`
  await adminSql(
    'trackops_orders',
    `INSERT INTO orders (id, customer_id, status, total_cents, currency, street_address, city, state, postal_code, country, phone_number, delivery_instructions, payment_token, created_at, updated_at, version)
     SELECT ${id}, $2, 'CONFIRMED', 1000, 'USD', '12 Test Street', 'Springfield', 'IL', '62701', 'US', '+1 555 0100', null, null, now(), now(), 1 FROM generate_series(1, $3::int) i`,
    [nonce, MARKER_CUSTOMER, count],
  )
  await adminSql(
    'trackops_orders',
    `INSERT INTO order_items (id, order_id, line_no, product_id, product_name, quantity, unit_price_cents, total_cents)
     SELECT gen_random_uuid(), ${id}, 1, $2, 'Bench load product', 1, 1000, 1000 FROM generate_series(1, $3::int) i`,
    [nonce, productId, count],
  )
}

export async function deleteBenchOrders() {
  await adminSql('trackops_orders', `DELETE FROM orders WHERE customer_id = $1`, [MARKER_CUSTOMER])
}

type CacheStats = { hits: number; misses: number; hitRatio: number | null }
async function orderCacheStats(authorization: string): Promise<{ name: string; stats: CacheStats } | null> {
  const r = await getJson<{ caches?: Record<string, CacheStats> }>(`${url('orders')}/actuator/caches`, { headers: { authorization } }).catch(() => null)
  if (!r || r.status !== 200 || !r.body.caches) return null
  const entry = Object.entries(r.body.caches).find(([name]) => /order/i.test(name)) ?? Object.entries(r.body.caches)[0]
  return entry ? { name: entry[0], stats: entry[1] } : null
}

/**
 * The Redis key prefix under which the orders service caches an order, found by looking for the order's id: an
 * entity-cache entry is a hash with a version field `v` (packages/cache). Rate-limit counters and live-feed
 * streams carry ids too and are skipped.
 */
export async function findCacheKeyPrefix(redis: Redis, orderId: string): Promise<string | null> {
  let cursor = '0'
  const candidates: string[] = []
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${orderId}`, 'COUNT', 5000)
    candidates.push(...keys)
    cursor = next
  } while (cursor !== '0')
  for (const key of candidates.sort((a, b) => Number(b.startsWith('cache:')) - Number(a.startsWith('cache:')))) {
    if ((await redis.type(key)) === 'hash' && (await redis.hexists(key, 'v'))) return key.slice(0, -orderId.length)
  }
  return null
}

async function startBareServer(body: unknown): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [`${root}bench/bare-server.ts`], { env: { ...process.env, BENCH_BARE_BODY: JSON.stringify(body) }, stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)))
    setTimeout(() => reject(new Error('bare server did not start in 15 s')), 15_000)
  })
  return { port, child }
}

function getRequests(ids: string[], tokens: string[], opts: { once?: boolean } = {}): autocannon.Request[] {
  let next = 0
  return [
    {
      method: 'GET',
      setupRequest: (req) => {
        const i = next++
        if (opts.once && i >= ids.length) return req
        return { ...req, path: `/api/orders/${ids[i % ids.length] as string}`, headers: { authorization: tokens[i % tokens.length] as string } }
      },
    },
  ]
}

export async function readOrderScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.settings.readOrder
  const startedAt = new Date()
  const resources: Record<string, ResourceReport> = {}
  const findings: string[] = []
  const nonce = randomBytes(2).toString('hex')
  const total = s.hotIds + s.coldIds
  const hot = Array.from({ length: s.hotIds }, (_, i) => benchOrderId(nonce, i + 1))
  const cold = Array.from({ length: s.coldIds }, (_, i) => benchOrderId(nonce, s.hotIds + i + 1))
  const tokens = await operatorTokens(1000)
  const redis = new Redis(testEnv.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  let bare: { port: number; child: ChildProcess } | null = null
  const unregister = onInterrupt(async () => {
    bare?.child.kill('SIGTERM')
    await deleteBenchOrders()
  })
  try {
    log(`read-order: writing ${total} orders of the bench (customer ${MARKER_CUSTOMER}) into trackops_orders`)
    await deleteBenchOrders()
    await insertBenchOrders(nonce, total, ctx.products[0] as string)
    await redis.connect()

    const sample = await getJson(`${url('orders')}${`/api/orders/${hot[0] as string}`}`, { headers: { authorization: tokens[0] as string } })
    if (sample.status !== 200) throw new Error(`GET /api/orders/${hot[0] as string} answered ${sample.status}: ${JSON.stringify(sample.body)}`)
    await new Promise((r) => setTimeout(r, 300))
    const prefix = await findCacheKeyPrefix(redis, hot[0] as string)
    const cacheBefore = await orderCacheStats(tokens[0] as string)
    const cached = prefix !== null
    log(`  order cache: ${cached ? `keys under "${prefix}"` : 'no Redis key for an order that was just read: the service does not cache orders (reads go to PostgreSQL)'}`)

    bare = await startBareServer(sample.body)
    const bareUrl = `http://127.0.0.1:${bare.port}`

    const run = async (label: string, target: string, requests: autocannon.Request[], opts: { amount?: number } = {}): Promise<LoadResult> => {
      if (!opts.amount) await cannon({ label: `${label} warm-up`, url: target, connections: s.connections, seconds: s.warmupSeconds, requests })
      const sampler = sampleResources()
      const result = await cannon({ label, url: target, connections: s.connections, ...(opts.amount ? { amount: opts.amount, expectedSeconds: s.seconds } : { seconds: s.seconds }), requests })
      resources[label] = await sampler.stop()
      log(`  ${label}: ${result.okPerSecond}/s, p50 ${ms(result.latency.p50)}, p99 ${ms(result.latency.p99)}, statuses ${JSON.stringify(result.statuses)}`)
      return result
    }

    log(`read-order: bare Fastify route (same JSON from memory), ${s.connections} connections, ${s.seconds} s`)
    const bareResult = await run('bare route', bareUrl, getRequests(hot, tokens))
    log(`read-order: hot set (${hot.length} orders read repeatedly)`)
    const statsBeforeHot = await orderCacheStats(tokens[0] as string)
    const hotResult = await run('hot set', url('orders'), getRequests(hot, tokens))
    const statsAfterHot = await orderCacheStats(tokens[0] as string)
    if (prefix) {
      const pipeline = redis.pipeline()
      for (const id of cold) pipeline.del(`${prefix}${id}`)
      await pipeline.exec()
    }
    log(`read-order: cold set (${cold.length} orders, each read once)`)
    const coldResult = await run('cold set', url('orders'), getRequests(cold, tokens, { once: true }), { amount: cold.length })
    const statsAfterCold = await orderCacheStats(tokens[0] as string)

    log(`read-order: PostgreSQL ceiling for a miss (getOrder's two statements), ${s.connections} clients, ${s.seconds} s`)
    const pgSampler = sampleResources()
    const started = Date.now()
    const ceiling: PgbenchResult = await pgbench({
      database: 'trackops_orders',
      script: `${root}bench/sql/read-order.sql`,
      clients: s.connections,
      threads: s.pgbenchThreads,
      seconds: s.seconds,
      vars: { nonce, count: String(total) },
      onProgress: (line) => progress('read-order pgbench', (Date.now() - started) / 1000, s.seconds, /([\d.]+) tps/.exec(line)?.[1] ?? ''),
    })
    resources['pgbench (getOrder statements)'] = await pgSampler.stop()
    const ceilingDist = distribution(ceiling.latenciesMs)

    let profile: ProfileSummary | null = null
    if (ctx.settings.profile) {
      const dir = dirname(ctx.artefactPrefix)
      await mkdir(dir, { recursive: true })
      log(`read-order: CPU profile of orders under the hot-set load, ${s.seconds} s`)
      try {
        profile = await profileOrders(
          dir,
          () => cannon({ label: 'hot set (profiling)', url: url('orders'), connections: s.connections, seconds: s.seconds, requests: getRequests(hot, tokens) }),
          () => cannon({ label: 'hot set (profiling warm-up)', url: url('orders'), connections: s.connections, seconds: s.warmupSeconds, requests: getRequests(hot, tokens) }),
        )
      } catch (error) {
        findings.push(`The CPU profile could not be taken: ${error instanceof Error ? error.message : String(error)}`)
      }
    }

    const hitRatio = (a: { stats: CacheStats } | null, b: { stats: CacheStats } | null) => {
      if (!a || !b) return null
      const hits = b.stats.hits - a.stats.hits
      const misses = b.stats.misses - a.stats.misses
      return hits + misses > 0 ? hits / (hits + misses) : null
    }
    const hotHit = hitRatio(statsBeforeHot, statsAfterHot)
    const coldHit = hitRatio(statsAfterHot, statsAfterCold)
    const lookupsPerRead = (a: { stats: CacheStats } | null, b: { stats: CacheStats } | null, reads: number) =>
      a && b && reads > 0 ? Math.round(((b.stats.hits - a.stats.hits + b.stats.misses - a.stats.misses) / reads) * 100) / 100 : null
    const hotLookups = lookupsPerRead(statsBeforeHot, statsAfterHot, hotResult.requests)
    const coldLookups = lookupsPerRead(statsAfterHot, statsAfterCold, coldResult.requests)
    const hotRatio = ratio(hotResult.okPerSecond, bareResult.okPerSecond)
    const coldRatioBare = ratio(coldResult.okPerSecond, bareResult.okPerSecond)
    const coldRatioPg = ratio(coldResult.okPerSecond, ceiling.tps)
    const met = hotRatio === null ? null : hotRatio >= TARGET

    const ordersHot = resources['hot set']?.processes.find((p) => p.name === 'orders')
    const bareBench = resources['bare route']?.processes.find((p) => p.name.startsWith('bench'))
    if (!cached) findings.push(`The orders service kept no Redis entry for an order it had just served and ${cacheBefore ? `reports caches ${JSON.stringify(Object.keys(cacheBefore))}` : 'has no /actuator/caches'}: every read, hot or cold, went to PostgreSQL (two queries), so "hot" measures PostgreSQL's buffer cache, not a Redis cache.`)
    if (hotHit !== null) {
      findings.push(
        `Cache statistics from /actuator/caches (deltas over each pass; they include any other traffic the service had meanwhile): hot pass ${pct(hotHit, 1)} hits with ${hotLookups ?? '—'} lookups per read, cold pass ${pct(coldHit, 1)} hits with ${coldLookups ?? '—'} lookups per read.`,
      )
    }
    if (ordersHot && bareBench) {
      findings.push(
        `CPU per read: the orders process spent ${((ordersHot.cpuAvgCores * 1000) / Math.max(1, hotResult.okPerSecond)).toFixed(3)} ms per cached read (${ordersHot.cpuAvgCores.toFixed(2)} cores, peak ${ordersHot.cpuPeakCores.toFixed(2)}, for ${hotResult.okPerSecond}/s); ` +
          `the bare route and the load generator together spent ${((bareBench.cpuAvgCores * 1000) / Math.max(1, bareResult.okPerSecond)).toFixed(3)} ms per read.`,
      )
    }
    if (hotResult.statuses['429']) findings.push(`${hotResult.statuses['429']} reads were refused by the rate limiter (429).`)

    const chart = percentileChart('read-order: GET /api/orders/{id}', [
      { name: `hot set (${hotResult.okPerSecond}/s)`, dist: hotResult.latency },
      { name: `cold set (${coldResult.okPerSecond}/s)`, dist: coldResult.latency },
      { name: `bare Fastify route (${bareResult.okPerSecond}/s)`, dist: bareResult.latency, dashed: true },
      { name: `pgbench getOrder (${ceiling.tps.toFixed(0)}/s)`, dist: ceilingDist, dashed: true },
    ])

    const md = [
      `## 2. read-order — GET /api/orders/{id}`,
      '',
      `${s.connections} connections, ${s.seconds} s per pass after a ${s.warmupSeconds} s warm-up (the cold pass runs until each of its ${cold.length} orders was read once). Orders written by the bench with SQL (one line each), read with operator tokens of 1000 distinct subjects (the read limit is per client). ` +
        `Order cache: ${cached ? `Redis keys \`${prefix}<id>\`; cold keys deleted before the cold pass` : '**not wired in the orders service** (no Redis key appears for a read order)'}. ` +
        `Ceilings: a bare Fastify route in a separate process on the same Node serving the same JSON from memory (no auth, rate limit, logging, metrics, database), and pgbench running getOrder's two statements (bench/sql/read-order.sql, \`-c ${s.connections} -j ${s.pgbenchThreads} -M prepared\`) over the same orders.`,
      '',
      table(
        ['pass', 'reads/s', 'cache hit ratio (lookups/read)', 'p50', 'p90', 'p99', 'max', 'non-2xx', 'vs bare route', 'vs PostgreSQL'],
        [
          ['hot set (cached)', hotResult.okPerSecond, `${pct(hotHit, 1)} (${hotLookups ?? '—'})`, ms(hotResult.latency.p50), ms(hotResult.latency.p90), ms(hotResult.latency.p99), ms(hotResult.latency.max), hotResult.requests - hotResult.ok, `**${hotRatio ?? '—'}** (target ≥ ${TARGET}: ${verdict(met)})`, ratio(hotResult.okPerSecond, ceiling.tps)],
          ['cold set (misses)', coldResult.okPerSecond, `${pct(coldHit, 1)} (${coldLookups ?? '—'})`, ms(coldResult.latency.p50), ms(coldResult.latency.p90), ms(coldResult.latency.p99), ms(coldResult.latency.max), coldResult.requests - coldResult.ok, coldRatioBare, coldRatioPg],
          ['bare Fastify route', bareResult.okPerSecond, '', ms(bareResult.latency.p50), ms(bareResult.latency.p90), ms(bareResult.latency.p99), ms(bareResult.latency.max), bareResult.requests - bareResult.ok, '1', ''],
          ['PostgreSQL (pgbench getOrder)', ceiling.tps.toFixed(1), '', ms(ceilingDist.p50), ms(ceilingDist.p90), ms(ceilingDist.p99), ms(ceilingDist.max), ceiling.failed, '', '1'],
        ],
      ),
      '',
      `![read-order latency](CHART:latency)`,
      '',
      ...(profile ? ['### CPU profile of the orders service serving the hot set', '', profileTables(profile), ''] : []),
      findingsAndResources(findings, resources),
    ].join('\n')

    return {
      name: 'read-order',
      ...timedSince(startedAt),
      checks: [
        {
          scenario: 'read-order',
          what: `cached GET /api/orders/{id} (hot set${cached ? '' : ', no cache wired'})`,
          value: `${hotResult.okPerSecond}/s (p99 ${ms(hotResult.latency.p99)})`,
          ceiling: `${bareResult.okPerSecond}/s bare Fastify route`,
          ratio: hotRatio,
          target: `ratio ≥ ${TARGET}`,
          met,
        },
        {
          scenario: 'read-order',
          what: 'uncached GET /api/orders/{id} (cold set)',
          value: `${coldResult.okPerSecond}/s (p99 ${ms(coldResult.latency.p99)})`,
          ceiling: `${ceiling.tps.toFixed(0)}/s PostgreSQL (getOrder's statements)`,
          ratio: coldRatioPg,
          target: '— (informational)',
          met: null,
        },
      ],
      findings,
      resources,
      charts: { latency: { title: 'read-order latency', svg: chart } },
      markdown: md,
      data: {
        settings: s,
        cache: { wired: cached, prefix, statsBefore: cacheBefore, hotHitRatio: hotHit, coldHitRatio: coldHit, hotLookupsPerRead: hotLookups, coldLookupsPerRead: coldLookups },
        hot: { ...hotResult, latenciesMs: undefined },
        cold: { ...coldResult, latenciesMs: undefined },
        bare: { ...bareResult, latenciesMs: undefined },
        ceiling: { tps: ceiling.tps, latency: ceilingDist, command: ceiling.command },
        profile,
      },
    }
  } finally {
    unregister()
    bare?.child.kill('SIGTERM')
    await deleteBenchOrders().catch((e: unknown) => log(`  ! could not delete the bench's orders: ${String(e)}`))
    redis.disconnect()
  }
}
