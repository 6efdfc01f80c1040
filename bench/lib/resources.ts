// CPU and memory of the stack's processes while a scenario runs, from /proc: CPU = utime+stime deltas, peak RSS =
// the largest VmRSS sampled (VmHWM is the process's lifetime peak, reported too). Pids are re-read every sample,
// so a service restarted mid-scenario is followed. Also scrapes the Node services' event-loop lag.
import { readdir, readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { root, url, type ServiceName } from './stack.ts'
import { pidOf } from './processes.ts'

const CLK_TCK = 100
const SAMPLE_MS = 500
const nodeServices: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']

export interface ProcessUsage {
  name: string
  pids: number[]
  /** Average CPU over the scenario, in cores (1.0 = one core busy). */
  cpuAvgCores: number
  /** Highest CPU over any one-second window, in cores. */
  cpuPeakCores: number
  rssPeakMiB: number
  hwmMiB: number
}

export interface ResourceReport {
  seconds: number
  processes: ProcessUsage[]
  /**
   * Whole machine: busy share of all cores (user, system, irq, softirq, steal), iowait, the cores taken by interrupt
   * handling and by the hypervisor (steal), and the cores used by processes not listed (other work).
   */
  machine: { cpuBusyPct: number; iowaitPct: number; cores: number; otherCores: number; irqCores: number; stealCores: number }
  /** Largest `nodejs_eventloop_lag_p99_seconds` / max seen in scrapes, per Node service (ms). */
  eventLoopLagMs: Record<string, { p99Max: number | null; max: number | null }>
  loadAverage: { start: number[]; end: number[] }
}

/** Proportional set size: shared pages split between the processes sharing them, so a sum over processes is right. */
async function readPssKiB(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null)
  const m = text ? /^Pss:\s+(\d+)/m.exec(text) : null
  return m?.[1] ? Number(m[1]) : null
}

async function readStat(pid: number, withMemory: boolean): Promise<{ ticks: number; startTicks: number; rssKiB: number; hwmKiB: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime is field 14, stime 15, starttime (ticks after boot) 22.
    const ticks = Number(fields[11]) + Number(fields[12])
    const startTicks = Number(fields[19])
    if (!withMemory) return { ticks, startTicks, rssKiB: 0, hwmKiB: 0 }
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
    return { ticks, startTicks, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') }
  } catch {
    return null
  }
}

async function commOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim()
}

let discovered: { at: number; found: Map<string, number[]> } | null = null

/**
 * name → pids: the stack's processes (found by port, else pid file), PostgreSQL (every server process), Redis, and
 * the bench with its children. Looked up every 5 s, not every sample: finding them costs CPU (ss, /proc scans).
 */
async function discover(): Promise<Map<string, number[]>> {
  if (discovered && Date.now() - discovered.at < 5_000) return discovered.found
  const found = new Map<string, number[]>()
  const dir = `${root}.stack/run`
  const names = new Set(['orders', 'inventory', 'payments', 'relay', 'console'])
  // <name>-<n>.pid are the supervisor's own files behind the <name>.pid links
  for (const f of await readdir(dir).catch(() => [] as string[])) if (f.endsWith('.pid') && !/-\d+\.pid$/.test(f)) names.add(f.slice(0, -4))
  for (const name of names) {
    const pid = await pidOf(name)
    if (pid && (await commOf(pid))) found.set(name, [pid])
  }
  const postgres: number[] = []
  const redis: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const comm = await commOf(Number(entry))
    if (comm === 'postgres' || comm.startsWith('postgres:')) postgres.push(Number(entry))
    else if (comm === 'redis-server') redis.push(Number(entry))
  }
  if (postgres.length) found.set('postgresql (all)', postgres)
  if (redis.length && !found.has('redis')) found.set('redis', redis)
  const bench = [process.pid]
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === process.pid) bench.push(Number(entry))
  }
  found.set('bench (this process + children)', bench)
  discovered = { at: Date.now(), found }
  return found
}

/** Resident memory of each of the stack's processes now, in MiB: VmRSS, or PSS summed over a server's processes. */
export async function processMemoryMiB(): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [name, pids] of await discover()) {
    if (pids.includes(process.pid)) continue
    let kib = 0
    for (const pid of pids) {
      const st = await readStat(pid, true)
      if (st) kib += pids.length > 1 ? ((await readPssKiB(pid)) ?? st.rssKiB) : st.rssKiB
    }
    out[name] = Math.round(kib / 1024)
  }
  return out
}

async function machineTicks(): Promise<{ busy: number; iowait: number; total: number; irq: number; steal: number; processes: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? ''
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v
  const total = user + nice + system + idle + iowait + irq + softirq + steal
  return { busy: total - idle - iowait, iowait, total, irq: irq + softirq, steal, processes: user + nice + system }
}

