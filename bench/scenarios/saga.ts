// The order saga end to end at fixed arrival rates (open loop), for both publishing strategies, and a flash sale
// (debezium, every order on one product): latency from the moment a POST was due to ORDER_STATUS_UPDATED →
// CONFIRMED arriving on orders.events, hop by hop.
import { adminSql, serviceDatabases } from '../lib/pg.ts'
import { placeOrdersOpenLoop, settlePhase, trackSagas, type SagaPhaseResult, type SagaTracker } from '../lib/open-loop.ts'
import { sampleResources, type ResourceReport } from '../lib/resources.ts'
import { drainBenchSagas, getJson, services, testEnv } from '../lib/stack.ts'
import { restartable } from '../lib/processes.ts'
import { outboxConnectors, restore, snapshot, switchStrategy, type Strategy } from '../lib/strategy.ts'
import { onInterrupt } from '../lib/interrupt.ts'
import { ms } from '../lib/stats.ts'
import { metricDeltas, scrapeServiceMetrics, type ConsumerTiming } from '../lib/service-metrics.ts'
import { log, progress, sleep } from '../lib/progress.ts'
import { findingsAndResources, table, verdict } from '../lib/markdown.ts'
import { lineChart } from '../lib/svg.ts'
import { timedSince, type Check, type ScenarioContext, type ScenarioResult } from '../lib/scenario.ts'

const TARGET_RATE = 100
const TARGET_P50 = 100
const TARGET_P99 = 300
/** The flash sale holds at least this share of the rate held with orders spread over the bench's products. */
const FLASH_SHARE = 0.8
const FLASH = 'flash sale'

/** A run of escalating rates: a publishing strategy and the products its orders take. */
interface Lane {
  name: string
  strategy: Strategy
  products: string[]
}

/**
 * Waits until the relay has published every outbox row (outbox strategy) so a backlog does not skew the phase, then
 * vacuums the outbox tables: publishing the rows written under debezium leaves that many dead entries in the index the
 * relay scans, which autovacuum clears within a minute or so — the phases measure the steady state, not that minute.
 */
async function waitForOutboxBacklog(timeoutMs = 120_000) {
  const started = Date.now()
  for (;;) {
    let backlog = 0
    for (const db of serviceDatabases) {
      const rows = await adminSql(db, `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`).catch(() => [{ n: 0 }])
      backlog += rows[0]?.n as number
    }
    if (backlog < 5 || Date.now() - started > timeoutMs) {
      for (const db of serviceDatabases) await adminSql(db, 'VACUUM (ANALYZE) outbox')
      return backlog
    }
    progress('saga: relay publishing the outbox backlog', (Date.now() - started) / 1000, timeoutMs / 1000, `${backlog} rows`)
    await sleep(1_000)
  }
}

/** A few orders through the whole saga, to know the pipeline works and every consumer has joined its group. */
async function warmUp(tracker: SagaTracker, ctx: ScenarioContext, label: string, products: string[]) {
  const run = await placeOrdersOpenLoop({ rate: 5, seconds: ctx.settings.saga.warmupOrders / 5, products })
  const r = await settlePhase(run, tracker, 90, (w, open) => progress(`saga ${label}: warm-up orders`, w, 90, `${open} open`))
  if (r.confirmed < r.sent) throw new Error(`saga warm-up under ${label}: ${r.confirmed} of ${r.sent} orders confirmed within 90 s (post errors ${JSON.stringify(r.postErrors)}, cancelled ${r.cancelled})`)
}

async function connectorSettings(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const c of outboxConnectors) {
    const r = await getJson<Record<string, string>>(`${testEnv.connectUrl}/connectors/${c}/config`).catch(() => null)
    if (r?.status === 200) out[c] = `poll.interval.ms=${r.body['poll.interval.ms'] ?? 'default (500)'}, max.batch.size=${r.body['max.batch.size'] ?? 'default (2048)'}`
  }
  return out
}

