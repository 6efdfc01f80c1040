// POST /api/orders at fixed concurrency, against PostgreSQL running the same transaction at the same
// concurrency (pgbench, bench/sql/place-order.sql, in a scratch copy of the orders schema).
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type autocannon from 'autocannon'
import { adminSql, cloneSchema, dropDatabase, pgbench, type PgbenchResult } from '../lib/pg.ts'
import { sampleActivity, type ActivityShare } from '../lib/pg-activity.ts'
import { serviceShapes, type Fidelity } from '../lib/fidelity.ts'
import { cannon, type LoadResult } from '../lib/load.ts'
import { sampleResources, type ResourceReport } from '../lib/resources.ts'
import { customers, drainBenchSagas, MARKER_CUSTOMER, root, url } from '../lib/stack.ts'
import { orderBody } from '../lib/products.ts'
import { runningStrategy } from '../lib/strategy.ts'
import { onInterrupt } from '../lib/interrupt.ts'
import { distribution, ms, ratio } from '../lib/stats.ts'
import { log, progress } from '../lib/progress.ts'
import { activityTable, findingsAndResources, pct, profileTables, table, verdict } from '../lib/markdown.ts'
import { profileOrders, type ProfileSummary } from '../lib/profile.ts'
import { percentileChart } from '../lib/svg.ts'
import { timedSince, type ScenarioContext, type ScenarioResult } from '../lib/scenario.ts'

const SCRATCH_DB = 'trackops_orders_bench'
const SCRIPT = `${root}bench/sql/place-order.sql`
const TARGET = 0.6

function postRequests(pool: { customerId: string; authorization: string }[], products: string[]): autocannon.Request[] {
  const bodies = pool.map((c, i) => JSON.stringify(orderBody(c.customerId, products[i % products.length] as string)))
  let next = 0
  return [
    {
      method: 'POST',
      path: '/api/orders',
      setupRequest: (req) => {
        const i = next++ % pool.length
        return { ...req, headers: { 'content-type': 'application/json', authorization: (pool[i] as { authorization: string }).authorization }, body: bodies[i] }
      },
    },
  ]
}

