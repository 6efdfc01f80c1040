// Every metric the dashboard and the alert rules query is exported by something Prometheus scrapes: a panel or an
// alert over a name nobody exports shows "No data" or never fires, and nothing else would tell. Scrapes the running
// services and Kafka Connect's JMX exporter, and reads the `# TYPE` lines too, so a labelled counter that has not been
// incremented yet (prom-client writes its HELP and TYPE lines from start-up) counts as exported.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { testEnv } from '../support/env.ts'

const kit = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra', 'observability')

type Panel = { title: string; targets?: { expr?: string }[]; panels?: Panel[] }
type Use = { name: string; where: string }

/** Series Prometheus makes itself, not any target. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added', 'ALERTS', 'ALERTS_FOR_STATE'])
const KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'inf', 'nan'])

/** Metric names in a PromQL expression: identifiers left once strings, label matchers, ranges, label lists and calls are taken out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/#.*$/gm, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = [...bare.matchAll(/(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((m) => m[1]!)
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase())))]
}

/** The `expr:` of every rule in alerts.yml, one line or a `|` block. */
function ruleExpressions(yaml: string): { alert: string; expr: string }[] {
  const lines = yaml.split('\n')
  const found: { alert: string; expr: string }[] = []
  let alert = ''
  for (const [i, line] of lines.entries()) {
    alert = /^\s*- (?:alert|record):\s*(\S+)/.exec(line)?.[1] ?? alert
    const [, indent = '', value = ''] = /^(\s*)expr:\s*(.*)$/.exec(line) ?? []
    if (!value) continue
    if (!/^[|>]/.test(value)) {
      found.push({ alert, expr: value.replace(/^'(.*)'$|^"(.*)"$/, '$1$2') })
      continue
    }
    const end = lines.findIndex((next, j) => j > i && next.trim() !== '' && next.search(/\S/) <= indent.length)
    found.push({ alert, expr: lines.slice(i + 1, end === -1 ? undefined : end).join('\n') })
  }
  return found
}

function usedMetrics(): Use[] {
  const dashboard = JSON.parse(readFileSync(join(kit, 'grafana-dashboard.json'), 'utf8')) as { panels: Panel[] }
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
  const fromPanels = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr ?? '').map((name) => ({ name, where: `panel "${p.title}"` }))))
  const fromRules = ruleExpressions(readFileSync(join(kit, 'alerts.yml'), 'utf8')).flatMap((r) => metricNames(r.expr).map((name) => ({ name, where: `alert ${r.alert}` })))
  return [...fromPanels, ...fromRules].filter((u) => !SYNTHETIC.has(u.name))
}

/** Names a target exports: its samples' names and its `# TYPE` families (a histogram's family stands for _bucket, _sum, _count). */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>()
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line)
    if (type) {
      const [, family, kind] = type as unknown as [string, string, string]
      names.add(family)
      const suffixes = kind === 'histogram' ? ['_bucket', '_sum', '_count'] : kind === 'summary' ? ['_sum', '_count'] : kind === 'counter' ? ['_total'] : []
      for (const s of suffixes) names.add(family.endsWith(s) ? family : family + s)
      continue
    }
    const sample = /^([A-Za-z_:][\w:]*)[\s{]/.exec(line)
    if (sample) names.add(sample[1]!)
  }
  return names
}

const targets = {
  ...Object.fromEntries(Object.entries(testEnv.urls).map(([service, url]) => [service, `${url}/actuator/prometheus`])),
  'kafka-connect': testEnv.connectMetricsUrl,
}

describe('metrics on the dashboard and in the alert rules', () => {
  it('when the extraction reads PromQL, then it keeps metric names and drops functions, keywords, labels, strings and durations', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (service, le) (rate(a_seconds_bucket{topic=~"trackops_.*",x="$service"}[$__rate_interval]))) / on (service) group_left b_total offset 5m > bool 1e3 and c:rule'),
    ).toEqual(['a_seconds_bucket', 'b_total', 'c:rule'])
    expect(ruleExpressions("  - alert: A\n    expr: x > 1\n  - alert: B\n    expr: |\n      y\n      / z\n    for: 1m\n")).toEqual([
      { alert: 'A', expr: 'x > 1' },
      { alert: 'B', expr: '      y\n      / z' },
    ])
    expect(exportedNames('# TYPE h histogram\n# TYPE c_total counter\ng{a="1"} 2\n')).toEqual(new Set(['h', 'h_bucket', 'h_sum', 'h_count', 'c_total', 'g']))
  })

  it('when every target Prometheus scrapes is read, then each metric named in the dashboard and in alerts.yml is exported by one of them', async () => {
    const exported = new Set<string>()
    const unreachable: string[] = []
    for (const [target, url] of Object.entries(targets)) {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => ({ ok: false, status: String(error) }) as const)
      if (!res.ok || !('text' in res)) {
        unreachable.push(`${target} (${url}): ${res.status}`)
        continue
      }
      for (const name of exportedNames(await res.text())) exported.add(name)
    }
    expect(unreachable, 'targets that did not answer').toEqual([])

    const uses = usedMetrics()
    expect(uses.length).toBeGreaterThan(30)
    const missing = [...new Set(uses.filter((u) => !exported.has(u.name)).map((u) => `${u.name} (${u.where})`))]
    expect(missing, 'metrics queried but exported by no target').toEqual([])
  })
})
