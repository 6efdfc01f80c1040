// The running stack as the bench sees it: service URLs and health, tokens, process ids and environments, the
// bench's products, and switching the publishing strategy (always back to what was running before).
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { testEnv, tokenFor } from '../../tests/support/env.ts'
import { log, sleep } from './progress.ts'
import { adminSql } from './pg.ts'

const run = promisify(execFile)
export { testEnv, tokenFor }

export const root = new URL('../../', import.meta.url).pathname
export type ServiceName = 'orders' | 'inventory' | 'payments' | 'relay'
export const services: ServiceName[] = ['orders', 'inventory', 'payments', 'relay']
export const url = (s: ServiceName) => testEnv.urls[s]

/** Bench customers' ids start with this, so their orders can be told apart from anybody else's. */
export const BENCH_CUSTOMER_PREFIX = 'be4c'
export const benchCustomerId = () => `${BENCH_CUSTOMER_PREFIX}${randomUUID().slice(4)}`
/** The customer of rows the bench writes directly with SQL (and deletes afterwards). */
export const MARKER_CUSTOMER = 'be4c0000-0000-4000-8000-00000000c01d'

export const address = { streetAddress: '12 Test Street', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US', phoneNumber: '+1 555 0100' }

export interface Customer {
  customerId: string
  authorization: string
}

/** Customers with their own tokens: the rate limit is per subject, as it is for real clients. */
export async function customers(n: number): Promise<Customer[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const customerId = benchCustomerId()
      return { customerId, authorization: `Bearer ${await tokenFor('customer', customerId)}` }
    }),
  )
}

/** Operator tokens with distinct subjects, for reads at rates above one client's limit. */
export async function operatorTokens(n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => `Bearer ${await tokenFor('operator', randomUUID())}`))
}

export async function adminToken() {
  return `Bearer ${await tokenFor('admin')}`
}

export async function getJson<T = unknown>(target: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(target, { ...init, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  let body: unknown = text
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T }
}

/** Waits until every service answers its health endpoint with 200. */
export async function waitForServices(names: ServiceName[] = services, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs
  let announced = false
  for (;;) {
    const down: string[] = []
    for (const s of names) {
      const r = await getJson(`${url(s)}/actuator/health`).catch(() => ({ status: 0, body: null }))
      if (r.status !== 200) down.push(`${s} (${r.status || 'no answer'})`)
    }
    if (down.length === 0) return
    if (Date.now() > deadline) throw new Error(`services not healthy after ${timeoutMs / 1000} s: ${down.join(', ')}`)
    if (!announced) log(`waiting for services to answer: ${down.join(', ')}`)
    announced = true
    await sleep(2_000)
  }
}

// --- processes ----------------------------------------------------------------------------------------------------

async function pidFromFile(name: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(`${root}.stack/run/${name}.pid`, 'utf8')).trim())
    process.kill(pid, 0)
    return pid
  } catch {
    return null
  }
}

const portOf = (name: string): number | null => {
  const u = (testEnv.urls as Record<string, string | undefined>)[name]
  return u ? Number(new URL(u).port) : null
}

/** The process listening on a TCP port of this machine (ss), or null. */
export async function listenerPid(port: number): Promise<number | null> {
  try {
    const { stdout } = await run('ss', ['-Hltnp', `sport = :${port}`])
    const m = /pid=(\d+)/.exec(stdout)
    return m?.[1] ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** A service's process: the one listening on its port (pid files go stale when a service is started by hand). */
export async function pidOf(name: string): Promise<number | null> {
  const port = portOf(name)
  return (port ? await listenerPid(port) : null) ?? (await pidFromFile(name))
}

/** scripts/services.sh can restart a service only when its pid file names the process that serves the port. */
export async function restartable(name: ServiceName): Promise<string | null> {
  const port = portOf(name) as number
  const listening = await listenerPid(port)
  const fromFile = await pidFromFile(name)
  if (listening !== null && listening !== fromFile) {
    return `${name} on :${port} is process ${listening}, but .stack/run/${name}.pid names ${fromFile ?? 'no live process'}: it was not started by scripts/services.sh, so the bench cannot restart it`
  }
  return null
}

/** The environment a process was started with (not what it loaded later from --env-file). */
export async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8')
  const env: Record<string, string> = {}
  for (const entry of raw.split('\0')) {
    const i = entry.indexOf('=')
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1)
  }
  return env
}

