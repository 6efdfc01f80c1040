// A CPU profile of the orders service under load: restart it with --cpu-prof, drive load, restart it with the
// environment it had (the profile is written when it exits), and summarise self time by package and function.
// Only samples taken while the load ran count: V8 stamps samples with the monotonic clock that
// process.hrtime() reads, so the bench's own clock marks the window.
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { root, waitForServices } from './stack.ts'
import { environOf, pidOf, restartable, restartService } from './processes.ts'
import { log } from './progress.ts'

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  file: string
  windowMs: number
  sampledMs: number
  /** CPU time (excluding idle) as a share of the window: how busy the process was. */
  busyShare: number
  byCategory: { name: string; ms: number; share: number }[]
  /** Self time of Node internals and native code charged to the nearest package or service frame that called it. */
  byCaller: { name: string; ms: number; share: number }[]
  topFunctions: { name: string; where: string; ms: number; share: number }[]
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

function categoryOf(frame: { functionName: string; url: string }): string {
  const { url, functionName } = frame
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(idle)') return '(idle)'
    if (functionName === '(program)') return 'V8/native (program)'
    return `native: ${functionName || '(anonymous)'}`
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm?.[1]) return nm[1]
  if (url.startsWith('node:')) return 'node: internals'
  const pkg = /\/packages\/([^/]+)\//.exec(url)
  if (pkg?.[1]) return `@trackops/${pkg[1]}`
  const svc = /\/services\/([^/]+)\//.exec(url)
  if (svc?.[1]) return `services/${svc[1]}`
  return 'other'
}

export function summarize(profile: CpuProfile, file: string, window?: { startUs: number; endUs: number }): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let t = profile.startTime
  let inWindow = 0
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    if (window && (t < window.startUs || t > window.endUs)) continue
    const delta = profile.timeDeltas[i + 1] ?? 0
    const id = profile.samples[i] as number
    self.set(id, (self.get(id) ?? 0) + delta)
    inWindow++
  }
  if (window && inWindow === 0) return summarize(profile, file)
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const attributed = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)
      if (!n) break
      const c = categoryOf(n.callFrame)
      if (!c.startsWith('node:') && !c.startsWith('native:') && c !== 'other' && c !== 'V8/native (program)') return c
    }
    return categoryOf(byId.get(id)?.callFrame ?? { functionName: '', url: '' })
  }
  const cat = new Map<string, number>()
  const caller = new Map<string, number>()
  const fn = new Map<string, { name: string; where: string; us: number }>()
  let busy = 0
  for (const [id, us] of self) {
    const node = byId.get(id)
    if (!node) continue
    const c = categoryOf(node.callFrame)
    cat.set(c, (cat.get(c) ?? 0) + us)
    if (c === '(idle)') continue
    const a = attributed(id)
    caller.set(a, (caller.get(a) ?? 0) + us)
    busy += us
    const where = node.callFrame.url ? `${node.callFrame.url.replace(`file://${root}`, '').replace(/.*node_modules\//, '')}:${node.callFrame.lineNumber + 1}` : ''
    const key = `${node.callFrame.functionName}|${where}`
    const f = fn.get(key) ?? { name: node.callFrame.functionName || '(anonymous)', where, us: 0 }
    f.us += us
    fn.set(key, f)
  }
  const windowUs = window ? window.endUs - window.startUs : profile.endTime - profile.startTime
  const r = (v: number) => Math.round(v * 1000) / 1000
  return {
    file,
    windowMs: Math.round(windowUs / 1000),
    sampledMs: Math.round(busy / 1000),
    busyShare: r(busy / Math.max(1, windowUs)),
    byCategory: [...cat]
      .filter(([name]) => name !== '(idle)')
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: r(us / Math.max(1, busy)) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 14),
    byCaller: [...caller]
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: r(us / Math.max(1, busy)) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 14),
    topFunctions: [...fn.values()]
      .map((f) => ({ name: f.name, where: f.where, ms: Math.round(f.us / 1000), share: r(f.us / Math.max(1, busy)) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 15),
  }
}

/** Profiles the orders service while `load` runs; the service is restarted twice and left as it was. */
export async function profileOrders(dir: string, load: () => Promise<unknown>, warmup?: () => Promise<unknown>): Promise<ProfileSummary> {
  const blocked = await restartable('orders')
  if (blocked) throw new Error(blocked)
  const pid = await pidOf('orders')
  if (!pid) throw new Error('the orders service is not running')
  const env = await environOf(pid)
  const before = new Set(await readdir(dir).catch(() => [] as string[]))
  let window: { startUs: number; endUs: number }
  try {
    log('  restarting orders with --cpu-prof')
    await restartService('orders', { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim() })
    await waitForServices(['orders'])
    // Let the consumers rejoin and catch up, and the JIT warm up, before the window opens.
    await new Promise((r) => setTimeout(r, 5_000))
    await warmup?.()
    const startUs = monotonicUs()
    await load()
    window = { startUs, endUs: monotonicUs() }
  } finally {
    log('  restarting orders as it was')
    await restartService('orders', env)
    await waitForServices(['orders'])
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
  if (files.length === 0) throw new Error(`no CPU profile was written to ${dir}`)
  const newest = (await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })))).sort((a, b) => b.t - a.t)[0]?.f as string
  const profile = JSON.parse(await readFile(join(dir, newest), 'utf8')) as CpuProfile
  return summarize(profile, join(dir, newest).replace(root, ''), window)
}
