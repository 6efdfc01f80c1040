// npm run soak [-- --minutes N] [--rate R] [--reads R] [--sample-seconds S] [--report]
//
// A steady mixed load on the running stack for N minutes (default 60), watched all along; writes
// bench/results/soak-<timestamp>.{md,json} with SVG charts, and for a run of 60 minutes or more (or with --report)
// bench/soak/REPORT.md. Exits 1 when something that must hold did not. See bench/README.md.
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { closePools } from './lib/pg.ts'
import { log } from './lib/progress.ts'
import { runSoak, soakDefaults, type SoakOptions } from './lib/soak.ts'
import { soakCharts, soakMarkdown, trendsOf } from './lib/soak-report.ts'
import { root, waitForServices } from './lib/stack.ts'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    rate: { type: 'string' },
    reads: { type: 'string' },
    'sample-seconds': { type: 'string' },
    report: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})

if (args.help) {
  process.stdout.write(`npm run soak [-- options]
  --minutes N         how long the load runs (default ${soakDefaults.minutes})
  --rate R            orders per second (default ${soakDefaults.rate}); choose one the system holds (bench/REPORT.md)
  --reads R           operator reads per second (default ${soakDefaults.readsPerSecond})
  --sample-seconds S  how often the stack is sampled (default ${soakDefaults.sampleSeconds})
  --report            copy the report to bench/soak/REPORT.md even when shorter than 60 minutes
`)
  process.exit(0)
}

const positive = (name: string, value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, not "${value}"\n`)
    process.exit(2)
  }
  return n
}

const options: SoakOptions = {
  ...soakDefaults,
  minutes: positive('minutes', args.minutes, soakDefaults.minutes),
  rate: positive('rate', args.rate, soakDefaults.rate),
  readsPerSecond: positive('reads', args.reads, soakDefaults.readsPerSecond),
  sampleSeconds: positive('sample-seconds', args['sample-seconds'], soakDefaults.sampleSeconds),
}

await waitForServices()
log(`soak: ${options.rate} orders/s and ${options.readsPerSecond} reads/s for ${options.minutes} minutes, sampling every ${options.sampleSeconds} s`)
const result = await runSoak(options)
await closePools()

const stamp = result.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
const resultsDir = `${root}bench/results`
await mkdir(resultsDir, { recursive: true })
const charts = soakCharts(result)
const file = (key: string) => `soak-${key}.svg`
for (const [key, c] of Object.entries(charts)) await writeFile(`${resultsDir}/${stamp}-${file(key)}`, c.svg)
await writeFile(`${resultsDir}/soak-${stamp}.md`, soakMarkdown(result, (key) => `${stamp}-${file(key)}`))
await writeFile(`${resultsDir}/soak-${stamp}.json`, JSON.stringify({ options: result.options, startedAt: result.startedAt, checks: result.checks, trends: trendsOf(result), samples: result.samples, errorLogs: result.errorLogs, notFinal: result.notFinal }, null, 2))
const copied = options.minutes >= 60 || args.report
if (copied) {
  await mkdir(`${root}bench/soak`, { recursive: true })
  for (const key of Object.keys(charts)) await copyFile(`${resultsDir}/${stamp}-${file(key)}`, `${root}bench/soak/${file(key)}`)
  await writeFile(`${root}bench/soak/REPORT.md`, soakMarkdown(result, file))
}

for (const c of result.checks) log(`  ${c.ok ? '✓' : '✗'} ${c.what}: ${c.detail}`)
for (const t of trendsOf(result)) log(`  ${t.flat ? '=' : '↗'} ${t.measure}: ${t.first} → ${t.last} ${t.unit}, ${t.perHour >= 0 ? '+' : ''}${t.perHour} ${t.unit}/h`)
log(`\nreport: bench/results/soak-${stamp}.md${copied ? ' (copied to bench/soak/REPORT.md)' : ''}`)
process.exit(result.checks.every((c) => c.ok) ? 0 : 1)
