// The observability kit (infra/observability) validates: Prometheus config, alert rules and their unit tests
// (promtool, installed from Debian's `prometheus` package by check.sh when missing), and the Grafana dashboard.
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const kit = join(root, 'infra', 'observability')
const FIVE_MINUTES = 5 * 60_000

type Target = { expr?: string; datasource?: { type?: string; uid?: string } }
type Panel = { id: number; type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: Panel[] }
type Dashboard = { schemaVersion: number; uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query?: unknown }[] } }

const loadDashboard = (): Dashboard => JSON.parse(readFileSync(join(kit, 'grafana-dashboard.json'), 'utf8')) as Dashboard
const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])])
const contentPanels = (d: Dashboard): Panel[] => allPanels(d).filter((p) => p.type !== 'row')

describe('observability kit', () => {
  it(
    'when check.sh runs, then promtool accepts the config, the rules and the alert unit tests and it exits 0',
    () => {
      const run = spawnSync('bash', [join(kit, 'check.sh')], { cwd: root, encoding: 'utf8', timeout: FIVE_MINUTES })
      const output = `${run.stdout}\n${run.stderr}`
      expect(run.error, output).toBeUndefined()
      expect(run.status, output).toBe(0)
      expect(output).toMatch(/SUCCESS: prometheus\.yml is valid prometheus config file syntax/)
      expect(output).toMatch(/Checking alerts\.yml\s+SUCCESS: \d+ rules found/)
      expect(output).toMatch(/Unit Testing:\s+alerts\.test\.yml\s+SUCCESS/)
      expect(output).toMatch(/Checking grafana-dashboard\.json \(queries\)\s+SUCCESS: \d+ rules found/)
      expect(output).not.toMatch(/FAILED/)
    },
    FIVE_MINUTES + 10_000,
  )

  it('when the dashboard is parsed, then it is a schemaVersion 39 dashboard with a Prometheus datasource variable', () => {
    const dashboard = loadDashboard()
    expect(dashboard.schemaVersion).toBe(39)
    expect(dashboard.uid).toBeTruthy()
    const ds = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' })
  })

  it('when the dashboard is parsed, then every panel has a datasource and at least one target with an expression', () => {
    const panels = contentPanels(loadDashboard())
    expect(panels.length).toBeGreaterThan(20)
    const broken = panels
      .filter((p) => p.datasource?.uid !== '${DS_PROMETHEUS}' || !(p.targets ?? []).some((t) => typeof t.expr === 'string' && t.expr.trim() !== ''))
      .map((p) => p.title)
    expect(broken).toEqual([])
    const targetsWithoutExpr = panels.flatMap((p) => (p.targets ?? []).filter((t) => !t.expr?.trim()).map(() => p.title))
    expect(targetsWithoutExpr).toEqual([])
  })

  it('when the dashboard is parsed, then panel ids are unique and every required row is present', () => {
    const dashboard = loadDashboard()
    const ids = allPanels(dashboard).map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)
    expect(rows).toEqual(['Overview', 'Messaging', 'CDC', 'Saga', 'Cache', 'Business', 'Resources'])
  })
})
