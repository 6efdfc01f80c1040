// npm run bench [-- --only place-order,saga] [--quick | --long] [--profile] [--strategies debezium,outbox] [--report]
//
// Measures the running stack (scripts/services.sh, infra/stack.sh) against ceilings measured in the same run and
// writes bench/results/<timestamp>.{json,md} with SVG charts; a full run also becomes bench/REPORT.md. See
// bench/README.md.
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { closePools } from './lib/pg.ts'
import { describeEnvironment, type Environment } from './lib/environment.ts'
import { readLoadAverage, sampleResources, type ResourceReport } from './lib/resources.ts'
import { log, progress } from './lib/progress.ts'
import { resourcesTable, table, verdict } from './lib/markdown.ts'
import { root, waitForServices } from './lib/stack.ts'
import { ensureProducts } from './lib/products.ts'
import { runInterruptHooks } from './lib/interrupt.ts'
import { scenarioNames, settingsFor, type Check, type ScenarioContext, type ScenarioName, type ScenarioResult, type Settings } from './lib/scenario.ts'
import { placeOrderScenario } from './scenarios/place-order.ts'
import { readOrderScenario } from './scenarios/read-order.ts'
import { sagaScenario } from './scenarios/saga.ts'
import { cdcLagScenario } from './scenarios/cdc-lag.ts'

const scenarios: Record<ScenarioName, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  'place-order': placeOrderScenario,
  'read-order': readOrderScenario,
  saga: sagaScenario,
  'cdc-lag': cdcLagScenario,
}

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    strategies: { type: 'string' },
    rates: { type: 'string' },
    report: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})

if (args.help) {
  process.stdout.write(`npm run bench [-- options]
  --only a,b        scenarios to run: ${scenarioNames.join(', ')} (default: all)
  --quick           tiny durations, to try the tooling (not for figures)
  --long            longer runs and more saga rates
  --profile         also take a CPU profile of the orders service under the place-order load (restarts it twice)
  --strategies x,y  publishing strategies for the saga scenario (default: debezium,outbox)
  --rates a,b       arrival rates (orders/s) for the saga scenario (default: 50,100,200)
  --report          copy this run to bench/REPORT.md even if it is partial or --quick
  --wait-quiet N    first wait up to N minutes for the 1-minute load average to drop to the core count
`)
  process.exit(0)
}

const only = args.only ? args.only.split(',').map((s) => s.trim()) : scenarioNames
const unknown = only.filter((n) => !scenarioNames.includes(n as ScenarioName))
if (unknown.length) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; choose from ${scenarioNames.join(', ')}\n`)
  process.exit(2)
}
const selected = scenarioNames.filter((n) => only.includes(n))
const mode: Settings['mode'] = args.quick ? 'quick' : args.long ? 'long' : 'default'
const settings = settingsFor(mode)
settings.profile = args.profile
if (args.rates) settings.saga.rates = args.rates.split(',').map(Number).filter((n) => n > 0)
if (args.strategies) settings.saga.strategies = args.strategies.split(',').map((s) => s.trim()).filter((s): s is 'debezium' | 'outbox' => s === 'debezium' || s === 'outbox')

const started = new Date()
const stamp = started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
const resultsDir = `${root}bench/results`
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`

let interrupted = false
process.on('SIGINT', () => {
  if (interrupted) process.exit(130)
  interrupted = true
  log('\ninterrupted: putting the stack back as it was (Ctrl-C again to leave it)…')
  void runInterruptHooks().finally(() => process.exit(130))
})