async function dotenv(): Promise<Record<string, string>> {
  try {
    const env: Record<string, string> = {}
    for (const line of (await readFile(`${root}.env`, 'utf8')).split('\n')) {
      const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line)
      if (m?.[1]) env[m[1]] = (m[2] ?? '').replace(/^['"]|['"]$/g, '')
    }
    return env
  } catch {
    return {}
  }
}

export type Strategy = 'debezium' | 'outbox'

/** The strategy the relay runs with: its start environment, else .env, else the default. */
export async function runningStrategy(): Promise<Strategy> {
  const pid = (await pidOf('relay')) ?? (await pidOf('orders'))
  const fromProcess = pid ? (await environOf(pid).catch(() => ({}) as Record<string, string>)).EVENT_PUBLISHING_STRATEGY : undefined
  const value = fromProcess ?? (await dotenv()).EVENT_PUBLISHING_STRATEGY ?? 'debezium'
  return value === 'outbox' ? 'outbox' : 'debezium'
}

/** Restarts one service through scripts/services.sh with exactly this environment. */
export async function restartService(name: ServiceName, env: Record<string, string>) {
  await run('bash', ['scripts/services.sh', 'restart', name], { cwd: root, env, timeout: 240_000 })
}

// --- Kafka Connect ------------------------------------------------------------------------------------------------

export const outboxConnectors = ['trackops-orders-outbox', 'trackops-inventory-outbox', 'trackops-payments-outbox']

export async function connectorStates(): Promise<Record<string, string>> {
  const r = await getJson<Record<string, { status?: { connector?: { state?: string } } }>>(`${testEnv.connectUrl}/connectors?expand=status`)
  if (r.status !== 200) throw new Error(`Kafka Connect answered ${r.status}`)
  return Object.fromEntries(Object.entries(r.body).map(([name, v]) => [name, v.status?.connector?.state ?? 'UNKNOWN']))
}

async function connector(name: string, action: 'pause' | 'resume') {
  const res = await fetch(`${testEnv.connectUrl}/connectors/${name}/${action}`, { method: 'PUT', signal: AbortSignal.timeout(10_000) })
  if (res.status >= 300) throw new Error(`${action} ${name}: ${res.status} ${await res.text()}`)
}

async function waitForConnectorState(names: string[], state: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const states = await connectorStates()
    if (names.every((n) => states[n] === state)) return
    if (Date.now() > deadline) throw new Error(`connectors not ${state} after ${timeoutMs / 1000} s: ${JSON.stringify(states)}`)
    await sleep(500)
  }
}

// --- publishing strategy --------------------------------------------------------------------------------------------

export interface StackSnapshot {
  strategy: Strategy
  connectors: Record<string, string>
  envs: Partial<Record<ServiceName, Record<string, string>>>
}

export async function snapshot(): Promise<StackSnapshot> {
  const envs: StackSnapshot['envs'] = {}
  for (const s of services) {
    const pid = await pidOf(s)
    if (pid) envs[s] = await environOf(pid)
  }
  return { strategy: await runningStrategy(), connectors: await connectorStates(), envs }
}

/**
 * Runs the services with `target`. Under outbox the Debezium outbox connectors are paused first (otherwise both
 * publish); under debezium they are resumed. Services keep the rest of the environment they were started with.
 */
// What the bench changed, so that restore() puts back only that (and never restarts what others started).
const touchedServices = new Set<ServiceName>()
const touchedConnectors = new Set<string>()

export async function switchStrategy(target: Strategy, base: StackSnapshot) {
  const present = outboxConnectors.filter((c) => c in base.connectors)
  for (const c of present) touchedConnectors.add(c)
  if (target === 'outbox') {
    for (const c of present) await connector(c, 'pause')
    await waitForConnectorState(present, 'PAUSED')
  } else {
    for (const c of present) await connector(c, 'resume')
    await waitForConnectorState(present, 'RUNNING')
  }
  for (const s of services) {
    const env = { ...(base.envs[s] ?? process.env), EVENT_PUBLISHING_STRATEGY: target } as Record<string, string>
    log(`  restarting ${s} with EVENT_PUBLISHING_STRATEGY=${target}`)
    touchedServices.add(s)
    await restartService(s, env)
  }
  await waitForServices()
}

/** Puts back what switchStrategy changed: the connector states and each restarted service's start environment. */
export async function restore(base: StackSnapshot) {
  const now = await snapshot()
  for (const name of touchedConnectors) {
    const state = base.connectors[name]
    if (now.connectors[name] === state) continue
    if (state === 'RUNNING') await connector(name, 'resume')
    if (state === 'PAUSED') await connector(name, 'pause')
  }
  touchedConnectors.clear()
  for (const s of services) {
    const started = base.envs[s]
    if (!touchedServices.has(s) || !started || JSON.stringify(started) === JSON.stringify(now.envs[s])) continue
    // A service started without the variable read it from .env (as this process did) or used the default. It is
    // passed explicitly: the supervisor keeps a restarted process's variables, so leaving it out would keep `outbox`.
    const strategy = started.EVENT_PUBLISHING_STRATEGY ?? process.env.EVENT_PUBLISHING_STRATEGY ?? 'debezium'
    log(`  restoring ${s} (EVENT_PUBLISHING_STRATEGY=${strategy})`)
    await restartService(s, { ...started, EVENT_PUBLISHING_STRATEGY: strategy })
  }
  touchedServices.clear()
  await waitForServices()
}

