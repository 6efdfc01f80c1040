import type { ResourceReport } from './resources.ts'
import type { ActivityShare } from './pg-activity.ts'
import type { ProfileSummary } from './profile.ts'
import { ms, type Distribution } from './stats.ts'

export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? '—' : String(v).replace(/\|/g, '\\|'))
  return [`| ${headers.join(' | ')} |`, `|${headers.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n')
}

export const pct = (v: number | null | undefined, digits = 0) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)} %`)
export const verdict = (met: boolean | null) => (met === null ? 'n/a' : met ? '**met**' : '**missed**')

export function latencyCells(d: Distribution): string[] {
  return [ms(d.p50), ms(d.p90), ms(d.p99), ms(d.max)]
}

export function resourcesTable(phases: Record<string, ResourceReport>): string {
  const out: string[] = []
  for (const [phase, r] of Object.entries(phases)) {
    out.push(
      `*${phase}* — ${r.seconds} s; machine CPU busy ${r.machine.cpuBusyPct} % of ${r.machine.cores} cores (iowait ${r.machine.iowaitPct} %); interrupts ${r.machine.irqCores} cores, hypervisor steal ${r.machine.stealCores} cores, **processes outside the stack and the bench ${r.machine.otherCores} cores** (other work on the machine); load average ${r.loadAverage.start.join(' / ')} → ${r.loadAverage.end.join(' / ')}`,
    )
    out.push('')
    out.push(
      table(
        ['process', 'CPU avg (cores)', 'CPU peak 1 s (cores)', 'RSS peak (MiB; PSS for process groups)', 'VmHWM (MiB)'],
        r.processes.filter((p) => p.cpuAvgCores > 0 || p.rssPeakMiB > 0).map((p) => [p.name, p.cpuAvgCores.toFixed(2), p.cpuPeakCores.toFixed(2), p.rssPeakMiB, p.hwmMiB]),
      ),
    )
    const lag = Object.entries(r.eventLoopLagMs).filter(([, v]) => v.p99Max !== null)
    if (lag.length) out.push('', `Event-loop lag (largest scraped value): ${lag.map(([k, v]) => `${k} p99 ${ms(v.p99Max)}, max ${ms(v.max)}`).join('; ')}`)
    out.push('')
  }
  return out.join('\n')
}

/** The closing sections of every scenario's report: what the figures showed, then the resources of each phase. */
export function findingsAndResources(findings: string[], resources: Record<string, ResourceReport>): string {
  return ['### Findings', '', ...findings.map((f) => `- ${f}`), '', '### Resources', '', resourcesTable(resources)].join('\n')
}

export function activityTable(shares: ActivityShare[]): string {
  return table(
    ['sessions of', 'samples', 'active (avg)', 'idle in transaction (avg)', 'idle (avg)', 'top waits while active', 'waiting for a lock (avg sessions)'],
    shares.map((s) => [
      s.applicationName,
      s.samples,
      (s.sessions.active ?? 0).toFixed(2),
      (s.sessions['idle in transaction'] ?? 0).toFixed(2),
      (s.sessions.idle ?? 0).toFixed(2),
      Object.entries(s.activeWaits).slice(0, 4).map(([k, v]) => `${k} ${(v * 100).toFixed(0)} %`).join(', '),
      Object.entries(s.lockWaits).slice(0, 2).map(([k, v]) => `${k}: ${v}`).join('; ') || 'none',
    ]),
  )
}

export function profileTables(p: ProfileSummary): string {
  return [
    `CPU profile \`${p.file}\`: ${p.sampledMs} ms of non-idle samples in a ${p.windowMs} ms load window (${pct(p.busyShare)}). V8 samples wall time, so on a contended machine a sample also covers time the thread waited for a core; read the shares, not the milliseconds, as the split of the work.`,
    '',
    table(['who spent the CPU (Node internals and native code charged to the package that called them)', 'ms', 'share'], p.byCaller.map((c) => [c.name, c.ms, pct(c.share, 1)])),
    '',
    table(['where the CPU went (self time)', 'ms', 'share'], p.byCategory.map((c) => [c.name, c.ms, pct(c.share, 1)])),
    '',
    table(['hottest functions (self time)', 'location', 'ms', 'share'], p.topFunctions.map((f) => [f.name, f.where, f.ms, pct(f.share, 1)])),
  ].join('\n')
}