async function main() {
  log(`TrackOps bench (${mode}): ${selected.join(', ')}`)
  await waitForServices()
  if (args['wait-quiet']) {
    const deadline = Date.now() + Number(args['wait-quiet']) * 60_000
    const cores = availableParallelism()
    for (;;) {
      const [one = 0] = await readLoadAverage()
      if (one <= cores || Date.now() > deadline) {
        log(`  load average ${one} (${one <= cores ? 'quiet enough' : 'still busy; measuring anyway'})`)
        break
      }
      progress('waiting for a quieter machine', (Date.now() - (deadline - Number(args['wait-quiet']) * 60_000)) / 1000, Number(args['wait-quiet']) * 60, `load average ${one} > ${cores}`)
      await new Promise((r) => setTimeout(r, 5_000))
    }
  }
  const loadStart = await readLoadAverage()
  const env = await describeEnvironment()
  log(`  ${env.machine.cores} cores (${env.machine.cpuModel}), ${env.machine.memoryGiB} GiB; load average ${loadStart.join(' / ')}`)
  log(`  node ${env.versions.node}, PostgreSQL ${env.versions.postgresql}, Kafka ${env.versions['kafka broker']}, ${env.versions.debezium}, Redis ${env.versions.redis}`)
  const products = await ensureProducts(settings.products)
  const baselineSeconds = mode === 'quick' ? 2 : 8
  log(`  idle baseline: sampling the stack for ${baselineSeconds} s with no bench load`)
  const sampler = sampleResources()
  await new Promise((r) => setTimeout(r, baselineSeconds * 1000))
  const baseline = await sampler.stop()
  const ctx: ScenarioContext = { settings, products, baseline, artefactPrefix: `${resultsDir}/${stamp}` }

  const results: ScenarioResult[] = []
  for (const name of selected) {
    const t = Date.now()
    log(`\n== ${name} ==`)
    try {
      results.push(await scenarios[name](ctx))
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      log(`  ! ${name} failed: ${message}`)
      results.push({ name, startedAt: new Date(t).toISOString(), seconds: (Date.now() - t) / 1000, checks: [], findings: [], resources: {}, charts: {}, markdown: `## ${name}\n\n**The scenario failed:** \`${(error instanceof Error ? error.message : String(error)).replace(/`/g, "'")}\``, data: null, error: message })
    }
    log(`  ${name} took ${((Date.now() - t) / 1000).toFixed(0)} s`)
  }
  const loadEnd = await readLoadAverage()
  await write(results, env, loadStart, loadEnd, baseline)
  return results.some((r) => r.error) ? 1 : 0
}

function renderMarkdown(results: ScenarioResult[], env: Environment, loadStart: number[], loadEnd: number[], baseline: ResourceReport, chartPath: (scenario: string, key: string) => string): string {
  const checks: Check[] = results.flatMap((r) => r.checks)
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1)
  const phases = results.flatMap((r) => Object.values(r.resources))
  const seconds = phases.reduce((n, p) => n + p.seconds, 0)
  const otherCores = seconds ? phases.reduce((n, p) => n + p.machine.otherCores * p.seconds, 0) / seconds : null
  const busy = seconds ? phases.reduce((n, p) => n + p.machine.cpuBusyPct * p.seconds, 0) / seconds : null
  const body = results.map((r) => r.markdown.replace(/CHART:(\w+)/g, (_, key: string) => chartPath(r.name, key))).join('\n\n')
  return [
    `# TrackOps benchmark — ${started.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
    '',
    `\`${command}\` (${mode} mode) took ${minutes} min on ${env.git}. Load average (1/5/15 min) ${loadStart.join(' / ')} at the start, ${loadEnd.join(' / ')} at the end — ` +
      `anything else running on the machine (other engineers' tests) competes for the same ${env.machine.cores} cores, so compare ratios rather than absolute figures across runs. ` +
      (otherCores !== null ? `While the scenarios measured, the machine's CPU was ${busy?.toFixed(0)} % busy and processes outside the stack and the bench used **${otherCores.toFixed(2)} of ${env.machine.cores} cores** on average. ` : '') +
      `How to read this: [bench/README.md](${chartPath('', 'README')}).`,
    '',
    '## Summary',
    '',
    table(
      ['scenario', 'measure', 'value', 'ceiling (same run)', 'ratio', 'target', 'met'],
      checks.map((c) => [c.scenario, c.what, c.value, c.ceiling ?? '—', c.ratio ?? '—', c.target, verdict(c.met)]),
    ),
    ...results.filter((r) => r.error).map((r) => `\n**${r.name} failed**: see its section.`),
    '',
    '## The stack at rest',
    '',
    'Sampled before any scenario, with no bench load: what each process uses anyway (Kafka, Connect polling, heartbeats, consumers polling), subtracted from the per-order CPU figures below.',
    '',
    resourcesTable({ 'idle baseline': baseline }),
    '## Machine, versions, settings',
    '',
    table(['', ''], [
      ['CPU', `${env.machine.cores} × ${env.machine.cpuModel}`],
      ['memory', `${env.machine.memoryGiB} GiB`],
      ['kernel', env.machine.kernel],
      ...Object.entries(env.versions).map(([k, v]) => [k, v]),
      ...Object.entries(env.services).map(([k, v]) => [`service ${k}`, v]),
      ['PostgreSQL settings', Object.entries(env.postgres).map(([k, v]) => `${k}=${v}`).join(', ')],
      ['bench settings', `\`${JSON.stringify({ ...settings, mode: undefined })}\``],
    ]),
    '',
    body,
    '',
  ].join('\n')
}