// --- products --------------------------------------------------------------------------------------------------------

export const BENCH_STOCK = 10_000_000

/**
 * The bench's products (BENCH-LOAD-01 …), created once with large stock and reused by later runs; returns when the
 * orders' catalogue replica holds all of them. Orders spread over several products, as real ones do, so stock
 * reservations do not all queue on one inventory row.
 */
export async function ensureProducts(count: number): Promise<string[]> {
  const token = await adminToken()
  const ids = Array.from({ length: count }, (_, i) => `BENCH-LOAD-${String(i + 1).padStart(2, '0')}`)
  for (const productId of ids) {
    const got = await getJson<{ availableQuantity?: number }>(`${url('inventory')}/api/inventory/items/${productId}`, { headers: { authorization: token } })
    if (got.status === 200 && (got.body.availableQuantity ?? 0) >= BENCH_STOCK / 10) continue
    if (got.status === 200) {
      const r = await getJson(`${url('inventory')}/api/inventory/items/${productId}/adjustments`, {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ quantity: BENCH_STOCK, reason: 'RECEIVED', note: 'bench restock' }),
      })
      if (r.status !== 201) throw new Error(`restocking ${productId}: ${r.status} ${JSON.stringify(r.body)}`)
      continue
    }
    const r = await getJson(`${url('inventory')}/api/inventory/items`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json' },
      body: JSON.stringify({ productId, productName: `Bench load product ${productId.slice(-2)}`, availableQuantity: BENCH_STOCK, unitPrice: 10, category: 'BENCH', minStockLevel: 0 }),
    })
    if (r.status !== 201) throw new Error(`creating ${productId}: ${r.status} ${JSON.stringify(r.body)}`)
  }
  const deadline = Date.now() + 120_000
  for (;;) {
    const rows = await adminSql('trackops_orders', `SELECT count(*)::int AS n FROM catalog_products WHERE product_id = ANY($1) AND is_active`, [ids])
    if ((rows[0]?.n as number) === ids.length) return ids
    if (Date.now() > deadline) throw new Error('bench products did not reach the orders catalogue replica within 120 s (is the inventory CDC connector running?)')
    await sleep(500)
  }
}

export const orderBody = (customerId: string, productId: string) => ({ customerId, address, items: [{ productId, quantity: 1 }] })

/**
 * Waits until the sagas of the bench's customers (started in the last 15 minutes) stop running, so one phase's
 * backlog does not load the next; gives up when the count stops falling for 15 s or after `timeoutMs`.
 */
export async function drainBenchSagas(timeoutMs = 120_000, onWait?: (open: number, waitedS: number) => void): Promise<{ open: number; seconds: number }> {
  const started = Date.now()
  let best = Infinity
  let bestAt = Date.now()
  for (;;) {
    const rows = await adminSql(
      'trackops_orders',
      `SELECT count(*)::int AS n FROM saga_instances WHERE status IN ('RUNNING', 'COMPENSATING') AND customer_id::text LIKE $1 AND created_at > now() - interval '15 minutes'`,
      [`${BENCH_CUSTOMER_PREFIX}%`],
    )
    const open = rows[0]?.n as number
    const seconds = (Date.now() - started) / 1000
    if (open === 0 || Date.now() - started > timeoutMs) return { open, seconds }
    if (open < best) {
      best = open
      bestAt = Date.now()
    } else if (Date.now() - bestAt > 15_000) return { open, seconds }
    onWait?.(open, seconds)
    await sleep(500)
  }
}

// --- putting things back on Ctrl-C ----------------------------------------------------------------------------------

const interruptHooks = new Set<() => Promise<unknown>>()

/** Registers work that must run if the bench is interrupted (restoring the stack); returns the unregister. */
export function onInterrupt(hook: () => Promise<unknown>): () => void {
  interruptHooks.add(hook)
  return () => interruptHooks.delete(hook)
}

export async function runInterruptHooks() {
  for (const hook of [...interruptHooks].reverse()) {
    try {
      await hook()
    } catch (error) {
      log(`  ! cleanup failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  interruptHooks.clear()
}