export async function placeOrderScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.settings.placeOrder
  const startedAt = new Date()
  const resources: Record<string, ResourceReport> = {}
  const findings: string[] = []

  // The ceiling: PostgreSQL alone, running the same transaction with pgbench in a scratch copy of the schema.
  log(`place-order: preparing ${SCRATCH_DB} (schema of trackops_orders) for the pgbench ceiling`)
  const unregister = onInterrupt(() => dropDatabase(SCRATCH_DB))
  await cloneSchema('trackops_orders', SCRATCH_DB)
  let fidelity: Fidelity
  let ceiling: PgbenchResult
  let pgActivity: ActivityShare[]
  // The outbox trigger's NOTIFY makes every committing transaction take a cluster-wide lock. Since migration 0002
  // it fires only for sessions that set trackops.notify_outbox=on (services under the outbox strategy). The ceiling
  // runs with the same NOTIFY behaviour as the service; the what-if runs with the other.
  let notify = { conditional: false, service: true }
  let whatIf: { label: string; result: PgbenchResult; activity: ActivityShare[] } | null = null
  try {
    await adminSql(SCRATCH_DB, `INSERT INTO catalog_products SELECT unnest($1::text[]), gen_random_uuid(), 'Bench load product', 1000, true, false, 1, now()`, [ctx.products])
    const fn = await adminSql(SCRATCH_DB, `SELECT pg_get_functiondef('outbox_notify'::regproc) AS d`).catch(() => [])
    const conditional = /trackops\.notify_outbox/.test(String(fn[0]?.d ?? ''))
    notify = { conditional, service: conditional ? (await runningStrategy()) === 'outbox' : true }
    const NOTIFY_ON = '-c trackops.notify_outbox=on'
    fidelity = await serviceShapes(SCRATCH_DB, ctx.products[0] as string, SCRIPT)
    if (!fidelity.matches) log(`  ! bench/sql/place-order.sql differs from the service's statements:\n    service: ${fidelity.service.join(', ')}\n    script:  ${fidelity.script.join(', ')}`)
    await drainBenchSagas(60_000, (open, w) => progress('place-order: waiting for earlier bench sagas', w, 60, `${open} open`))
    log(`place-order: pgbench ceiling, ${s.connections} clients, ${s.seconds} s`)
    const sampler = sampleResources()
    const activity = sampleActivity(['pgbench'])
    const started = Date.now()
    ceiling = await pgbench({
      database: SCRATCH_DB,
      script: SCRIPT,
      clients: s.connections,
      threads: s.pgbenchThreads,
      seconds: s.seconds,
      vars: { customer: MARKER_CUSTOMER, products: String(ctx.products.length) },
      ...(notify.conditional && notify.service ? { pgOptions: NOTIFY_ON } : {}),
      onProgress: (line) => progress('place-order pgbench', (Date.now() - started) / 1000, s.seconds, /([\d.]+) tps, lat ([\d.]+ ms)/.exec(line)?.slice(1).join(' tps, lat ') ?? ''),
    })
    pgActivity = await activity.stop()
    resources.pgbench = await sampler.stop()

    // What-if: the other NOTIFY behaviour, same duration and concurrency.
    const label = notify.service ? 'without the outbox NOTIFY' : 'with the outbox NOTIFY on every commit (as under the outbox strategy)'
    log(`place-order: pgbench what-if ${label}, ${s.seconds} s`)
    if (notify.service && !notify.conditional) await adminSql(SCRATCH_DB, 'ALTER TABLE outbox DISABLE TRIGGER outbox_notify')
    const activity2 = sampleActivity(['pgbench'])
    const started2 = Date.now()
    const result = await pgbench({
      database: SCRATCH_DB,
      script: SCRIPT,
      clients: s.connections,
      threads: s.pgbenchThreads,
      seconds: s.seconds,
      vars: { customer: MARKER_CUSTOMER, products: String(ctx.products.length) },
      ...(!notify.service ? { pgOptions: NOTIFY_ON } : {}),
      onProgress: (line) => progress('place-order pgbench (what-if)', (Date.now() - started2) / 1000, s.seconds, /([\d.]+) tps/.exec(line)?.[1] ?? ''),
    })
    whatIf = { label, result, activity: (await activity2.stop()).map((a) => ({ ...a, applicationName: `pgbench ${label}` })) }
  } finally {
    unregister()
    await dropDatabase(SCRATCH_DB).catch((e: unknown) => log(`  ! could not drop ${SCRATCH_DB}: ${String(e)}`))
  }
  const ceilingDist = distribution(ceiling.latenciesMs)
  const whatIfDist = whatIf ? distribution(whatIf.result.latenciesMs) : null
  log(`  ceiling: ${ceiling.tps.toFixed(0)} tx/s, p50 ${ms(ceilingDist.p50)}, p99 ${ms(ceilingDist.p99)}`)

  // The service: POST /api/orders at the same concurrency, then the drain of the sagas it started.
  const pool = await customers(s.customers)
  log(`place-order: service warm-up ${s.warmupSeconds} s`)
  await cannon({ label: 'place-order warm-up', url: url('orders'), connections: s.connections, seconds: s.warmupSeconds, requests: postRequests(pool, ctx.products) })
  await drainBenchSagas(60_000, (open, w) => progress('place-order: draining warm-up sagas', w, 60, `${open} open`))
  log(`place-order: POST /api/orders, ${s.connections} connections, ${s.seconds} s`)
  const walBefore = await walCounters()
  const serviceStartedAt = new Date()
  const sampler = sampleResources()
  const activity = sampleActivity(['trackops-orders'])
  const service: LoadResult = await cannon({ label: 'place-order service', url: url('orders'), connections: s.connections, seconds: s.seconds, requests: postRequests(pool, ctx.products) })
  const serviceActivity = await activity.stop()
  resources.service = await sampler.stop()
  log(`  service: ${service.okPerSecond} orders/s, p50 ${ms(service.latency.p50)}, p99 ${ms(service.latency.p99)}, statuses ${JSON.stringify(service.statuses)}`)

  // The sagas of those orders keep inventory, payments and Kafka busy after the POSTs stop.
  const drainSampler = sampleResources()
  const drained = await drainBenchSagas(180_000, (open, w) => progress('place-order: sagas of the placed orders finishing', w, 180, `${open} open`))
  resources['saga drain after the run'] = await drainSampler.stop()
  const walAfter = await walCounters()
  // What the server wrote for one order, POST and saga: WAL records and WAL flushes (fsyncs; a commit waits for one).
  const walPerOrder = service.ok > 0 ? { records: (walAfter.records - walBefore.records) / service.ok, syncs: (walAfter.syncs - walBefore.syncs) / service.ok } : null
  const outcomes = Object.fromEntries(
    (
      await adminSql(
        'trackops_orders',
        `SELECT status, count(*)::int AS n FROM saga_instances WHERE customer_id::text LIKE 'be4c%' AND customer_id <> $1 AND created_at >= $2 GROUP BY status ORDER BY 2 DESC`,
        [MARKER_CUSTOMER, serviceStartedAt],
      )
    ).map((r) => [r.status as string, r.n as number]),
  )

  let profile: ProfileSummary | null = null
  if (ctx.settings.profile) {
    const dir = dirname(ctx.artefactPrefix)
    await mkdir(dir, { recursive: true })
    log(`place-order: CPU profile of orders, ${s.profileSeconds} s of the same load`)
    try {
      profile = await profileOrders(
        dir,
        () => cannon({ label: 'place-order (profiling)', url: url('orders'), connections: s.connections, seconds: s.profileSeconds, requests: postRequests(pool, ctx.products) }),
        () => cannon({ label: 'place-order (profiling warm-up)', url: url('orders'), connections: s.connections, seconds: s.warmupSeconds, requests: postRequests(pool, ctx.products) }),
      )
      await drainBenchSagas(120_000)
    } catch (error) {
      findings.push(`The CPU profile could not be taken: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  // Verdict and findings: the service against the ceiling, and where the time and the CPU went.
  const r = ratio(service.okPerSecond, ceiling.tps)
  const met = r === null ? null : r >= TARGET
  const svcAct = serviceActivity[0]
  const pgAct = pgActivity[0]
  const orders = resources.service.processes.find((p) => p.name === 'orders')
  const busyCores = (resources.service.machine.cpuBusyPct / 100) * resources.service.machine.cores
  if (svcAct) {
    const active = svcAct.sessions.active ?? 0
    const idleTx = svcAct.sessions['idle in transaction'] ?? 0
    const idle = svcAct.sessions.idle ?? 0
    findings.push(
      `During the service run the orders service's PostgreSQL sessions were on average ${active.toFixed(1)} active, ${idleTx.toFixed(1)} idle in transaction (a transaction open while Node prepares its next statement) and ${idle.toFixed(1)} idle; pgbench kept ${(pgAct?.sessions.active ?? 0).toFixed(1)} of its ${s.connections} sessions active. ` +
        `The service had ${(active + idleTx + idle).toFixed(1)} sessions open on average (its pg pool size), so at most that many of the ${s.connections} concurrent requests can be inside the database at once.`,
    )
  }
  if (orders) {
    findings.push(
      `CPU during the service run: orders ${orders.cpuAvgCores.toFixed(2)} cores (peak ${orders.cpuPeakCores.toFixed(2)}), the whole machine ${busyCores.toFixed(2)} of ${resources.service.machine.cores} cores. ` +
        `The rest went to PostgreSQL, the saga pipeline running concurrently (${['inventory', 'payments', 'connect', 'kafka', 'relay'].map((n) => `${n} ${resources.service?.processes.find((p) => p.name === n)?.cpuAvgCores.toFixed(2) ?? '—'}`).join(', ')}) and the load generator (${resources.service.processes.find((p) => p.name.startsWith('bench'))?.cpuAvgCores.toFixed(2) ?? '—'}).`,
    )
  }
  const notifyLock = 'object pg_database/0 AccessExclusiveLock'
  const pgLockWaiters = pgAct?.lockWaits[notifyLock] ?? 0
  const svcLockWaiters = svcAct?.lockWaits[notifyLock] ?? 0
  const whatIfLockWaiters = whatIf?.activity[0]?.lockWaits[notifyLock] ?? 0
  const notifyNote =
    'A transaction that issued NOTIFY holds a cluster-wide lock while it commits, so such transactions commit one at a time across every database on the server.'
  if (whatIf && whatIfDist) {
    const [withN, withoutN] = notify.service ? [ceiling, whatIf.result] : [whatIf.result, ceiling]
    findings.push(
      `NOTIFY on commit: the place-order transaction ran at ${withN.tps.toFixed(0)} tx/s with the outbox trigger's NOTIFY and ${withoutN.tps.toFixed(0)} tx/s without it (×${(withoutN.tps / withN.tps).toFixed(2)}); ` +
        `with it, on average ${(notify.service ? pgLockWaiters : whatIfLockWaiters).toFixed(1)} of ${s.connections} sessions were waiting for \`${notifyLock}\` (wait event Lock:object). ${notifyNote} ` +
        (notify.conditional
          ? `The trigger notifies only for sessions with trackops.notify_outbox=on, i.e. services under the outbox strategy; the services measured here ${notify.service ? 'do' : 'do not'} (orders sessions waiting for that lock: ${svcLockWaiters}).`
          : `The trigger notifies on every outbox insert whatever the strategy (orders sessions waiting for that lock: ${svcLockWaiters}). Proposed fix: notify only when the relay is the publisher.`),
    )
  }
  if (orders && service.okPerSecond > 0) {
    const cpuMs = (orders.cpuAvgCores * 1000) / service.okPerSecond
    findings.push(`The orders process spent ${cpuMs.toFixed(2)} ms of CPU per order placed (${orders.cpuAvgCores.toFixed(2)} cores at ${service.okPerSecond}/s, including its share of the concurrent saga work): one core of its own would carry ≈${Math.round(1000 / cpuMs)} orders/s. Its event loop lagged up to ${ms(resources.service.eventLoopLagMs.orders?.p99Max ?? null)} (p99).`)
  }
  const pgInPgbench = resources.pgbench?.processes.find((p) => p.name === 'postgresql (all)')
  if (orders && pgInPgbench && service.okPerSecond > 0 && ceiling.tps > 0) {
    const nodeMs = (orders.cpuAvgCores * 1000) / service.okPerSecond
    const pgMs = (pgInPgbench.cpuAvgCores * 1000) / ceiling.tps
    const cores = resources.service.machine.cores
    const bound = (cores * 1000) / (nodeMs + pgMs)
    findings.push(
      `What the target asks of this machine: PostgreSQL spent ${pgMs.toFixed(2)} ms of CPU per transaction in the ceiling run and the orders process ${nodeMs.toFixed(2)} ms per order, so even with the sagas switched off and ${cores} cores for these two alone the service could place at most ≈${Math.round(bound)} orders/s, ${(bound / ceiling.tps).toFixed(2)} of the ceiling — ` +
        `the ceiling itself used ${(pgInPgbench.cpuAvgCores).toFixed(2)} cores of PostgreSQL plus pgbench.`,
    )
  }
  if (orders && orders.cpuPeakCores >= 0.9) findings.push(`The orders process reached ${orders.cpuPeakCores.toFixed(2)} cores in its busiest second: one Node event loop is at its limit, so the service is CPU-bound in its own process.`)
  // CPU cost of one order end to end: the POST and, during the drain, the rest of its saga.
  const phasesOfOrders = [resources.service, resources['saga drain after the run']].filter((x): x is ResourceReport => x !== undefined)
  const cpuMsPerOrder = new Map<string, number>()
  for (const ph of phasesOfOrders) {
    for (const p of ph.processes) {
      if (p.name.startsWith('bench') || p.name === 'console') continue
      const idle = ctx.baseline.processes.find((b) => b.name === p.name)?.cpuAvgCores ?? 0
      cpuMsPerOrder.set(p.name, (cpuMsPerOrder.get(p.name) ?? 0) + (Math.max(0, p.cpuAvgCores - idle) * ph.seconds * 1000) / Math.max(1, service.ok))
    }
  }
  const totalCpuMs = [...cpuMsPerOrder.values()].reduce((a, b) => a + b, 0)
  if (service.ok > 0 && drained.open === 0) {
    findings.push(
      `CPU per order above the idle baseline, POST plus its whole saga (service run and drain): ${[...cpuMsPerOrder].sort((a, b) => b[1] - a[1]).map(([n, v]) => `${n} ${v.toFixed(1)} ms`).join(', ')} — ${totalCpuMs.toFixed(1)} ms in all, ` +
        `so ${resources.service.machine.cores} cores could complete at most ≈${Math.round((resources.service.machine.cores * 1000) / totalCpuMs)} orders/s end to end if nothing else ran (an upper bound for the saga scenario). PostgreSQL's share includes other sessions on the server.`,
    )
  }
  if (walPerOrder && drained.open === 0) {
    findings.push(`PostgreSQL wrote ${walPerOrder.records.toFixed(1)} WAL records and flushed the WAL ${walPerOrder.syncs.toFixed(2)} times per order, POST plus its whole saga (pg_stat_wal over the run and the drain; the server's other work included).`)
  }
  findings.push(`Outcome of the sagas of the orders placed during the measured run (and the profiling run, if any) once the drain ended: ${Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || 'none found'}.${(outcomes.COMPENSATED ?? 0) + (outcomes.COMPENSATING ?? 0) > 0 ? ' Compensated sagas here are orders the pipeline did not reserve in time (step deadline): the API accepts orders faster than the saga completes them, and nothing pushes back on the POSTs.' : ''}`)
  if (drained.open === 0) findings.push(`The ${service.ok} orders' sagas all finished ${drained.seconds.toFixed(0)} s after the POSTs stopped: the saga pipeline completes ≈${(service.ok / (s.seconds + drained.seconds)).toFixed(0)} orders/s while the API accepts ${service.okPerSecond}/s.`)
  else findings.push(`${drained.open} of the bench's sagas were still running ${drained.seconds.toFixed(0)} s after the POSTs stopped.`)
  if (!fidelity.matches) findings.push(`bench/sql/place-order.sql no longer matches the service's statements (service: ${fidelity.service.join(', ')}); the ceiling is approximate until the script is updated.`)

  const chart = percentileChart('place-order: POST /api/orders vs PostgreSQL running the same transaction', [
    { name: `service (${service.okPerSecond}/s)`, dist: service.latency },
    { name: `pgbench ceiling (${ceiling.tps.toFixed(0)}/s)`, dist: ceilingDist, dashed: true },
    ...(whatIf && whatIfDist ? [{ name: `pgbench ${notify.service ? 'without' : 'with'} NOTIFY (${whatIf.result.tps.toFixed(0)}/s)`, dist: whatIfDist, dashed: true }] : []),
  ])

  const md = [
    `## 1. place-order — POST /api/orders`,
    '',
    `${s.connections} concurrent connections for ${s.seconds} s (autocannon, after a ${s.warmupSeconds} s warm-up), each request a different customer (${s.customers} customers with their own tokens, so the per-client rate limit of a real client applies), one line each over ${ctx.products.length} products. ` +
      `Ceiling: pgbench running bench/sql/place-order.sql — the same ${fidelity.script.length} statements in one transaction — with \`-c ${s.connections} -j ${s.pgbenchThreads} -T ${s.seconds} -M prepared\` against a scratch copy of the orders schema on the same server, its sessions ${notify.service ? 'notifying' : 'not notifying'} on outbox inserts as the service's do; a what-if runs it ${notify.service ? 'without' : 'with'} the NOTIFY.`,
    '',
    table(
      ['', 'throughput', 'p50', 'p90', 'p99', 'max', 'errors'],
      [
        ['service', `${service.okPerSecond} orders/s`, ms(service.latency.p50), ms(service.latency.p90), ms(service.latency.p99), ms(service.latency.max), `${service.requests - service.ok} non-2xx (${JSON.stringify(service.statuses)}), ${service.errors} socket errors`],
        [`PostgreSQL (pgbench; NOTIFY ${notify.service ? 'on' : 'off'}, as for the service)`, `${ceiling.tps.toFixed(1)} tx/s`, ms(ceilingDist.p50), ms(ceilingDist.p90), ms(ceilingDist.p99), ms(ceilingDist.max), `${ceiling.failed} failed`],
        ...(whatIf && whatIfDist
          ? [[`what-if: PostgreSQL ${whatIf.label}`, `${whatIf.result.tps.toFixed(1)} tx/s`, ms(whatIfDist.p50), ms(whatIfDist.p90), ms(whatIfDist.p99), ms(whatIfDist.max), `${whatIf.result.failed} failed`]]
          : []),
        ['**ratio**', `**${r ?? '—'}** (target ≥ ${TARGET}: ${verdict(met)})`, '', '', '', '', ''],
      ],
    ),
    '',
    `![place-order latency](CHART:latency)`,
    '',
    `Statement check: the service's placeOrder issued \`${fidelity.service.join(' → ')}\`; the script ${fidelity.matches ? 'issues the same' : `issues \`${fidelity.script.join(' → ')}\` (**differs**)`}. Outbox payloads written by the service: ${fidelity.outboxPayloadBytes.join(' and ')} bytes.`,
    '',
    'What PostgreSQL sessions were doing (pg_stat_activity sampled every 100 ms):',
    '',
    activityTable([...pgActivity, ...(whatIf?.activity ?? []), ...serviceActivity]),
    '',
    ...(profile ? ['### CPU profile of the orders service under this load', '', profileTables(profile), ''] : []),
    findingsAndResources(findings, resources),
  ].join('\n')

  return {
    name: 'place-order',
    ...timedSince(startedAt),
    checks: [
      {
        scenario: 'place-order',
        what: 'POST /api/orders throughput',
        value: `${service.okPerSecond}/s (p99 ${ms(service.latency.p99)})`,
        ceiling: `${ceiling.tps.toFixed(0)}/s PostgreSQL (pgbench, same transaction)`,
        ratio: r,
        target: `ratio ≥ ${TARGET}`,
        met,
      },
    ],
    findings,
    resources,
    charts: { latency: { title: 'place-order latency', svg: chart } },
    markdown: md,
    data: {
      settings: s,
      service: { ...service, latenciesMs: undefined },
      ceiling: { tps: ceiling.tps, transactions: ceiling.transactions, failed: ceiling.failed, latency: ceilingDist, command: ceiling.command },
      notify,
      whatIf: whatIf ? { label: whatIf.label, tps: whatIf.result.tps, failed: whatIf.result.failed, latency: whatIfDist, command: whatIf.result.command } : null,
      ratio: r,
      fidelity,
      activity: { service: serviceActivity, pgbench: pgActivity, pgbenchWhatIf: whatIf?.activity ?? [] },
      drain: drained,
      sagaOutcomes: outcomes,
      cpuMsPerOrder: Object.fromEntries(cpuMsPerOrder),
      walPerOrder,
      profile,
      busyCores,
      pctBusy: pct(resources.service.machine.cpuBusyPct / 100),
    },
  }
}

/** The server's WAL records written and WAL flushes (fsyncs) so far. */
async function walCounters(): Promise<{ records: number; syncs: number }> {
  const [row] = await adminSql('postgres', 'SELECT wal_records::float8 AS records, wal_sync::float8 AS syncs FROM pg_stat_wal')
  return { records: Number(row?.records ?? 0), syncs: Number(row?.syncs ?? 0) }
}