async function write(results: ScenarioResult[], env: Environment, loadStart: number[], loadEnd: number[], baseline: ResourceReport) {
  await mkdir(resultsDir, { recursive: true })
  const charts: { scenario: string; key: string; file: string; svg: string }[] = results.flatMap((r) => Object.entries(r.charts).map(([key, c]) => ({ scenario: r.name, key, file: `${r.name}${key === 'latency' ? '' : `-${key}`}.svg`, svg: c.svg })))
  for (const c of charts) await writeFile(`${resultsDir}/${stamp}-${c.file}`, c.svg)
  const fileOf = (scenario: string, key: string) => charts.find((c) => c.scenario === scenario && c.key === key)?.file ?? 'missing.svg'
  const md = renderMarkdown(results, env, loadStart, loadEnd, baseline, (scenario, key) => (key === 'README' ? '../README.md' : `${stamp}-${fileOf(scenario, key)}`))
  await writeFile(`${resultsDir}/${stamp}.md`, md)
  const json = { startedAt: started.toISOString(), command, mode, settings, environment: env, load: { start: loadStart, end: loadEnd }, baseline, results: results.map((r) => ({ ...r, markdown: undefined, charts: Object.keys(r.charts) })) }
  await writeFile(`${resultsDir}/${stamp}.json`, JSON.stringify(json, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v === Infinity ? 'Infinity' : v), 2))
  const full = selected.length === scenarioNames.length && mode !== 'quick'
  if (full || args.report) {
    await mkdir(`${root}bench/charts`, { recursive: true })
    for (const c of charts) await copyFile(`${resultsDir}/${stamp}-${c.file}`, `${root}bench/charts/${c.file}`)
    await writeFile(`${root}bench/REPORT.md`, renderMarkdown(results, env, loadStart, loadEnd, baseline, (scenario, key) => (key === 'README' ? 'README.md' : `charts/${fileOf(scenario, key)}`)))
  }

  log('\n== summary ==')
  for (const c of results.flatMap((r) => r.checks)) {
    log(`  ${c.met === null ? '  n/a ' : c.met ? '  MET ' : 'MISSED'}  ${c.what}: ${c.value}${c.ceiling ? `  | ceiling ${c.ceiling}` : ''}${c.ratio !== undefined && c.ratio !== null ? `  | ratio ${c.ratio}` : ''}  (target ${c.target})`)
  }
  for (const r of results.filter((x) => x.error)) log(`  FAILED  ${r.name}`)
  log(`\nreport: bench/results/${stamp}.md${full || args.report ? ' (copied to bench/REPORT.md)' : ' (partial or quick run: bench/REPORT.md left as it was; --report copies it)'}`)
  log(`took ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min`)
}

main()
  .then(async (code) => {
    await closePools()
    process.exit(code)
  })
  .catch(async (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    await runInterruptHooks().catch(() => undefined)
    await closePools()
    process.exit(1)
  })