async function scrapeLag(service: ServiceName): Promise<{ p99: number | null; max: number | null }> {
  try {
    const res = await fetch(`${url(service)}/actuator/prometheus`, { signal: AbortSignal.timeout(2_000) })
    const text = await res.text()
    const metric = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+-]+)`, 'm').exec(text)
      return m?.[1] ? Number(m[1]) * 1000 : null
    }
    return { p99: metric('nodejs_eventloop_lag_p99_seconds'), max: metric('nodejs_eventloop_lag_max_seconds') }
  } catch {
    return { p99: null, max: null }
  }
}

export async function readLoadAverage(): Promise<number[]> {
  const text = await readFile('/proc/loadavg', 'utf8')
  return text.split(' ').slice(0, 3).map(Number)
}

/** Starts sampling; `stop()` returns the usage over the whole period. */
export function sampleResources() {
  const startedAt = Date.now()
  discovered = null
  let startedAtTicks = Infinity
  // per name: per pid last ticks; accumulated ticks; windows for the peak
  const state = new Map<string, { last: Map<number, number>; ticks: number; pids: Set<number>; rssPeak: number; hwm: number; window: { t: number; ticks: number }[]; peak: number }>()
  const lag = new Map<string, { p99Max: number | null; max: number | null }>()
  let stopped = false
  let machineStart: Awaited<ReturnType<typeof machineTicks>> | null = null
  let loadStart: number[] = []

  let samples = 0
  async function sample(now: number, final = false) {
    // Memory every 5th sample (and at the end): PSS walks each process's page tables, which costs real CPU for
    // PostgreSQL's dozens of backends; CPU every sample.
    const withMemory = final || samples++ % 5 === 0
    for (const [name, pids] of await discover()) {
      let s = state.get(name)
      if (!s) {
        s = { last: new Map(), ticks: 0, pids: new Set(), rssPeak: 0, hwm: 0, window: [], peak: 0 }
        state.set(name, s)
      }
      let rss = 0
      for (const pid of pids) {
        const st = await readStat(pid, withMemory)
        if (!st) continue
        const before = s.last.get(pid)
        if (before !== undefined) s.ticks += Math.max(0, st.ticks - before)
        // A process born while sampling (a pgbench backend, say) counts from its birth, not from when it was seen.
        else if (st.startTicks >= startedAtTicks) s.ticks += st.ticks
        s.last.set(pid, st.ticks)
        s.pids.add(pid)
        if (withMemory) rss += pids.length > 1 ? ((await readPssKiB(pid)) ?? st.rssKiB) : st.rssKiB
        s.hwm = Math.max(s.hwm, st.hwmKiB)
      }
      s.rssPeak = Math.max(s.rssPeak, rss)
      s.window.push({ t: now, ticks: s.ticks })
      while (s.window.length > 1 && now - (s.window[0] as { t: number }).t > 1_000) {
        const first = s.window[0] as { t: number; ticks: number }
        const span = (now - first.t) / 1000
        if (span >= 0.9) s.peak = Math.max(s.peak, (s.ticks - first.ticks) / CLK_TCK / span)
        s.window.shift()
      }
    }
  }

  const loop = (async () => {
    startedAtTicks = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * CLK_TCK
    machineStart = await machineTicks()
    loadStart = await readLoadAverage()
    let n = 0
    while (!stopped) {
      const t = Date.now()
      await sample(t).catch(() => undefined)
      if (n++ % 10 === 0) {
        await Promise.all(
          nodeServices.map(async (svc) => {
            const l = await scrapeLag(svc)
            const prev = lag.get(svc) ?? { p99Max: null, max: null }
            const mx = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b))
            lag.set(svc, { p99Max: mx(prev.p99Max, l.p99), max: mx(prev.max, l.max) })
          }),
        )
      }
      await new Promise((r) => setTimeout(r, Math.max(0, SAMPLE_MS - (Date.now() - t))))
    }
  })()

  return {
    async stop(): Promise<ResourceReport> {
      stopped = true
      await loop
      await sample(Date.now(), true).catch(() => undefined)
      const seconds = (Date.now() - startedAt) / 1000
      const m1 = await machineTicks()
      const m0 = machineStart ?? m1
      const total = Math.max(1, m1.total - m0.total)
      const r2 = (v: number) => Math.round(v * 100) / 100
      const cores = availableParallelism()
      const processCores = ((m1.processes - m0.processes) / total) * cores
      const listedCores = [...state.values()].reduce((n, s) => n + s.ticks / CLK_TCK / seconds, 0)
      return {
        seconds: r2(seconds),
        processes: [...state]
          .map(([name, s]) => ({
            name,
            pids: [...s.pids].slice(0, 5),
            cpuAvgCores: r2(s.ticks / CLK_TCK / seconds),
            cpuPeakCores: r2(s.peak),
            rssPeakMiB: Math.round(s.rssPeak / 1024),
            hwmMiB: Math.round(s.hwm / 1024),
          }))
          .sort((a, b) => b.cpuAvgCores - a.cpuAvgCores),
        machine: { cpuBusyPct: r2(((m1.busy - m0.busy) / total) * 100), iowaitPct: r2(((m1.iowait - m0.iowait) / total) * 100), cores, otherCores: r2(Math.max(0, processCores - listedCores)), irqCores: r2(((m1.irq - m0.irq) / total) * cores), stealCores: r2(((m1.steal - m0.steal) / total) * cores) },
        eventLoopLagMs: Object.fromEntries([...lag].map(([k, v]) => [k, { p99Max: v.p99Max === null ? null : r2(v.p99Max), max: v.max === null ? null : r2(v.max) }])),
        loadAverage: { start: loadStart, end: await readLoadAverage() },
      }
    },
  }
}