export async function sagaScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const s = ctx.settings.saga
  const startedAt = new Date()
  const resources: Record<string, ResourceReport> = {}
  const findings: string[] = []
  const phases: (SagaPhaseResult & { lane: string; strategy: Strategy; timings: ConsumerTiming[] })[] = []
  const laneErrors: Record<string, string> = {}
  // Each strategy over the bench's products; after debezium, the same with every order on one product (a flash sale).
  const lanes: Lane[] = s.strategies.flatMap((strategy) => [
    { name: strategy, strategy, products: ctx.products },
    ...(strategy === 'debezium' ? [{ name: FLASH, strategy, products: ctx.products.slice(0, 1) }] : []),
  ])
  const original = await snapshot()
  const connectors = await connectorSettings()
  const relayPoll = original.envs.relay?.RELAY_POLL_MS ?? 'default (1000)'
  log(`saga: services run with ${original.strategy}; outbox connectors ${JSON.stringify(original.connectors)}`)
  const tracker = await trackSagas()
  const unregister = onInterrupt(() => restore(original))
  try {
    for (const lane of lanes) {
      const { strategy } = lane
      try {
        const current = await snapshot()
        const wanted = strategy === 'outbox' ? 'PAUSED' : 'RUNNING'
        const connectorsWrong = outboxConnectors.some((c) => c in current.connectors && current.connectors[c] !== wanted)
        if (current.strategy !== strategy || connectorsWrong) {
          const blocked = (await Promise.all(services.map(restartable))).filter((x): x is string => x !== null)
          if (blocked.length) throw new Error(`cannot switch to ${strategy}: ${blocked.join('; ')}`)
          log(`saga: switching to ${strategy}`)
          await switchStrategy(strategy, original)
        }
        if (strategy === 'outbox') await waitForOutboxBacklog()
        await drainBenchSagas(120_000, (open, w) => progress(`saga ${lane.name}: earlier bench sagas finishing`, w, 120, `${open} open`))
        await warmUp(tracker, ctx, lane.name, lane.products)
        for (const rate of s.rates) {
          log(`saga ${lane.name}: ${rate} orders/s for ${s.seconds} s${lane.products.length === 1 ? ` (every order on ${lane.products[0]})` : ''}`)
          const sampler = sampleResources()
          const metricsBefore = await scrapeServiceMetrics()
          const run = await placeOrdersOpenLoop({
            rate,
            seconds: s.seconds,
            products: lane.products,
            onTick: (el, posted) => {
              const confirmed = posted.filter((p) => p.orderId && tracker.arrivals.get(p.orderId)?.confirmed).length
              progress(`saga ${lane.name} ${rate}/s`, el, s.seconds, `sent ${posted.length}  answered ${posted.filter((p) => p.status).length}  confirmed ${confirmed}`)
            },
          })
          const result = await settlePhase(run, tracker, s.drainSeconds, (w, open) => progress(`saga ${lane.name} ${rate}/s: draining`, w, s.drainSeconds, `${open} open`))
          resources[`${lane.name} ${rate}/s`] = await sampler.stop()
          const timings = metricDeltas(metricsBefore, await scrapeServiceMetrics())
          phases.push({ ...result, lane: lane.name, strategy, timings })
          log(
            `  ${lane.name} ${rate}/s: completed ${result.completedPerSecond}/s, p50 ${ms(result.endToEnd.p50)}, p95 ${ms(result.endToEnd.p95)}, p99 ${ms(result.endToEnd.p99, '> drain')}, ` +
              `${result.confirmed}/${result.sent} confirmed${result.held ? '' : ` — not held: ${result.notHeldBecause.join('; ')}`}`,
          )
          await drainBenchSagas(60_000)
          // A rate not held only queues more at the next one: stop (the target is then missed without running it).
          if (!result.held) break
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        laneErrors[lane.name] = message
        log(`  ! saga ${lane.name} stopped: ${message}`)
      }
    }
  } finally {
    await tracker.close().catch(() => undefined)
    log(`saga: making sure the stack runs as before (${original.strategy}, connectors ${JSON.stringify(original.connectors)})`)
    await restore(original)
    unregister()
  }

  // Verdict and findings: each lane against its target, and which hops and consumers the time went to.
  const checks: Check[] = []
  const highestHeld = (lane: string) => phases.filter((p) => p.lane === lane && p.held).sort((a, b) => b.rate - a.rate)[0]
  for (const { name: laneName, strategy } of lanes) {
    const own = phases.filter((p) => p.lane === laneName)
    const at = own.find((p) => p.rate === TARGET_RATE)
    const best = highestHeld(laneName)
    if (laneName === FLASH) {
      const spread = highestHeld(strategy)
      checks.push({
        scenario: 'saga',
        what: `saga: highest rate held, every order on one product (flash sale, ${strategy})`,
        value: best ? `${best.rate}/s (${best.completedPerSecond}/s completed, p99 ${ms(best.endToEnd.p99)})` : 'no rate held',
        ceiling: spread ? `${spread.rate}/s held with orders spread over ${ctx.products.length} products` : 'no spread rate held',
        ratio: best && spread ? Math.round((best.rate / spread.rate) * 1000) / 1000 : null,
        target: `≥ ${FLASH_SHARE} × the spread figure`,
        met: spread ? (best?.rate ?? 0) >= FLASH_SHARE * spread.rate : null,
      })
    } else {
      const failedBelow = own.find((p) => !p.held && p.rate < TARGET_RATE)
      const met = at ? (at.endToEnd.p50 ?? Infinity) <= TARGET_P50 && (at.endToEnd.p99 ?? Infinity) <= TARGET_P99 : failedBelow ? false : null
      checks.push({
        scenario: 'saga',
        what: `saga POST → CONFIRMED at ${TARGET_RATE} orders/s, ${laneName}`,
        value: at
          ? `p50 ${ms(at.endToEnd.p50)}, p99 ${ms(at.endToEnd.p99, '> drain')}`
          : failedBelow
            ? `not reached: ${failedBelow.rate}/s already not held (p50 ${ms(failedBelow.endToEnd.p50, '> drain')}, p99 ${ms(failedBelow.endToEnd.p99, '> drain')})`
            : 'not run',
        ceiling: best ? `held up to ${best.rate}/s (${best.completedPerSecond}/s completed)` : 'no rate held',
        ratio: at ? Math.round((at.completedPerSecond / at.rate) * 1000) / 1000 : null,
        target: `p50 ≤ ${TARGET_P50} ms, p99 ≤ ${TARGET_P99} ms`,
        met,
      })
    }
    const shown = at ?? own.filter((p) => p.held).sort((a, b) => b.rate - a.rate)[0]
    if (shown) {
      const at = shown
      const hopsByMedian = [...at.hops].sort((a, b) => (b.dist.p50 ?? 0) - (a.dist.p50 ?? 0))
      const sumP50 = at.hops.reduce((n, h) => n + (h.dist.p50 ?? 0), 0)
      findings.push(
        `${laneName} at ${at.rate}/s${at.rate === TARGET_RATE ? '' : ' (the highest rate held)'}: the five hops' medians add up to ${ms(sumP50)} (end-to-end p50 ${ms(at.endToEnd.p50)}); the slowest are ${hopsByMedian
          .slice(0, 3)
          .map((h) => `"${h.name}" p50 ${ms(h.dist.p50)} / p99 ${ms(h.dist.p99)}`)
          .join(', ')}. ` +
          (strategy === 'debezium'
            ? `Every hop includes one Debezium publish (outbox connectors: ${Object.values(connectors)[0] ?? 'settings unknown'}).`
            : `Every hop includes one relay publish (RELAY_POLL_MS=${relayPoll}, LISTEN/NOTIFY wake-up).`),
      )
    }
    const probe = at ?? own[own.length - 1]
    if (probe) {
      const sagaTopics = ['inventory.commands', 'inventory.events', 'payments.commands', 'payments.events']
      const ages = probe.timings.filter((t) => t.metric === 'message_age_seconds' && sagaTopics.includes(t.topic))
      const handles = probe.timings.filter((t) => t.metric === 'message_handle_seconds')
      const worst = [...ages].sort((a, b) => b.meanMs - a.meanMs)[0]
      if (worst) {
        const handle = handles.find((h) => h.group === worst.group && h.topic === worst.topic)
        findings.push(
          `${laneName} at ${probe.rate}/s, as the services measure it: records of ${worst.topic} were on average ${ms(worst.meanMs)} old when group ${worst.group} (${worst.service}) had applied them` +
            (handle ? `, of which applying took ${ms(handle.meanMs)} (transaction included): ${worst.meanMs > 3 * handle.meanMs ? 'the rest is time in Kafka and waiting in the consumer, behind earlier records of the same partition' : 'most of it is the work itself'}` : '') +
            `. The other saga consumers: ${ages.filter((a) => a !== worst).map((a) => `${a.group}/${a.topic} ${ms(a.meanMs)}`).join(', ')}.`,
        )
      }
    }
    if (laneErrors[laneName]) findings.push(`The ${laneName} lane stopped early: ${laneErrors[laneName]}.`)
    for (const p of own.filter((x) => !x.held)) findings.push(`${laneName} did not hold ${p.rate}/s: ${p.notHeldBecause.join('; ')}.`)
  }
  const lateness = Math.max(...phases.map((p) => p.schedulerLateness.p99 ?? 0), 0)
  if (lateness > 20) findings.push(`The load generator itself fired up to ${ms(lateness)} late (p99) in some phases; latencies are measured from the due time, so that lateness is included rather than hidden.`)

  const chart = lineChart({
    title: 'saga: POST due → CONFIRMED on orders.events, by arrival rate',
    xLabel: 'arrival rate (orders/s, open loop)',
    yLabel: 'latency',
    yLog: true,
    series: lanes.flatMap(({ name }, i) =>
      (['p50', 'p95', 'p99'] as const).map((q, j) => ({
        name: `${name} ${q}`,
        dashed: i > 0,
        color: j,
        points: phases.filter((p) => p.lane === name && p.endToEnd[q] !== null).map((p) => [p.rate, p.endToEnd[q] as number] as [number, number]),
      })),
    ),
    xScale: (x) => {
      const rates = [...new Set(phases.map((p) => p.rate).concat(s.rates))].sort((a, b) => a - b)
      const i = rates.indexOf(x)
      return rates.length <= 1 ? 0.5 : 0.05 + (0.9 * (i < 0 ? 0 : i)) / (rates.length - 1)
    },
    xTicks: [...new Set(s.rates)].map((r) => ({ value: r, label: `${r}/s` })),
    refLines: [
      { y: TARGET_P50, label: `target p50 ${TARGET_P50} ms` },
      { y: TARGET_P99, label: `target p99 ${TARGET_P99} ms` },
    ],
  })

  const md = [
    `## 3. saga — POST → CONFIRMED, open loop`,
    '',
    `Orders arrive at fixed rates (${s.rates.join(', ')} per second, ${s.seconds} s each, fired at exact intervals whatever the responses) with a new customer each; latency runs from the moment a POST was due to the ORDER_STATUS_UPDATED (newStatus CONFIRMED) record reaching the bench's Kafka consumer. ` +
      `A rate is *held* when confirmations reach ≥ 95 % of the arrival rate within the phase (+2 s), p99 < 2 s and < 1 % of POSTs fail; escalation stops at the first rate not held (a higher rate would only queue more), and the target rate then counts as missed. Orders not confirmed within ${s.drainSeconds} s count as unfinished (they push the percentiles to "> drain"). ` +
      `The flash sale runs under debezium with every order on one product (${ctx.products[0] ?? '—'}): every reservation takes the same stock row; its target is ${FLASH_SHARE} × the rate held with orders spread. ` +
      `Publishing: debezium = outbox connectors (${Object.entries(connectors).map(([k, v]) => `${k}: ${v}`).join('; ') || 'settings unknown'}); outbox = the relay (RELAY_POLL_MS ${relayPoll}, LISTEN/NOTIFY wake-up), the Debezium outbox connectors paused meanwhile.`,
    '',
    table(
      ['lane', 'rate', 'sent', 'confirmed', 'completed/s', 'p50', 'p95', 'p99', 'max', 'POST p99', 'held'],
      phases.map((p) => [
        p.lane,
        `${p.rate}/s`,
        p.sent,
        `${p.confirmed}${p.cancelled ? ` (+${p.cancelled} cancelled)` : ''}${p.unfinished ? ` (${p.unfinished} unfinished)` : ''}`,
        p.completedPerSecond,
        ms(p.endToEnd.p50),
        ms(p.endToEnd.p95, '> drain'),
        ms(p.endToEnd.p99, '> drain'),
        ms(p.endToEnd.max),
        ms(p.post.p99),
        p.held ? 'yes' : `no (${p.notHeldBecause.join('; ')})`,
      ]),
    ),
    '',
    table(
      ['target', 'value', 'highest rate held', 'met'],
      checks.map((c) => [c.what, c.value, c.ceiling, verdict(c.met)]),
    ),
    '',
    `![saga latency by rate](CHART:latency)`,
    '',
    'Hop by hop (arrival of each record at the bench\'s consumer; p50 / p99):',
    '',
    table(
      ['lane', 'rate', ...(phases[0]?.hops.map((h) => h.name) ?? [])],
      phases.map((p) => [p.lane, `${p.rate}/s`, ...p.hops.map((h) => `${ms(h.dist.p50)} / ${ms(h.dist.p99)}`)]),
    ),
    '',
    'As the services measure it (deltas of their /actuator/prometheus histograms over the highest rate held and the first rate not held): *apply* = one record\'s transaction in the consumer, *age* = broker timestamp → applied.',
    '',
    table(
      ['lane', 'rate', 'service', 'group / source', 'topic', 'records', 'apply mean', 'age mean', 'age p99 ≤'],
      lanes.flatMap(({ name }) => {
        const own = phases.filter((p) => p.lane === name)
        const picked = [own.filter((x) => x.held).sort((a, b) => b.rate - a.rate)[0], own.find((x) => !x.held)].filter((x): x is (typeof own)[number] => x !== undefined)
        const rows = new Map<string, (string | number)[]>()
        for (const p of picked) for (const t of p.timings) {
          const k = `${p.rate}|${t.service}|${t.group}|${t.topic}`
          const row = rows.get(k) ?? [name, `${p.rate}/s${p.held ? '' : ' (not held)'}`, t.service, t.group, t.topic || '—', t.count, '—', '—', '—']
          if (t.metric === 'message_handle_seconds') row[6] = ms(t.meanMs)
          if (t.metric === 'message_age_seconds' || t.metric === 'outbox_publish_delay_seconds') {
            row[7] = `${ms(t.meanMs)}${t.metric === 'outbox_publish_delay_seconds' ? ' (row → broker ack)' : ''}`
            row[8] = t.p99UpToMs === null ? '> 10 s' : ms(t.p99UpToMs)
          }
          rows.set(k, row)
        }
        return [...rows.values()]
      }),
    ),
    '',
    findingsAndResources(findings, resources),
  ].join('\n')

  return {
    name: 'saga',
    ...timedSince(startedAt),
    checks,
    findings,
    resources,
    charts: { latency: { title: 'saga latency by rate', svg: chart } },
    markdown: md,
    data: { settings: s, laneErrors, original: { strategy: original.strategy, connectors: original.connectors }, connectorSettings: connectors, relayPollMs: relayPoll, phases },
  }
}
